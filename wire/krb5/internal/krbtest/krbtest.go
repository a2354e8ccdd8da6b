// Package krbtest forges Kerberos material for tests that must run without
// a KDC: keytabs with random keys, tickets encrypted in a service key (as
// a KDC would issue them) and MIT FILE credentials caches holding them.
package krbtest

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"time"

	"github.com/jcmturner/gofork/encoding/asn1"
	"github.com/jcmturner/gokrb5/v8/asn1tools"
	"github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/iana"
	"github.com/jcmturner/gokrb5/v8/iana/asnAppTag"
	"github.com/jcmturner/gokrb5/v8/iana/keyusage"
	"github.com/jcmturner/gokrb5/v8/iana/nametype"
	"github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"

	"github.com/csclub/ceo/wire/krb5/internal/ccfile"
)

// Conf is a krb5.conf for the realm TEST.REALM whose KDC (127.0.0.1:1)
// is never there: for tests that need no KDC, or check that none is
// asked.
const Conf = `[libdefaults]
    default_realm = TEST.REALM
    dns_lookup_kdc = false
    dns_lookup_realm = false
    udp_preference_limit = 1
[realms]
    TEST.REALM = {
        kdc = 127.0.0.1:1
    }
[domain_realm]
    localhost = TEST.REALM
`

// keyLen gives AES key sizes; gokrb5's is wrong for enctype 20.
var keyLen = map[int32]int{17: 16, 18: 32, 19: 16, 20: 32}

// Keytab returns a keytab with a random key of each enctype for each
// principal ("name/inst", in realm).
func Keytab(realm string, principals []string, enctypes ...int32) (*keytab.Keytab, error) {
	kt := keytab.New()
	for _, p := range principals {
		for _, et := range enctypes {
			pw := make([]byte, 16)
			if _, err := rand.Read(pw); err != nil {
				return nil, err
			}
			if err := kt.AddEntry(p, realm, hex.EncodeToString(pw), time.Now(), 1, et); err != nil {
				return nil, fmt.Errorf("krbtest: keytab entry %s enctype %d: %w", p, et, err)
			}
		}
	}
	return kt, nil
}

// Ticket issues a ticket for service ("name/inst") to client, with a fresh
// session key of sessionEtype, encrypted in the service's key of the same
// enctype from kt.
func Ticket(kt *keytab.Keytab, realm, service, client string, sessionEtype int32, start, end time.Time) (messages.Ticket, types.EncryptionKey, error) {
	n, ok := keyLen[sessionEtype]
	if !ok {
		return messages.Ticket{}, types.EncryptionKey{}, fmt.Errorf("krbtest: enctype %d not supported", sessionEtype)
	}
	kv := make([]byte, n)
	if _, err := rand.Read(kv); err != nil {
		return messages.Ticket{}, types.EncryptionKey{}, err
	}
	sessionKey := types.EncryptionKey{KeyType: sessionEtype, KeyValue: kv}
	sname := types.NewPrincipalName(nametype.KRB_NT_PRINCIPAL, service)
	etp := messages.EncTicketPart{
		Flags:     types.NewKrbFlags(),
		Key:       sessionKey,
		CRealm:    realm,
		CName:     types.NewPrincipalName(nametype.KRB_NT_PRINCIPAL, client),
		Transited: messages.TransitedEncoding{TRType: 1},
		AuthTime:  start.UTC().Truncate(time.Second),
		StartTime: start.UTC().Truncate(time.Second),
		EndTime:   end.UTC().Truncate(time.Second),
	}
	b, err := asn1.Marshal(etp)
	if err != nil {
		return messages.Ticket{}, types.EncryptionKey{}, err
	}
	b = asn1tools.AddASNAppTag(b, asnAppTag.EncTicketPart)
	skey, kvno, err := kt.GetEncryptionKey(sname, realm, 0, sessionEtype)
	if err != nil {
		return messages.Ticket{}, types.EncryptionKey{}, err
	}
	ed, err := crypto.GetEncryptedData(b, skey, keyusage.KDC_REP_TICKET, kvno)
	if err != nil {
		return messages.Ticket{}, types.EncryptionKey{}, err
	}
	return messages.Ticket{TktVNO: iana.PVNO, Realm: realm, SName: sname, EncPart: ed}, sessionKey, nil
}

// Cred is one credentials-cache entry.
type Cred struct {
	Server     types.PrincipalName // e.g. krbtgt/REALM or ldap/localhost
	Ticket     messages.Ticket
	Key        types.EncryptionKey
	Start, End time.Time
}

// WriteCCache writes an MIT FILE ccache (version 4) for client@realm
// holding creds.
func WriteCCache(path, realm, client string, creds ...Cred) error {
	cname := types.NewPrincipalName(nametype.KRB_NT_PRINCIPAL, client)
	recs := make([]ccfile.Credential, len(creds))
	for i, c := range creds {
		tb, err := c.Ticket.Marshal()
		if err != nil {
			return err
		}
		recs[i] = ccfile.Credential{Client: cname, ClientRealm: realm, Server: c.Server, ServerRealm: realm, Key: c.Key,
			AuthTime: c.Start, StartTime: c.Start, EndTime: c.End, RenewTill: c.End, Ticket: tb}
	}
	return os.WriteFile(path, ccfile.Marshal(cname, realm, recs...), 0o600)
}
