package member

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"

	"github.com/csclub/ceo/ops"
	"github.com/csclub/ceo/ops/directory"
	"github.com/csclub/ceo/ops/home"
	"github.com/csclub/ceo/ops/journal"
	"github.com/csclub/ceo/ops/kadmin"
	"github.com/csclub/ceo/wire/ceopb"
)

// The deluser op's journal steps, in the order they run.
const (
	stepGroup     = "group"     // the group entry (and the request's intent)
	stepUser      = "user"      // the user entry
	stepPrincipal = "principal" // the Kerberos principal
	stepHome      = "home"      // the home directory, if asked
)

// The keys of the group step's journal data: what completing the request
// needs (never a secret).
const (
	keyUID      = "uid"       // the user entry's uidNumber
	keyGID      = "gid"       // the group entry's gidNumber; "" if it has none
	keyHomeRoot = "home_root" // set if the home is to be removed
)

// deluser removes the account: its group and user entries, then the
// principal, then (opt-in) the home, each step journaled before it runs.
//
// A deletion is rolled forward, never back: once its intent is in the
// journal (before the first side effect), a request that fails part way
// or whose ceod dies is completed by recovery (Complete), at ceod's start
// and on its timer. Putting the account back is not possible once the
// principal (its keys) or the home is gone, and a partial restore would
// need the entries' full contents in the journal; the caller was
// authorized and asked for the deletion, and completing it converges
// whatever step was cut off (each is idempotent). Until then the journal
// claims the name, so no adduser can reuse it half-deleted.
func (s *server) deluser(r *req, in *ceopb.DeleteUser) ops.Outcome {
	name := in.GetUsername()
	if ok, o := s.allow(r, "deluser", name); !ok {
		return o
	}
	r.attrs = append(r.attrs, slog.Bool("remove_home", in.GetRemoveHome()))
	if !userName.MatchString(name) {
		return r.fail(int32(syscall.EINVAL), "invalid user name %q", name)
	}
	// Claiming the name first settles an earlier unfinished request for it.
	rec := &journal.Record{Op: "deluser", Caller: r.name, Targets: []string{name}}
	if err := s.Recoverer.Begin(r.ctx, rec); err != nil {
		s.Log.Warn("journal refused the request", "target", name, "err", err)
		return r.fail(int32(syscall.EAGAIN), "another request for %s is running or not finished yet; try again later", name)
	}
	r.attrs = append(r.attrs, slog.String("journal_id", rec.ID))
	d := &deletion{s: s, r: r, rec: rec, name: name}
	o := d.run(in.GetRemoveHome())
	if d.started && o != ops.OutcomeOK {
		// Left for recovery, which completes it.
		s.Journal.Release(rec.ID)
		r.say(0, "the deletion of %s is journaled (request %s): ceod completes it once the failed step works (ceod -journal shows it)", name, rec.ID)
		return o
	}
	if err := s.Journal.Finish(rec); err != nil {
		s.Log.Error("finishing the journal record failed", "target", name, "err", err)
		if o == ops.OutcomeOK {
			// Recovery completes an already complete deletion: harmless.
			r.say(0, "(the journal record stays; ceod clears it)")
		}
	}
	return o
}

// deletion is one deluser request under way.
type deletion struct {
	s       *server
	r       *req
	rec     *journal.Record
	name    string
	started bool // the intent is durable: the request is rolled forward
}

