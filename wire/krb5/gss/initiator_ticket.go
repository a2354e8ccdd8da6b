package gss

import (
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"
)

// NewInitiatorWithTicket is NewInitiator for a service ticket the caller
// already holds (a cached one, see krb5.Tickets): client cname@crealm,
// the ticket and its session key. No KDC is asked.
func NewInitiatorWithTicket(cname types.PrincipalName, crealm string, tkt messages.Ticket, sessionKey types.EncryptionKey, cfg Config) (*Initiator, []byte, error) {
	return newInitiatorFromTicket(cname, crealm, tkt, sessionKey, cfg, initOptions{})
}
