package member

import (
	"log/slog"
	"syscall"
	"unicode"
	"unicode/utf8"

	"github.com/go-ldap/ldap/v3"

	"github.com/csclub/ceo/ops"
	"github.com/csclub/ceo/wire/ceopb"
)

// maxProgramLen bounds a program of study: the university directory's
// longest are under 100 characters.
const maxProgramLen = 256

// validProgram reports whether p may be stored as a program: printable
// UTF-8 of at most maxProgramLen bytes ("" removes the program).
func validProgram(p string) bool {
	if len(p) > maxProgramLen || !utf8.ValidString(p) {
		return false
	}
	for _, r := range p {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

func (s *server) program(r *req, in *ceopb.SetProgram) ops.Outcome {
	name, prog := in.GetUsername(), in.GetProgram()
	if ok, o := s.allow(r, "program", name); !ok {
		return o
	}
	if !validProgram(prog) {
		return r.fail(int32(syscall.EINVAL), "a program is printable text of at most %d bytes", maxProgramLen)
	}
	r.attrs = append(r.attrs, slog.String("program", prog))
	u, o := s.lookup(r, name)
	if u == nil {
		return o
	}
	if u.Program == prog {
		r.say(0, "program of %s unchanged", name)
		return ops.OutcomeOK
	}
	w, o := s.writer(r)
	if w == nil {
		return o
	}
	m := ldap.NewModifyRequest(u.DN, nil)
	if prog == "" {
		m.Delete("program", nil)
	} else {
		m.Replace("program", []string{prog})
	}
	if o := s.modify(r, w, "changing the program of "+name, []*ldap.ModifyRequest{m}, nil); o != ops.OutcomeOK {
		return o
	}
	if prog == "" {
		r.say(0, "program of %s removed", name)
	} else {
		r.say(0, "program of %s is now %s", name, prog)
	}
	return ops.OutcomeOK
}
