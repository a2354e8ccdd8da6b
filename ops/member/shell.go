package member

import (
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"syscall"

	"github.com/go-ldap/ldap/v3"

	"github.com/csclub/ceo/ops"
	"github.com/csclub/ceo/wire/ceopb"
)

// Shells reads the shells a member may choose from path (shells_file,
// /etc/shells): absolute paths, no comments, executable on this host.
func Shells(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the list of shells: %w", err)
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || l[0] != '/' || strings.Contains(l, "#") {
			continue
		}
		if st, err := os.Stat(l); err != nil || st.IsDir() || st.Mode().Perm()&0o111 == 0 {
			continue
		}
		out = append(out, l)
	}
	return out, nil
}

func (s *server) shell(r *req, in *ceopb.ChangeShell) ops.Outcome {
	name, sh := in.GetUsername(), in.GetShell()
	if ok, o := s.allow(r, "shell", name); !ok {
		return o
	}
	r.attrs = append(r.attrs, slog.String("shell", ops.Sanitize(sh)))
	file := s.ShellsFile
	if file == "" {
		file = "/etc/shells"
	}
	allowed, err := Shells(file)
	if err != nil {
		s.Log.Error("reading shells failed", "err", err)
		return r.fail(int32(syscall.EIO), "unable to read the list of shells")
	}
	if !slices.Contains(allowed, sh) {
		return r.fail(int32(syscall.EINVAL), "%s is not an allowed shell (see %s)", sh, file)
	}
	u, o := s.lookup(r, name)
	if u == nil {
		return o
	}
	w, o := s.writer(r)
	if w == nil {
		return o
	}
	m := ldap.NewModifyRequest(u.DN, nil)
	m.Replace("loginShell", []string{sh})
	if o := s.modify(r, w, "changing the shell of "+name, []*ldap.ModifyRequest{m}, nil); o != ops.OutcomeOK {
		return o
	}
	r.say(0, "shell of %s is now %s", name, sh)
	return ops.OutcomeOK
}
