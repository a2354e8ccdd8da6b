package gss

import (
	"bytes"
	"testing"

	"github.com/jcmturner/gokrb5/v8/iana/flags"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"
)

// TestNewAPReqMatchesGokrb5: the AP-REQ the initiator builds with this
// package's cryptography is gokrb5's: gokrb5 decodes it and decrypts
// the authenticator (for a service and for a krbtgt ticket, whose key
// usage differs), every enctype, with the fields and kvno NewAPReq
// would have set.
func TestNewAPReqMatchesGokrb5(t *testing.T) {
	for _, et := range allEnctypes {
		for _, service := range []string{testService, "krbtgt/" + testRealm} {
			tkt, key := makeTicket(t, ticketSpec{sessionEtype: et})
			// Only the name chooses the authenticator's key usage.
			tkt.SName = types.NewPrincipalName(tkt.SName.NameType, service)
			tkt.EncPart.KVNO = 7
			ini, tok, err := newInitiatorFromTicket(tkt.SName, testRealm, tkt, key, testConfig(), initOptions{})
			if err != nil {
				t.Fatal(err)
			}
			_, inner, err := decodeContextToken(tok)
			if err != nil {
				t.Fatal(err)
			}
			var req messages.APReq
			if err := req.Unmarshal(inner); err != nil {
				t.Fatalf("%s %s: gokrb5 cannot decode the AP-REQ: %v", enctypeName(et), service, err)
			}
			if err := req.DecryptAuthenticator(key); err != nil {
				t.Fatalf("%s %s: gokrb5 cannot decrypt the authenticator: %v", enctypeName(et), service, err)
			}
			a, ed := req.Authenticator, req.EncryptedAuthenticator
			if ed.EType != key.KeyType || ed.KVNO != 7 {
				t.Errorf("%s %s: EncryptedData etype %d kvno %d, want %d and the ticket's 7", enctypeName(et), service, ed.EType, ed.KVNO, key.KeyType)
			}
			if !a.CName.Equal(tkt.SName) || a.CRealm != testRealm || uint64(a.SeqNumber) != ini.seq ||
				!a.CTime.Equal(ini.ctime) || a.Cusec != ini.cusec || a.SubKey.KeyType != ini.subkey.KeyType || !bytes.Equal(a.SubKey.KeyValue, ini.subkey.KeyValue) {
				t.Errorf("%s %s: authenticator %+v does not carry the initiator's fields", enctypeName(et), service, a)
			}
			if !types.IsFlagSet(&req.APOptions, flags.APOptionMutualRequired) {
				t.Errorf("%s %s: ap-options %v lack mutual-required", enctypeName(et), service, req.APOptions)
			}
		}
	}
}
