package krb5

import (
	"testing"
	"time"

	"github.com/jcmturner/gokrb5/v8/credentials"
	"github.com/jcmturner/gokrb5/v8/iana/nametype"
	"github.com/jcmturner/gokrb5/v8/types"
)

// TestMarshalCCacheRoundTrip checks our writer against gokrb5's reader,
// field by field.
func TestMarshalCCacheRoundTrip(t *testing.T) {
	auth := time.Unix(1700000000, 0)
	c := Credential{
		Client:      types.NewPrincipalName(nametype.KRB_NT_PRINCIPAL, "alice/admin"),
		Server:      types.NewPrincipalName(nametype.KRB_NT_SRV_INST, "krbtgt/EXAMPLE.ORG"),
		ClientRealm: "EXAMPLE.ORG",
		ServerRealm: "EXAMPLE.ORG",
		Key:         types.EncryptionKey{KeyType: 18, KeyValue: []byte("0123456789abcdef0123456789abcdef")},
		AuthTime:    auth,
		StartTime:   auth,
		EndTime:     auth.Add(10 * time.Hour),
		RenewTill:   auth.Add(7 * 24 * time.Hour),
		Flags:       []byte{0x40, 0xe1, 0x00, 0x00},
		Ticket:      []byte{0x61, 0x03, 0x02, 0x01, 0x05},
	}
	b := MarshalCCache(c)
	if b[0] != 5 || b[1] != 4 {
		t.Fatalf("version bytes %x", b[:2])
	}
	var cc credentials.CCache
	if err := cc.Unmarshal(b); err != nil {
		t.Fatal(err)
	}
	if got := cc.DefaultPrincipal.PrincipalName.PrincipalNameString(); got != "alice/admin" || cc.DefaultPrincipal.Realm != "EXAMPLE.ORG" {
		t.Fatalf("default principal %s@%s", got, cc.DefaultPrincipal.Realm)
	}
	e, ok := cc.GetEntry(c.Server)
	if !ok {
		t.Fatalf("no entry for the TGT; entries: %+v", cc.GetEntries())
	}
	if e.Key.KeyType != 18 || string(e.Key.KeyValue) != string(c.Key.KeyValue) {
		t.Errorf("key %+v", e.Key)
	}
	if !e.AuthTime.Equal(auth) || !e.EndTime.Equal(c.EndTime) || !e.RenewTill.Equal(c.RenewTill) || !e.StartTime.Equal(auth) {
		t.Errorf("times %v %v %v %v", e.AuthTime, e.StartTime, e.EndTime, e.RenewTill)
	}
	if string(e.TicketFlags.Bytes) != string(c.Flags) {
		t.Errorf("flags %x", e.TicketFlags.Bytes)
	}
	if string(e.Ticket) != string(c.Ticket) || len(e.SecondTicket) != 0 {
		t.Errorf("ticket %x second %x", e.Ticket, e.SecondTicket)
	}
}
