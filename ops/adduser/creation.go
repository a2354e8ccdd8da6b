package adduser

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/go-ldap/ldap/v3"

	"github.com/csclub/ceo/ops"
	"github.com/csclub/ceo/ops/config"
	"github.com/csclub/ceo/ops/directory"
	"github.com/csclub/ceo/ops/home"
	"github.com/csclub/ceo/ops/journal"
	"github.com/csclub/ceo/ops/kadmin"
	"github.com/csclub/ceo/wire/ceopb"
)

// OpName is the op's name in the journal.
const OpName = "adduser"

// Journal step names, in the order they run.
const (
	stepLDAPUser  = "ldap_user"
	stepPrincipal = "principal"
	stepGroup     = "group"
	stepSudoRole  = "sudo_role"
	stepHome      = "home"
)

// creation is one account being made: its journal record and the
// reply's messages.
type creation struct {
	h      *Handler
	r      *request
	caller string
	rec    *journal.Record

	uid     int
	msgs    []*ceopb.StatusMessage
	outcome string // ok, exists, rolled_back, unfinished, failed
	failure error

	sw *stopwatch // the request's step timings
}

func (c *creation) mark(step string) { c.sw.mark(step) }

func (c *creation) add(code int32, format string, args ...any) {
	c.msgs = append(c.msgs, status(code, format, args...))
}