func (d *deletion) run(removeHome bool) ops.Outcome {
	s, r, name := d.s, d.r, d.name
	u, o := s.lookup(r, name)
	if u == nil {
		return o
	}
	root := filepath.Dir(u.Home)
	if removeHome && (filepath.Base(u.Home) != name || !slices.Contains(s.HomeRoots, root)) {
		return r.fail(int32(syscall.EINVAL), "home %s of %s is not ROOT/%s under a home root; not removing it", u.Home, name, name)
	}
	intent := map[string]string{keyUID: strconv.Itoa(u.UID), keyGID: ""}
	groupEntry, err := s.Dir.Read(r.ctx, s.Dir.GroupDN(name), "gidNumber")
	switch {
	case errors.Is(err, directory.ErrNotFound):
	case err != nil:
		s.Log.Error("reading group failed", "target", name, "err", err)
		return r.fail(ops.ELDAP, "unable to read group %s: directory error", name)
	default:
		intent[keyGID] = groupEntry.GetAttributeValue("gidNumber")
	}
	if removeHome {
		intent[keyHomeRoot] = root
	}
	w, o := s.writer(r)
	if w == nil {
		return o
	}
	steps := []delStep{
		{stepGroup, intent, func(ctx context.Context) error {
			if intent[keyGID] == "" {
				return nil
			}
			return gone(w.Delete(ctx, s.Dir.GroupDN(name)))
		}, d.ldapFailed},
		{stepUser, nil, func(ctx context.Context) error { return gone(w.Delete(ctx, u.DN)) }, d.ldapFailed},
		{stepPrincipal, nil, func(ctx context.Context) error { return d.deletePrincipal(ctx) }, func(err error) ops.Outcome {
			return r.fail(ops.EKERB, "unable to delete the principal of %s: %v", name, err)
		}},
	}
	if removeHome {
		steps = append(steps, delStep{stepHome, nil, func(context.Context) error { return home.Remove(root, name) }, func(err error) ops.Outcome {
			return r.fail(ops.EHOME, "account %s deleted, but removing its home failed: %v", name, err)
		}})
	}
	for i, st := range steps {
		if err := s.Journal.Mark(d.rec, st.name, journal.Begun, st.data); err != nil {
			s.Log.Error("journal write failed", "target", name, "step", st.name, "err", err)
			if i == 0 {
				return r.fail(int32(syscall.EIO), "cannot write the journal; nothing was changed")
			}
			return r.fail(int32(syscall.EIO), "cannot write the journal before %s", st.name)
		}
		d.started = true
		if err := st.do(r.ctx); err != nil {
			s.Log.Error("deluser step failed", "target", name, "step", st.name, "err", err)
			return st.fail(err)
		}
		s.Journal.Mark(d.rec, st.name, journal.Done, nil) // written with the next step, see Mark
		if st.name == stepPrincipal {
			r.say(0, "deleted the account %s", name)
		}
	}
	if removeHome {
		r.say(0, "removed %s", u.Home)
	}
	return ops.OutcomeOK
}

// delStep is one journaled step: data goes into the journal with its
// Begun, do makes the change, fail answers its error.
type delStep struct {
	name string
	data map[string]string
	do   func(context.Context) error
	fail func(error) ops.Outcome
}

func (d *deletion) ldapFailed(err error) ops.Outcome {
	return d.r.fail(ops.ELDAP, "unable to delete %s: directory error: %s", d.name, ldapReason(err))
}

// deletePrincipal deletes the principal; one already gone is fine.
func (d *deletion) deletePrincipal(ctx context.Context) error {
	err := d.s.Kadmin.DeletePrincipal(ctx, d.name)
	if errors.Is(err, kadmin.ErrNotFound) {
		d.r.say(0, "%s had no principal", d.name)
		return nil
	}
	return err
}

// gone counts an entry that is not there as deleted.
func gone(err error) error {
	if errors.Is(err, directory.ErrNotFound) {
		return nil
	}
	return err
}

// Complete rolls an unfinished deluser request forward (journal.Completer):
// it deletes, with ceod's own credentials, what is left of the account
// the record names — the group and user entries if they still carry the
// recorded ids, the principal, the home if asked. A record cut off before
// its intent was written has no group step: nothing was changed.
func (s *server) Complete(ctx context.Context, rec *journal.Record) error {
	intent := rec.Step(stepGroup)
	if intent == nil || len(rec.Targets) != 1 {
		return nil
	}
	name := rec.Targets[0]
	if !userName.MatchString(name) {
		return fmt.Errorf("deluser: journal record %s names %q", rec.ID, name)
	}
	data := intent.Undo
	if gid, err := strconv.Atoi(data[keyGID]); err == nil {
		if err := gone(s.Dir.DeleteGroupWithID(ctx, name, gid)); err != nil {
			return fmt.Errorf("deluser: group %s: %w", name, err)
		}
	}
	if uid, err := strconv.Atoi(data[keyUID]); err == nil {
		if err := gone(s.Dir.DeleteUserWithID(ctx, name, uid)); err != nil {
			return fmt.Errorf("deluser: user %s: %w", name, err)
		}
	}
	if err := s.Kadmin.DeletePrincipal(ctx, name); err != nil && !errors.Is(err, kadmin.ErrNotFound) {
		return fmt.Errorf("deluser: principal %s: %w", name, err)
	}
	if root := data[keyHomeRoot]; root != "" {
		if !slices.Contains(s.HomeRoots, root) {
			return fmt.Errorf("deluser: journal record %s names home root %s, not one of ceod's", rec.ID, root)
		}
		if err := home.Remove(root, name); err != nil {
			return fmt.Errorf("deluser: home of %s: %w", name, err)
		}
	}
	return nil
}
