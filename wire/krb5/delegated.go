package krb5

import (
	"errors"
	"fmt"

	"github.com/jcmturner/gokrb5/v8/client"
	"github.com/jcmturner/gokrb5/v8/config"
	"github.com/jcmturner/gokrb5/v8/iana/nametype"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"
)

// CredentialFromKrbCred takes a ticket and its KrbCredInfo from a
// decrypted KRB-CRED (a delegated credential).
func CredentialFromKrbCred(tkt messages.Ticket, info messages.KrbCredInfo) (Credential, error) {
	return withTicket(Credential{Client: info.PName, ClientRealm: info.PRealm, Key: info.Key, Flags: info.Flags.Bytes,
		AuthTime: info.AuthTime, StartTime: info.StartTime, EndTime: info.EndTime, RenewTill: info.RenewTill}, tkt)
}

// ClientFromCredential returns a client using the TGT c, built in memory:
// nothing is written to disk (a delegated credential must never be).
func ClientFromCredential(cfg *config.Config, c Credential) (*client.Client, error) {
	if cfg == nil {
		return nil, errors.New("krb5: nil config")
	}
	if len(c.Server.NameString) != 2 || c.Server.NameString[0] != "krbtgt" {
		return nil, fmt.Errorf("krb5: credential is for %s, not a ticket-granting ticket", c.Server.PrincipalNameString())
	}
	b := MarshalCCache(c)
	cc, err := unmarshalCCache(b)
	clear(b)
	if err != nil {
		return nil, fmt.Errorf("krb5: credential: %w", err)
	}
	cl, err := client.NewFromCCache(cc, cfg)
	if err != nil {
		return nil, fmt.Errorf("krb5: using the credential of %s: %w", c.Client.PrincipalNameString(), err)
	}
	return cl, nil
}

// TGT is a client's ticket-granting ticket and its session key.
type TGT struct {
	CName  types.PrincipalName
	CRealm string
	Ticket messages.Ticket
	Key    types.EncryptionKey
}

// CCacheTGT returns the client principal and the TGT of the FILE ccache
// ccname ("" means DefaultCCacheName()), e.g. to forward it.
func CCacheTGT(ccname string) (TGT, error) {
	if ccname == "" {
		ccname = DefaultCCacheName()
	}
	path, err := ccachePath(ccname)
	if err != nil {
		return TGT{}, err
	}
	cc, err := ReadCCache(path)
	if err != nil {
		return TGT{}, fmt.Errorf("krb5: reading credentials cache %s: %w", path, err)
	}
	realm := cc.DefaultPrincipal.Realm
	e, ok := cc.GetEntry(types.PrincipalName{NameType: nametype.KRB_NT_SRV_INST, NameString: []string{"krbtgt", realm}})
	if !ok {
		return TGT{}, fmt.Errorf("krb5: credentials cache %s holds no ticket-granting ticket for %s (run kinit)", path, realm)
	}
	t := TGT{CName: cc.DefaultPrincipal.PrincipalName, CRealm: realm, Key: e.Key}
	if err := t.Ticket.Unmarshal(e.Ticket); err != nil {
		return TGT{}, fmt.Errorf("krb5: ticket-granting ticket in %s: %w", path, err)
	}
	return t, nil
}

// TGT returns the gokrb5 client and the TGT of the FILE cache the
// tickets come from, to forward it. A keytab or password client has no
// cache, and delegation needs one (kinit -f).
func (t *Tickets) TGT() (*client.Client, TGT, error) {
	if t.ccache == "" {
		return nil, TGT{}, errors.New("krb5: delegating needs a credentials cache with a forwardable TGT (kinit -f)")
	}
	tgt, err := CCacheTGT(t.ccache)
	return t.cl, tgt, err
}