// ambiguous reports whether a failed write may nevertheless have been
// applied (the connection or the program was cut off mid-request); the
// step then stays Begun and its undo tolerates finding nothing.
func ambiguous(err error) bool {
	var ke *kadmin.Error
	if errors.As(err, &ke) {
		return kadmin.Ambiguous(err) // it knows whether kadmin ran
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	return !directory.IsRefusal(err) && !errors.Is(err, directory.ErrExists)
}

// journalErr is a failed journal write: the request stops before (or
// right after) a side effect it could not record.
type journalErr struct{ error }

// step runs one journaled step: the journal says Begun (with what the
// undo needs) before fn, and Done after it. If fn fails without
// ambiguity the step is marked Undone (it had no effect); an ambiguous
// failure leaves it Begun, and settle (if set) decides it by asking the
// service.
func (c *creation) step(ctx context.Context, name string, undo map[string]string, fn func(context.Context) error, settle func(context.Context) bool) error {
	j := c.h.journal
	if undo == nil {
		return fn(ctx) // nothing to undo, nothing to record
	}
	if err := j.Mark(c.rec, name, journal.Begun, undo); err != nil {
		return journalErr{err}
	}
	err := fn(ctx)
	state := journal.Done
	switch {
	case err == nil:
	case !ambiguous(err):
		state = journal.Undone
	case settle != nil && settle(ctx):
		// The write took effect after all: it is ours to undo.
	default:
		return err // stays Begun: recovery looks again
	}
	if jerr := j.Mark(c.rec, name, state, nil); jerr != nil && err == nil {
		return journalErr{jerr}
	}
	return err // Done is written with the next step's Begun (see journal.Mark)
}

// run performs the steps; on the first failure it undoes the others.
// It reports whether the account was made.
func (c *creation) run(ctx context.Context) bool {
	h, r := c.h, c.r
	cfg := h.cfg
	lo, hi := cfg.IDRange(r.kind)
	root, skel, shell := cfg.Home(r.kind)
	homeDir := filepath.Join(root, r.name)
	club := r.kind == config.KindClub
	full := r.name + "@" + cfg.KRB5Realm

	// 1. A uid (and the same gid), never handed out before. Not undone:
	// an id counter that moved on loses nothing.
	if err := ctx.Err(); err != nil {
		return c.fail(ctx, ops.ELDAP, err, "cancelled before allocating a uid")
	}
	id, err := h.dir.AllocateID(ctx, r.kind.String(), lo, hi, func(_ context.Context, id int) (bool, error) {
		return h.nss.IDInUse(id)
	})
	if err != nil {
		if errors.Is(err, directory.ErrRangeExhausted) {
			return c.fail(ctx, ops.ELDAP, err, "no free %s uid left in %d-%d", r.kind, lo, hi)
		}
		return c.fail(ctx, ops.ELDAP, err, "failed to allocate a uid: %s", short(err))
	}
	c.uid = id
	c.mark("allocate_id")
	ids := map[string]string{"name": r.name, "id": strconv.Itoa(id)}

	// 2. The LDAP account.
	if err := ctx.Err(); err != nil {
		return c.fail(ctx, ops.ELDAP, err, "cancelled before creating the ldap account")
	}
	u := &directory.User{Name: r.name, RealName: r.realname, UID: id, GID: id, Home: homeDir, Shell: shell, Program: r.program, Club: club}
	if err := c.step(ctx, stepLDAPUser, ids, func(ctx context.Context) error { return h.dir.AddUser(ctx, u) }, nil); err != nil {
		if errors.Is(err, directory.ErrExists) {
			return c.exists(ctx, err, "user %s already exists", r.name)
		}
		return c.fail(ctx, ops.ELDAP, err, "failed to create ldap account: %s", short(err))
	}
	c.add(StatusOK, "successfully created ldap account (uid %d)", id)
	c.mark("ldap_user")

	// 3. The principal (members and club reps). checkFree found none;
	// if one appeared since, it is not ours: EEXIST, untouched.
	if !club {
		if err := ctx.Err(); err != nil {
			return c.fail(ctx, ops.EKERB, err, "cancelled before creating the principal")
		}
		add := func(ctx context.Context) error { return h.kadm.AddPrincipal(ctx, r.name, r.password) }
		if err := c.step(ctx, stepPrincipal, map[string]string{"name": r.name}, add, c.principalExists); err != nil {
			if errors.Is(err, kadmin.ErrExists) {
				return c.exists(ctx, err, "principal %s already exists (made outside ceod; delete it by hand if it is stale)", full)
			}
			return c.fail(ctx, ops.EKERB, err, "failed to create principal %s: %s", full, short(err))
		}
		c.add(StatusOK, "successfully created principal %s", full)
		c.mark("principal")
	}

	// 4. The group.
	if err := ctx.Err(); err != nil {
		return c.fail(ctx, ops.ELDAP, err, "cancelled before creating the group")
	}
	addGroup := func(ctx context.Context) error { return h.dir.AddGroup(ctx, &directory.Group{Name: r.name, GID: id}) }
	if err := c.step(ctx, stepGroup, ids, addGroup, nil); err != nil {
		return c.fail(ctx, ops.ELDAP, err, "failed to create group %s: %s", r.name, short(err))
	}
	c.add(StatusOK, "successfully created group %s (gid %d)", r.name, id)
	c.mark("group")

	// 5. The club's sudo role.
	if club {
		if err := ctx.Err(); err != nil {
			return c.fail(ctx, ops.ELDAP, err, "cancelled before creating the sudo role")
		}
		role := directory.ClubSudoRole(r.name)
		addRole := func(ctx context.Context) error { return h.dir.AddSudoRole(ctx, role) }
		if err := c.step(ctx, stepSudoRole, map[string]string{"cn": role.CN}, addRole, nil); err != nil {
			return c.fail(ctx, ops.ELDAP, err, "failed to create sudo role %s: %s", role.CN, short(err))
		}
		c.add(StatusOK, "successfully created sudo role %s", role.CN)
		c.mark("sudo_role")
	}

	// 6. The home directory, with .forward and, for clubs, the ACLs.
	// home.Create removes what it made if it fails; the journal covers
	// a crash half-way.
	if err := ctx.Err(); err != nil {
		return c.fail(ctx, ops.EHOME, err, "cancelled before creating the home directory")
	}
	spec := home.Spec{Root: root, Name: r.name, Skel: skel, UID: id, GID: id, Mode: 0o755, Forward: r.email}
	if club {
		spec.ACL = home.ClubACL(id)
	}
	mkHome := func(context.Context) error { return home.Create(spec) }
	if err := c.step(ctx, stepHome, map[string]string{"root": root, "name": r.name}, mkHome, nil); err != nil {
		return c.fail(ctx, ops.EHOME, err, "failed to create home directory %s: %s", homeDir, short(err))
	}
	c.add(StatusOK, "successfully created home directory %s", homeDir)
	c.mark("home")
	if r.email != "" {
		c.add(StatusOK, "successfully set mail forward to %s", r.email)
	}

	// 8. The quota, copied from the account type's prototype user; a
	// failure is reported (EQUOTA) and the account kept, as legacy.
	if !c.quota(ctx, id) {
		return c.fail(ctx, ops.EQUOTA, ctx.Err(), "cancelled before setting the quota")
	}

	// The record goes before the reply: a crash from here on leaves a
	// complete account and no record, never a record of a success.
	if err := h.journal.Finish(c.rec); err != nil {
		return c.fail(ctx, StatusEIOJournal, journalErr{err}, "cannot record the request as complete")
	}
	c.mark("finish")
	c.outcome = "ok"
	return true
}

// principalExists settles an ambiguous addprinc by asking kadmind.
func (c *creation) principalExists(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.h.undoBudget)
	defer cancel()
	_, err := c.h.kadm.GetPrincipal(ctx, c.r.name)
	return err == nil
}

