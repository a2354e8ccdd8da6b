package gss

import (
	"errors"

	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"
)

// NewInitiatorWithTicket is NewInitiator for a service ticket the caller
// already holds (a cached one, see krb5.Tickets): client cname@crealm,
// the ticket and its session key. No KDC is asked.
func NewInitiatorWithTicket(cname types.PrincipalName, crealm string, tkt messages.Ticket, sessionKey types.EncryptionKey, cfg Config) (*Initiator, []byte, error) {
	return newInitiatorFromTicket(cname, crealm, tkt, sessionKey, cfg, initOptions{})
}

// NewInitiatorDelegating is NewInitiatorWithTicket that also delegates:
// it sets GSS_C_DELEG_FLAG and forwards d (from ForwardTGT) in a KRB-CRED
// encrypted in the service ticket's session key. Use it only towards a
// service that needs the caller's credential.
func NewInitiatorDelegating(cname types.PrincipalName, crealm string, tkt messages.Ticket, sessionKey types.EncryptionKey, d *Delegated, cfg Config) (*Initiator, []byte, error) {
	if d == nil {
		return nil, nil, errors.New("gss: nothing to delegate")
	}
	return newInitiatorFromTicket(cname, crealm, tkt, sessionKey, cfg, initOptions{deleg: d})
}
