package adduser

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/csclub/ceo/ops"
	"github.com/csclub/ceo/ops/config"
	"github.com/csclub/ceo/ops/directory"
	"github.com/csclub/ceo/ops/home"
	"github.com/csclub/ceo/ops/kadmin"
	"github.com/csclub/ceo/wire/ceopb"
)

// creation is one account being made: the steps done so far, each with
// its undo, and the reply's messages.
type creation struct {
	h      *Handler
	r      *request
	caller string

	uid     int
	msgs    []*ceopb.StatusMessage
	undo    []undo
	outcome string // ok, exists, rolled_back, half_made
	failure error

	last    time.Time   // end of the previous step
	timings []slog.Attr // duration of each step, for the debug log
}

// mark records how long the step just finished took.
func (c *creation) mark(step string) {
	now := c.h.now()
	c.timings = append(c.timings, slog.Duration(step, now.Sub(c.last)))
	c.last = now
}

// undo removes what a step made.
type undo struct {
	what   string // "ldap account uid=alice", for messages
	status int32  // reported if the removal fails
	fn     func(context.Context) error
}

func (c *creation) add(code int32, format string, args ...any) {
	c.msgs = append(c.msgs, status(code, format, args...))
}

// ambiguous reports whether a failed write may nevertheless have been
// applied (the connection or the program was cut off mid-request): its
// undo is then run too, and tolerates finding nothing.
func ambiguous(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ke *kadmin.Error
	if errors.As(err, &ke) {
		return false // kadmin answered: nothing was changed
	}
	return !directory.IsRefusal(err) && !errors.Is(err, directory.ErrExists)
}

// gone treats "already absent" as a successful undo.
func gone(err error) error {
	if errors.Is(err, directory.ErrNotFound) || errors.Is(err, kadmin.ErrNotFound) {
		return nil
	}
	return err
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
	c.last = h.now()
	defer func() {
		h.log.LogAttrs(ctx, slog.LevelDebug, "adduser: step timings", append([]slog.Attr{slog.String("user", r.name)}, c.timings...)...)
	}()

	// 1. A uid (and the same gid), never handed out before.
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

	// 2. The LDAP account. Adding it is what claims the name: of
	// concurrent requests for one name exactly one gets here, so the
	// steps below never act on another request's account.
	if err := ctx.Err(); err != nil {
		return c.fail(ctx, ops.ELDAP, err, "cancelled before creating the ldap account")
	}
	delUser := func(ctx context.Context) error { return h.dir.DeleteUserWithID(ctx, r.name, id) }
	u := &directory.User{Name: r.name, RealName: r.realname, UID: id, GID: id, Home: homeDir, Shell: shell, Program: r.program, Club: club}
	if err := h.dir.AddUser(ctx, u); err != nil {
		if errors.Is(err, directory.ErrExists) {
			c.outcome = "exists"
			c.failure = err
			c.add(StatusEEXIST, "user %s already exists", r.name)
			return false
		}
		if ambiguous(err) {
			c.pushUndo("ldap account uid="+r.name, ops.ELDAP, delUser)
		}
		return c.fail(ctx, ops.ELDAP, err, "failed to create ldap account: %s", short(err))
	}
	c.pushUndo("ldap account uid="+r.name, ops.ELDAP, delUser)
	c.add(StatusOK, "successfully created ldap account (uid %d)", id)
	c.mark("ldap_user")

	// 3. A leftover principal of that name (from an account deleted
	// without its principal) would let its old password in: delete it.
	if err := ctx.Err(); err != nil {
		return c.fail(ctx, ops.EKERB, err, "cancelled before checking for a leftover principal")
	}
	if err := h.kadm.DeletePrincipal(ctx, r.name); err == nil {
		h.log.Warn("adduser: deleted leftover principal", "principal", full)
		c.add(StatusOK, "deleted leftover principal %s", full)
	} else if !errors.Is(err, kadmin.ErrNotFound) {
		return c.fail(ctx, ops.EKERB, err, "failed to delete leftover principal %s: %s", full, short(err))
	}
	c.mark("leftover_principal")

	// 4. The principal (members and club reps).
	if !club {
		if err := ctx.Err(); err != nil {
			return c.fail(ctx, ops.EKERB, err, "cancelled before creating the principal")
		}
		delPrinc := func(ctx context.Context) error { return h.kadm.DeletePrincipal(ctx, r.name) }
		if err := h.kadm.AddPrincipal(ctx, r.name, r.password); err != nil {
			if ambiguous(err) {
				c.pushUndo("principal "+full, ops.EKERB, delPrinc)
			}
			return c.fail(ctx, ops.EKERB, err, "failed to create principal %s: %s", full, short(err))
		}
		c.pushUndo("principal "+full, ops.EKERB, delPrinc)
		c.add(StatusOK, "successfully created principal %s", full)
		c.mark("principal")
	}

	// 5. The group.
	if err := ctx.Err(); err != nil {
		return c.fail(ctx, ops.ELDAP, err, "cancelled before creating the group")
	}
	delGroup := func(ctx context.Context) error { return h.dir.DeleteGroupWithID(ctx, r.name, id) }
	if err := h.dir.AddGroup(ctx, &directory.Group{Name: r.name, GID: id}); err != nil {
		if ambiguous(err) {
			c.pushUndo("group cn="+r.name, ops.ELDAP, delGroup)
		}
		return c.fail(ctx, ops.ELDAP, err, "failed to create group %s: %s", r.name, short(err))
	}
	c.pushUndo("group cn="+r.name, ops.ELDAP, delGroup)
	c.add(StatusOK, "successfully created group %s (gid %d)", r.name, id)
	c.mark("group")

	// 6. The club's sudo role.
	if club {
		if err := ctx.Err(); err != nil {
			return c.fail(ctx, ops.ELDAP, err, "cancelled before creating the sudo role")
		}
		role := directory.ClubSudoRole(r.name)
		delRole := func(ctx context.Context) error { return h.dir.DeleteSudoRole(ctx, role.CN) }
		if err := h.dir.AddSudoRole(ctx, role); err != nil {
			if ambiguous(err) {
				c.pushUndo("sudo role cn="+role.CN, ops.ELDAP, delRole)
			}
			return c.fail(ctx, ops.ELDAP, err, "failed to create sudo role %s: %s", role.CN, short(err))
		}
		c.pushUndo("sudo role cn="+role.CN, ops.ELDAP, delRole)
		c.add(StatusOK, "successfully created sudo role %s", role.CN)
		c.mark("sudo_role")
	}

	// 7. The home directory, with .forward and, for clubs, the ACLs.
	// home.Create removes what it made if it fails.
	if err := ctx.Err(); err != nil {
		return c.fail(ctx, ops.EHOME, err, "cancelled before creating the home directory")
	}
	spec := home.Spec{Root: root, Name: r.name, Skel: skel, UID: id, GID: id, Mode: 0o755, Forward: r.email}
	if club {
		spec.ACL = home.ClubACL(id)
	}
	if err := home.Create(spec); err != nil {
		return c.fail(ctx, ops.EHOME, err, "failed to create home directory %s: %s", homeDir, short(err))
	}
	c.pushUndo("home directory "+homeDir, ops.EHOME, func(context.Context) error { return home.Remove(root, r.name) })
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

	c.outcome = "ok"
	return true
}

