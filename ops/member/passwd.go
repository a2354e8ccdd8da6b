package member

import (
	"crypto/rand"
	"log/slog"
	"strings"
	"syscall"

	"github.com/csclub/ceo/ops"
	"github.com/csclub/ceo/ops/kadmin"
	"github.com/csclub/ceo/wire/ceopb"
)

func (s *server) passwd(r *req, in *ceopb.ResetPassword) ops.Outcome {
	name := in.GetUsername()
	if ok, o := s.allow(r, "passwd", name); !ok {
		return o
	}
	pw := in.GetPassword()
	r.attrs = append(r.attrs, slog.Bool("random", in.Password == nil), slog.Bool("need_change", in.GetNeedChange()))
	switch {
	case in.Password == nil:
		pw = rand.Text() // 26 base32 characters: 130 bits
	case pw == "":
		return r.fail(int32(syscall.EINVAL), "empty password")
	case len(pw) > kadmin.MaxPasswordLen:
		return r.fail(int32(syscall.EINVAL), "password longer than %d bytes", kadmin.MaxPasswordLen)
	case strings.ContainsAny(pw, "\n\r\x00"):
		return r.fail(int32(syscall.EINVAL), "password contains a line break or NUL")
	}
	if u, o := s.lookup(r, name); u == nil {
		return o
	}
	// cpw clears the needchange flag, so it comes first.
	if err := s.Kadmin.ChangePassword(r.ctx, name, pw); err != nil {
		s.Log.Error("cpw failed", "target", name, "err", err)
		return r.fail(ops.EKERB, "unable to set the password of %s: %v", name, err)
	}
	if in.GetNeedChange() {
		if err := s.Kadmin.RequireChange(r.ctx, name); err != nil {
			s.Log.Error("modprinc +needchange failed", "target", name, "err", err)
			return r.fail(ops.EKERB, "password of %s changed, but requiring a change at next login failed: %v", name, err)
		}
	}
	if in.Password == nil {
		r.out.Password = &pw
	}
	r.say(0, "password of %s reset", name)
	return ops.OutcomeOK
}