// exists ends the request with EEXIST after undoing what it did.
func (c *creation) exists(ctx context.Context, err error, format string, args ...any) bool {
	c.fail(ctx, StatusEEXIST, err, format, args...)
	if c.outcome == "rolled_back" || c.outcome == "failed" {
		c.outcome = "exists"
	}
	return false
}

// stepStatus is the status reported when a step's undo fails.
func stepStatus(step string) int32 {
	switch step {
	case stepPrincipal:
		return ops.EKERB
	case stepHome:
		return ops.EHOME
	}
	return ops.ELDAP
}

// undoWhat names a step's effect for messages.
func undoWhat(s *journal.Step) string {
	switch s.Name {
	case stepLDAPUser:
		return "ldap account uid=" + s.Undo["name"]
	case stepPrincipal:
		return "principal " + s.Undo["name"]
	case stepGroup:
		return "group cn=" + s.Undo["name"]
	case stepSudoRole:
		return "sudo role cn=" + s.Undo["cn"]
	case stepHome:
		return "home directory " + filepath.Join(s.Undo["root"], s.Undo["name"])
	}
	return s.Name
}

// fail reports the failed step and has the journal's recoverer undo the
// steps done, even if ctx has ended (each undo with a budget of its
// own). What it cannot undo stays in the journal for recovery.
func (c *creation) fail(ctx context.Context, code int32, err error, format string, args ...any) bool {
	c.failure = err
	c.add(code, format, args...)
	c.h.log.Error("adduser: step failed", "user", c.r.name, "uid", c.uid, "step", fmt.Sprintf(format, args...), "err", err)
	if errors.As(err, new(journalErr)) {
		c.add(StatusEIOJournal, "the journal cannot be written (%s): ceod stopped before changing more", short(err))
	}
	pending := c.rec.Pending()
	if len(pending) == 0 {
		c.h.journal.Finish(c.rec)
		c.outcome = "failed"
		c.add(code, "%s was not created; nothing was changed", c.r.name)
		return false
	}
	results, finished := c.h.recoverer.Recover(context.WithoutCancel(ctx), c.rec, "rollback")
	var left []string
	for i, res := range results {
		what := undoWhat(pending[i])
		if res.Err != nil {
			left = append(left, what)
			c.add(stepStatus(pending[i].Name), "rollback: could not remove %s yet: %s", what, short(res.Err))
			continue
		}
		c.add(StatusOK, "rollback: removed %s", what)
	}
	if finished {
		c.outcome = "rolled_back"
		c.add(code, "%s was not created: everything done was undone (uid %d will not be handed out again)", c.r.name, c.uid)
	} else {
		c.outcome = "unfinished"
		c.add(code, "%s was not created; ceod will remove %s once the service answers (journal id %s); send the request again after that",
			c.r.name, strings.Join(left, ", "), c.rec.ID)
	}
	return false
}

// short is an error's text for the client: the innermost useful part,
// without the chain of package prefixes the log gets.
func short(err error) string {
	var ke *kadmin.Error
	if errors.As(err, &ke) && ke.Output != "" {
		return ke.Output
	}
	var he *home.Error
	if errors.As(err, &he) {
		return he.Op + ": " + he.Err.Error()
	}
	var le *ldap.Error
	if errors.As(err, &le) {
		// LDAP Result Code 68 "Entry Already Exists": <server's text>
		return strings.TrimSuffix(strings.TrimSpace(le.Error()), ":")
	}
	return err.Error()
}
