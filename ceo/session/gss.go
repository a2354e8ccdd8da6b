package session

import (
	"github.com/go-ldap/ldap/v3"
	"github.com/jcmturner/gokrb5/v8/client"

	"github.com/csclub/ceo/wire/krb5/ldapgss"
)

// gssapiClient is the SASL GSSAPI mechanism (RFC 4752) for the LDAP bind.
func gssapiClient(cl *client.Client) ldap.GSSAPIClient { return ldapgss.NewClient(cl) }
