// Package authz is the ops' one call into ceod.acl (package acl): every
// built-in op asks Check whether its caller may act on its target, and
// replies with the Decision's status and message. There are no rules
// here; they are all in the ACL file.
//
// A directory failure is an error, never an implicit yes: the Decision
// then carries ELDAP and the ops fail closed.
package authz

import (
	"context"
	"fmt"
	"syscall"

	"github.com/csclub/ceo/ops"
	"github.com/csclub/ceo/ops/acl"
	"github.com/csclub/ceo/ops/directory"
)

// ErrNoSuchUser is what Directory.LookupUser wraps for a name that has
// no account (ops/directory's ErrNotFound).
var ErrNoSuchUser = directory.ErrNotFound

// User is an account as the directory gives it.
type User = directory.User

// Directory answers the ACL's questions (and the ops' lookups).
// *directory.Client (the LDAP implementation) satisfies it; tests use
// opstest.Fake.
type Directory = acl.Directory

var _ Directory = (*directory.Client)(nil)

// Authorizer checks requests against the ACL, asking Dir.
type Authorizer struct {
	ACL *acl.ACL
	Dir Directory
}

// Decision is the outcome of a check.
type Decision struct {
	Allowed bool
	// Status is 0 when allowed, EPERM when denied, ops.ELDAP when the
	// directory could not answer.
	Status int32
	// Message says why, naming the rule (or the default denial); it
	// names only the caller, the target, groups and the rule, so it is
	// safe to send to the client.
	Message string
	// Rule is the rule that decided, "" for the default denial.
	Rule string
}

// Check decides whether caller may run op on target. kind is the kind of
// account adduser is to make (acl.Kind...), "" for the other ops. The
// error, if any, is the directory's, for the log; the Decision is then a
// refusal with status ops.ELDAP.
func (a Authorizer) Check(ctx context.Context, op string, caller ops.Caller, target, kind string) (Decision, error) {
	d, err := a.ACL.Check(ctx, a.Dir, acl.Request{Op: op, Caller: caller.User, Principal: caller.Principal, Target: target, Kind: kind})
	if err != nil {
		return Decision{Status: ops.ELDAP, Message: fmt.Sprintf("unable to check authorization for %s: directory error", caller.User)},
			fmt.Errorf("authz: %s: %w", op, err)
	}
	out := Decision{Allowed: d.Allowed, Message: d.Message, Rule: d.Rule}
	if !d.Allowed {
		out.Status = int32(syscall.EPERM)
	}
	return out, nil
}
