// Package authz holds the legacy authorization rules of the ceod ops
// that act on one member's resources (mail forward, MySQL and PostgreSQL
// databases, mailing-list subscription), written once and tested as a
// table.
//
// Each rule takes the authenticated caller (the principal without its
// realm), the target account name and a Directory, and returns a
// Decision carrying the legacy status message. A directory failure is an
// error, never an implicit yes: callers fail closed.
package authz

import (
	"context"
	"errors"
	"fmt"
	"syscall"

	"github.com/csclub/ceo/ops/directory"
)

// Groups with special powers in the legacy rules.
const (
	GroupOffice = "office"
	GroupSyscom = "syscom"
)

// ErrNoSuchUser is what Directory.LookupUser wraps for a name that has
// no account (ops/directory's ErrNotFound).
var ErrNoSuchUser = directory.ErrNotFound

// User is an account as the directory gives it; the rules use Club, the
// ops UID, GID and Home.
type User = directory.User

// Directory answers the questions the rules ask. *directory.Client (the
// LDAP implementation) satisfies it; tests use opstest.Fake.
type Directory interface {
	// InGroup reports whether user is a member of group. A group that
	// does not exist has no members.
	InGroup(ctx context.Context, user, group string) (bool, error)
	// LookupUser returns the account called name, or an error wrapping
	// ErrNoSuchUser.
	LookupUser(ctx context.Context, name string) (*User, error)
}

var _ Directory = (*directory.Client)(nil)

// Decision is the outcome of a rule.
type Decision struct {
	Allowed bool
	// Status is 0 when allowed, else an errno (EPERM).
	Status int32
	// Message is the legacy status message explaining the decision. It
	// names only the caller, the target and groups; it is safe to send
	// to the client.
	Message string
}

func allow(format string, args ...any) Decision {
	return Decision{Allowed: true, Message: fmt.Sprintf(format, args...)}
}

func deny(format string, args ...any) Decision {
	return Decision{Status: int32(syscall.EPERM), Message: fmt.Sprintf(format, args...)}
}

// inGroup wraps a directory error with the question asked.
func inGroup(ctx context.Context, dir Directory, user, group string) (bool, error) {
	ok, err := dir.InGroup(ctx, user, group)
	if err != nil {
		return false, fmt.Errorf("authz: is %s in group %s: %w", user, group, err)
	}
	return ok, nil
}

// UpdateMail is the mail op's rule (legacy op-mail.c): a caller may
// change their own forward; office or syscom may change anyone's, but
// only syscom may change a syscom member's.
func UpdateMail(ctx context.Context, dir Directory, caller, target string) (Decision, error) {
	office, err := inGroup(ctx, dir, caller, GroupOffice)
	if err != nil {
		return Decision{}, err
	}
	syscom, err := inGroup(ctx, dir, caller, GroupSyscom)
	if err != nil {
		return Decision{}, err
	}
	targetSyscom, err := inGroup(ctx, dir, target, GroupSyscom)
	if err != nil {
		return Decision{}, err
	}
	if !syscom && !office && caller != target {
		return deny("%s not authorized to update mail", caller), nil
	}
	if targetSyscom && !syscom {
		return deny("denied, recipient is on systems committee"), nil
	}
	return allow("%s may update mail for %s", caller, target), nil
}

// CreateDatabase is the rule of the mysql and postgresql ops (legacy
// op-mysql, as documented): the caller's own name; a club if the caller
// is in the club's group; anyone if the caller is in syscom.
//
// The legacy program checked the club's group before syscom and so
// refused syscom members outside a club's group; the documented rule,
// which this follows, lets syscom act for clubs too.
func CreateDatabase(ctx context.Context, dir Directory, caller, target string) (Decision, error) {
	if caller == target {
		return allow("user %s creating database for self", caller), nil
	}
	club := false
	u, err := dir.LookupUser(ctx, target)
	switch {
	case err == nil:
		club = u.Club
	case errors.Is(err, ErrNoSuchUser):
	default:
		return Decision{}, fmt.Errorf("authz: looking up %s: %w", target, err)
	}
	if club {
		member, err := inGroup(ctx, dir, caller, target)
		if err != nil {
			return Decision{}, err
		}
		if member {
			return allow("user %s is in club group %s", caller, target), nil
		}
	}
	syscom, err := inGroup(ctx, dir, caller, GroupSyscom)
	if err != nil {
		return Decision{}, err
	}
	if syscom {
		return allow("user %s is on systems committee", caller), nil
	}
	if club {
		return deny("denied, user %s is not in club group %s", caller, target), nil
	}
	return deny("denied, you may not create databases for other members"), nil
}

// Subscribe is the mailman op's rule (legacy op-mailman): oneself,
// office or syscom. The denial text is the legacy reply line, given the
// list's name.
func Subscribe(ctx context.Context, dir Directory, caller, target, list string) (Decision, error) {
	if caller == target {
		return allow("user %s subscribing self", caller), nil
	}
	for _, g := range []string{GroupOffice, GroupSyscom} {
		ok, err := inGroup(ctx, dir, caller, g)
		if err != nil {
			return Decision{}, err
		}
		if ok {
			return allow("user %s is in group %s", caller, g), nil
		}
	}
	return deny("Access denied: user '%s' cannot subscribe users to %s", caller, list), nil
}