func (c *creation) pushUndo(what string, code int32, fn func(context.Context) error) {
	c.undo = append(c.undo, undo{what: what, status: code, fn: fn})
}

// fail reports the failed step, undoes the steps done (even if ctx has
// ended, with a context of its own) and reports the outcome.
func (c *creation) fail(ctx context.Context, code int32, err error, format string, args ...any) bool {
	c.failure = err
	c.add(code, format, args...)
	c.h.log.Error("adduser: step failed", "user", c.r.name, "uid", c.uid, "step", fmt.Sprintf(format, args...), "err", err)
	if len(c.undo) == 0 {
		c.outcome = "failed"
		c.add(code, "%s was not created; nothing was changed", c.r.name)
		return false
	}
	undoCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.h.undoTimeout)
	defer cancel()
	var left []string
	for i := len(c.undo) - 1; i >= 0; i-- {
		u := c.undo[i]
		if err := gone(u.fn(undoCtx)); err != nil {
			c.h.log.Error("adduser: rollback step failed", "user", c.r.name, "undo", u.what, "err", err)
			left = append(left, u.what)
			c.add(u.status, "rollback: could not remove %s: %s", u.what, short(err))
			continue
		}
		c.add(StatusOK, "rollback: removed %s", u.what)
	}
	if len(left) == 0 {
		c.outcome = "rolled_back"
		c.add(code, "%s was not created: everything done was undone (uid %d will not be handed out again)", c.r.name, c.uid)
	} else {
		c.outcome = "half_made"
		c.add(code, "%s is incomplete: remove %s by hand, then send the request again", c.r.name, strings.Join(left, ", "))
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
