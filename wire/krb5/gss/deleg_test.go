package gss

import (
	"crypto/rand"
	"strings"
	"testing"
	"time"

	"github.com/jcmturner/gokrb5/v8/iana/nametype"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"
)

func testDelegated(t *testing.T) *Delegated {
	t.Helper()
	key, err := newKey(rand.Reader, 18)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	krbtgt := types.PrincipalName{NameType: nametype.KRB_NT_SRV_INST, NameString: []string{"krbtgt", "R.TEST"}}
	return &Delegated{
		Ticket: messages.Ticket{TktVNO: 5, Realm: "R.TEST", SName: krbtgt,
			EncPart: types.EncryptedData{EType: 18, KVNO: 1, Cipher: []byte("opaque ticket ciphertext of forty-odd bytes")}},
		Info: messages.KrbCredInfo{Key: key, PRealm: "R.TEST",
			PName: types.PrincipalName{NameType: nametype.KRB_NT_PRINCIPAL, NameString: []string{"alice"}},
			Flags: types.NewKrbFlags(), AuthTime: now, EndTime: now.Add(time.Hour), SRealm: "R.TEST", SName: krbtgt},
	}
}

// TestKRBCredRoundTrip: what marshalKRBCred builds decrypts with the same
// key only, and carries the ticket and key unchanged.
func TestKRBCredRoundTrip(t *testing.T) {
	d := testDelegated(t)
	sess, _ := newKey(rand.Reader, 18)
	other, _ := newKey(rand.Reader, 18)
	b, err := marshalKRBCred(d, sess)
	if err != nil {
		t.Fatal(err)
	}
	got, err := parseKRBCred(b, other, sess)
	if err != nil {
		t.Fatal(err)
	}
	if got.Client() != "alice@R.TEST" || string(got.Info.Key.KeyValue) != string(d.Info.Key.KeyValue) ||
		string(got.Ticket.EncPart.Cipher) != string(d.Ticket.EncPart.Cipher) || !got.Info.EndTime.Equal(d.Info.EndTime) {
		t.Fatalf("round trip changed the credential: %+v", got.Info)
	}
	if _, err := parseKRBCred(b, other); err == nil {
		t.Fatal("KRB-CRED decrypted with the wrong key")
	}
	got.Wipe()
	if !got.Wiped() {
		t.Fatal("Wipe left key bytes")
	}
}

// TestDelegField: the checksum's delegation fields are read exactly and
// bad ones refused.
func TestDelegField(t *testing.T) {
	c, err := gssChecksumDeleg(initiatorFlags, []byte("cred"))
	if err != nil {
		t.Fatal(err)
	}
	if f, _ := parseGSSChecksum(c); f&flagDeleg == 0 {
		t.Fatalf("flags %#x lack deleg", f)
	}
	if b, err := delegField(c); err != nil || string(b) != "cred" {
		t.Fatalf("delegField = %q, %v", b, err)
	}
	if b, err := delegField(gssChecksum(initiatorFlags | flagDeleg)); b != nil || err != nil {
		t.Fatalf("no Deleg field: %q, %v", b, err)
	}
	bad := types.Checksum{CksumType: c.CksumType, Checksum: append([]byte(nil), c.Checksum...)}
	bad.Checksum[24] = 2
	if _, err := delegField(bad); err == nil || !strings.Contains(err.Error(), "DlgOpt") {
		t.Fatalf("DlgOpt 2: %v", err)
	}
	short := types.Checksum{CksumType: c.CksumType, Checksum: c.Checksum[:len(c.Checksum)-1]}
	if _, err := delegField(short); err == nil {
		t.Fatal("truncated Deleg accepted")
	}
	if _, err := gssChecksumDeleg(initiatorFlags, make([]byte, 1<<16)); err == nil {
		t.Fatal("oversized KRB-CRED accepted")
	}
}
