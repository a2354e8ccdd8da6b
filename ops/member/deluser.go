package member

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"slices"
	"syscall"

	"github.com/go-ldap/ldap/v3"

	"github.com/csclub/ceo/ops"
	"github.com/csclub/ceo/ops/directory"
	"github.com/csclub/ceo/ops/home"
	"github.com/csclub/ceo/ops/kadmin"
	"github.com/csclub/ceo/wire/ceopb"
)

// deluser removes the account: its group and user entries, then the
// principal, then (opt-in) the home. The entries are read first; if the
// principal cannot be deleted they are put back, so that nothing is left
// half-deleted. The home goes last, as it cannot be put back.
//
// TODO(journal): when the adduser journal lands, record these steps in it
// so that a crash between them is rolled back too.
func (s *server) deluser(r *req, in *ceopb.DeleteUser) ops.Outcome {
	name := in.GetUsername()
	if ok, o := s.allow(r, "deluser", name); !ok {
		return o
	}
	r.attrs = append(r.attrs, slog.Bool("remove_home", in.GetRemoveHome()))
	u, o := s.lookup(r, name)
	if u == nil {
		return o
	}
	root := filepath.Dir(u.Home)
	if in.GetRemoveHome() && (filepath.Base(u.Home) != name || !slices.Contains(s.HomeRoots, root)) {
		return r.fail(int32(syscall.EINVAL), "home %s of %s is not ROOT/%s under a home root; not removing it", u.Home, name, name)
	}
	userEntry, err := s.Dir.Read(r.ctx, u.DN, "*")
	if err != nil {
		s.Log.Error("reading user failed", "target", name, "err", err)
		return r.fail(ops.ELDAP, "unable to read %s: directory error", name)
	}
	groupEntry, err := s.Dir.Read(r.ctx, s.Dir.GroupDN(name), "*")
	if errors.Is(err, directory.ErrNotFound) {
		groupEntry, err = nil, nil
	}
	if err != nil {
		s.Log.Error("reading group failed", "target", name, "err", err)
		return r.fail(ops.ELDAP, "unable to read group %s: directory error", name)
	}
	w, o := s.writer(r)
	if w == nil {
		return o
	}
	var deleted []*ldap.Entry
	undo := func() {
		for i := len(deleted) - 1; i >= 0; i-- {
			if err := w.Restore(context.WithoutCancel(r.ctx), deleted[i]); err != nil {
				s.Log.Error("restoring entry failed", "dn", deleted[i].DN, "err", err)
			}
		}
	}
	for _, e := range []*ldap.Entry{groupEntry, userEntry} {
		if e == nil {
			continue
		}
		if err := w.Delete(r.ctx, e.DN); err != nil {
			undo()
			s.Log.Error("delete failed", "dn", e.DN, "err", err)
			return r.fail(ops.ELDAP, "unable to delete %s: directory error: %s", name, ldapReason(err))
		}
		deleted = append(deleted, e)
	}
	switch err := s.Kadmin.DeletePrincipal(r.ctx, name); {
	case errors.Is(err, kadmin.ErrNotFound):
		r.say(0, "%s had no principal", name)
	case err != nil:
		undo()
		s.Log.Error("delprinc failed", "target", name, "err", err)
		return r.fail(ops.EKERB, "unable to delete the principal of %s: %v", name, err)
	}
	r.say(0, "deleted the account %s", name)
	if in.GetRemoveHome() {
		if err := home.Remove(root, name); err != nil {
			s.Log.Error("removing home failed", "target", name, "err", err)
			return r.fail(ops.EHOME, "account %s deleted, but removing its home failed: %v", name, err)
		}
		r.say(0, "removed %s", u.Home)
	}
	return ops.OutcomeOK
}
