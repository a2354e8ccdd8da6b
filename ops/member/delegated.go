package member

import (
	"context"
	"errors"
	"fmt"

	"github.com/csclub/ceo/ops"
	"github.com/csclub/ceo/ops/directory"
)

// ErrNotDelegated: ldap_writes = delegated and the request carried no
// forwarded credential.
var ErrNotDelegated = errors.New("ldap_writes = delegated: this request carries no delegated credential " +
	"(ceoc forwards one only for the ops in ceod.cf's delegate_ops, and only a forwardable TGT: kinit -f)")

// Delegated writes each request as its caller (ldap_writes = delegated):
// a SASL GSSAPI bind with the TGT the caller forwarded, so that slapd's
// ACLs decide and record the caller as modifiersName. The connection and
// the Kerberos client are closed when the op's Delegation is released.
type Delegated struct {
	Dir        *directory.Client
	KRB5Config string
	SPN        string // slapd's service principal, e.g. "ldap/localhost"
}

// For binds as the caller with their forwarded credential.
func (d Delegated) For(ctx context.Context, caller ops.Caller) (Writer, error) {
	dl := ops.DelegationFrom(ctx)
	if dl == nil || dl.Credential() == nil {
		return nil, ErrNotDelegated
	}
	cred := dl.Credential()
	if cred.Client() != caller.Principal {
		return nil, fmt.Errorf("ldap_writes = delegated: the delegated credential is %s's, not the caller %s's", cred.Client(), caller.Principal)
	}
	bind, release, err := directory.DelegatedBind(d.KRB5Config, d.SPN, cred)
	if err != nil {
		return nil, err
	}
	dl.OnRelease(release)
	w, err := d.Dir.WithBind(bind)
	if err != nil {
		return nil, err
	}
	dl.OnRelease(func() { w.Close() })
	return w, nil
}
