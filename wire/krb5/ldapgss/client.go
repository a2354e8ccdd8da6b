// Package ldapgss is an RFC 4752 SASL GSSAPI client for go-ldap v3, built
// on package github.com/csclub/ceo/wire/gss.
//
// go-ldap's own gssapi.Client (v3.4.11 to v3.4.15) mis-parses the
// integrity-only wrap tokens that MIT-based servers (OpenLDAP with Cyrus
// SASL) send with RRC = 0, and fails with "checksum mismatch". This client
// unwraps them with gss, which honours any RRC, checks the AP-REP (mutual
// authentication), and negotiates "no security layer":
//
//	cl, _ := krb.ClientFromKeytab(cfg, "ceod/admin", keytabPath)
//	err := conn.GSSAPIBind(ldapgss.NewClient(cl), "ldap/localhost", "")
package ldapgss

import (
	"errors"
	"fmt"

	"github.com/go-ldap/ldap/v3"
	"github.com/jcmturner/gokrb5/v8/client"
	"github.com/jcmturner/gokrb5/v8/iana/flags"

	"github.com/csclub/ceo/wire/krb5/gss"
)

// SASL GSSAPI security layers (RFC 4752 section 3.3).
const (
	layerNone      = 0x01
	layerIntegrity = 0x02
	layerConf      = 0x04
)

// noLayerReply is the first octet of our reply: the selected layer.
const noLayerReply = layerNone

// Client implements ldap.GSSAPIClient for one bind at a time. It is not
// safe for concurrent use.
type Client struct {
	cl  *client.Client
	cfg gss.Config
	ini *gss.Initiator // context being established
	ctx *gss.Context   // established context
}

var _ ldap.GSSAPIClient = (*Client)(nil)

// NewClient returns a SASL GSSAPI client that gets its service tickets
// with cl (see package github.com/csclub/ceo/wire/krb).
func NewClient(cl *client.Client) *Client {
	return &Client{cl: cl}
}

// InitSecContext is InitSecContextWithOptions without ap-options.
func (c *Client) InitSecContext(target string, token []byte) ([]byte, bool, error) {
	return c.InitSecContextWithOptions(target, token, nil)
}

// InitSecContextWithOptions starts a context with target (the LDAP
// server's SPN, e.g. "ldap/localhost") when called with no token, and
// returns the AP-REQ token and needContinue = true. Called again with the
// server's AP-REP, it completes mutual authentication and returns an empty
// token and needContinue = false. The only ap-option accepted is
// mutual-required, which is always set.
func (c *Client) InitSecContextWithOptions(target string, token []byte, options []int) ([]byte, bool, error) {
	if c.ini == nil {
		if len(token) != 0 {
			return nil, false, errors.New("ldapgss: got a server token before the context was started")
		}
		for _, o := range options {
			if o != flags.APOptionMutualRequired {
				return nil, false, fmt.Errorf("ldapgss: ap-option %d is not supported", o)
			}
		}
		if c.cl == nil {
			return nil, false, errors.New("ldapgss: no Kerberos client")
		}
		ini, tok, err := gss.NewInitiator(c.cl, target, c.cfg)
		if err != nil {
			return nil, false, fmt.Errorf("ldapgss: %w", err)
		}
		c.ini, c.ctx = ini, nil
		return tok, true, nil
	}
	ctx, err := c.ini.Step(token)
	c.ini = nil
	if err != nil {
		return nil, false, fmt.Errorf("ldapgss: %w", err)
	}
	c.ctx = ctx
	return []byte{}, false, nil
}

// NegotiateSaslAuth unwraps the server's security-layer offer (4 octets:
// layer bitmask, max buffer size), requires it to allow "no security
// layer", and returns our integrity-protected reply selecting no layer,
// with a zero buffer size and the authorization identity authzid ("" to
// act as the authenticated principal).
func (c *Client) NegotiateSaslAuth(token []byte, authzid string) ([]byte, error) {
	if c.ctx == nil {
		return nil, errors.New("ldapgss: no established security context")
	}
	offer, err := c.ctx.Unwrap(token)
	if err != nil {
		return nil, fmt.Errorf("ldapgss: server's security layer offer: %w", err)
	}
	if len(offer) != 4 {
		return nil, fmt.Errorf("ldapgss: server's security layer offer is %d bytes, want 4", len(offer))
	}
	if offer[0]&layerNone == 0 {
		return nil, fmt.Errorf("ldapgss: server requires a SASL security layer (offer %#02x), which is not supported", offer[0])
	}
	reply := make([]byte, 4, 4+len(authzid))
	reply[0] = noLayerReply
	reply = append(reply, authzid...)
	out, err := c.ctx.WrapIntegrity(reply)
	if err != nil {
		return nil, fmt.Errorf("ldapgss: %w", err)
	}
	return out, nil
}

// DeleteSecContext forgets any context, established or not.
func (c *Client) DeleteSecContext() error {
	c.ini, c.ctx = nil, nil
	return nil
}
