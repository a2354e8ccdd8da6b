package gss

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jcmturner/gokrb5/v8/iana/errorcode"
	"github.com/jcmturner/gokrb5/v8/iana/nametype"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"
)

// pair returns a fresh initiator and the acceptor's AP-REP for it.
func pair(t *testing.T) (*Initiator, []byte) {
	t.Helper()
	i, tok := newTestInitiator(t, ticketSpec{}, testConfig(), initOptions{})
	_, rep, err := testAcceptor(t).Accept(tok)
	if err != nil {
		t.Fatal(err)
	}
	return i, rep
}

func krbErrorToken(t testing.TB, code int32, text string) []byte {
	t.Helper()
	ke := messages.NewKRBError(types.NewPrincipalName(nametype.KRB_NT_PRINCIPAL, testService), testRealm, code, text)
	b, err := ke.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return encodeContextToken(tokKRBError, b)
}

func TestStepRejects(t *testing.T) {
	_, otherRep := pair(t) // same kind of AP-REP, different session key
	i2, _ := newTestInitiator(t, ticketSpec{}, testConfig(), initOptions{})
	// An AP-REP for a second AP-REQ with the same ticket: it decrypts,
	// but echoes the other authenticator's time.
	tkt, key := makeTicket(t, ticketSpec{})
	cname := types.NewPrincipalName(nametype.KRB_NT_PRINCIPAL, testClient)
	first, _, err := newInitiatorFromTicket(cname, testRealm, tkt, key, testConfig(), initOptions{})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Microsecond)
	_, tok2, err := newInitiatorFromTicket(cname, testRealm, tkt, key, testConfig(), initOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, repForSecond, err := testAcceptor(t).Accept(tok2)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		ini  *Initiator
		tok  []byte
		want string
		is   error
	}{
		{name: "empty", tok: nil, is: ErrDefectiveToken},
		{name: "AP-REP of another session", tok: otherRep, want: "mutual authentication failed"},
		{name: "AP-REP of another authenticator", ini: first, tok: repForSecond, want: "mutual authentication failed"},
		{name: "AP-REQ instead", tok: func() []byte { _, tok := newTestInitiator(t, ticketSpec{}, testConfig(), initOptions{}); return tok }(), is: ErrDefectiveToken},
		{name: "wrong OID", tok: mutate(otherRep, 5, 0x2b), is: ErrDefectiveToken},
		{name: "garbage AP-REP", tok: encodeContextToken(tokAPRep, []byte{0x6f, 0x03, 0x02, 0x01, 0x05}), is: ErrDefectiveToken},
		{name: "garbage KRB-ERROR", tok: encodeContextToken(tokKRBError, []byte{0x7e, 0x00}), is: ErrDefectiveToken},
		{name: "unknown TOK_ID", tok: encodeContextToken(0x0400, nil), is: ErrDefectiveToken},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ini := tc.ini
			if ini == nil {
				ini = i2
			}
			ctx, err := ini.Step(tc.tok)
			mustNotPanicErr(t, err)
			if err == nil || ctx != nil {
				t.Fatalf("Step succeeded")
			}
			wantErr(t, err, tc.is, tc.want)
		})
	}
}

func TestStepKRBError(t *testing.T) {
	i, _ := newTestInitiator(t, ticketSpec{}, testConfig(), initOptions{})
	_, err := i.Step(krbErrorToken(t, errorcode.KRB_AP_ERR_SKEW, "clock\nskew"))
	var ke *KRBError
	if !errors.As(err, &ke) {
		t.Fatalf("err = %v, want a *KRBError", err)
	}
	if ke.Code != errorcode.KRB_AP_ERR_SKEW || ke.Text != "clock\nskew" {
		t.Errorf("KRBError = %+v", ke)
	}
	if s := err.Error(); !strings.Contains(s, "KRB_AP_ERR_SKEW") || strings.Contains(s, "\n") {
		t.Errorf("message %q should name the code and quote the text", s)
	}
}

// TestStepTamperedAndTruncated: every prefix and every single-bit flip of
// a valid AP-REP fails without panicking, and the initiator still accepts
// the genuine AP-REP afterwards (a failed Step changes nothing).
func TestStepTamperedAndTruncated(t *testing.T) {
	i, rep := pair(t)
	for n := 0; n < len(rep); n++ {
		_, err := i.Step(rep[:n])
		mustNotPanicErr(t, err)
		if err == nil {
			t.Fatalf("prefix of %d bytes accepted", n)
		}
	}
	_, inner, err := decodeContextToken(rep)
	if err != nil {
		t.Fatal(err)
	}
	var ap messages.APRep
	if err := ap.Unmarshal(inner); err != nil {
		t.Fatal(err)
	}
	cstart := bytes.Index(rep, ap.EncPart.Cipher)
	if cstart < 0 {
		t.Fatal("ciphertext not found")
	}
	accepted := 0
	for pos := 0; pos < len(rep); pos++ {
		for bit := 0; bit < 8; bit++ {
			flipped := bytes.Clone(rep)
			flipped[pos] ^= 1 << bit
			ctx, err := (&Initiator{
				sessionKey: i.sessionKey, subkey: i.subkey, seq: i.seq, ctime: i.ctime, cusec: i.cusec, target: i.target,
			}).Step(flipped)
			mustNotPanicErr(t, err)
			if err == nil {
				// Only envelope bits (ASN.1 the lenient parser
				// skips over) can be accepted, never the
				// authenticated EncAPRepPart.
				if pos >= cstart {
					t.Fatalf("flip of bit %d at %d (in the ciphertext) accepted", bit, pos)
				}
				if ctx.recvSeq != i.seqFromRep(t, rep) {
					t.Fatalf("flip at %d changed the sequence number", pos)
				}
				accepted++
			}
		}
	}
	t.Logf("%d of %d envelope flips accepted", accepted, len(rep)*8)
	if _, err := i.Step(rep); err != nil {
		t.Fatalf("genuine AP-REP after failures: %v", err)
	}
	if _, err := i.Step(rep); err == nil {
		t.Fatal("second successful Step")
	}
}

// TestStepWithoutAcceptorSubkey: an acceptor that sends no subkey (legal,
// though MIT never does) leaves both sides on the initiator's subkey with
// the AcceptorSubkey flag clear.
func TestStepWithoutAcceptorSubkey(t *testing.T) {
	i, tok := newTestInitiator(t, ticketSpec{sessionEtype: 17}, testConfig(), initOptions{})
	acc, _, err := testAcceptor(t).Accept(tok)
	if err != nil {
		t.Fatal(err)
	}
	set, err := checkKey(i.sessionKey)
	if err != nil {
		t.Fatal(err)
	}
	d, err := newDeriver(set, i.sessionKey.KeyValue)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := marshalAPRep(messages.EncAPRepPart{CTime: i.ctime, Cusec: i.cusec, SequenceNumber: 77}, i.sessionKey, d, nil)
	if err != nil {
		t.Fatal(err)
	}
	ini, err := i.Step(rep)
	if err != nil {
		t.Fatal(err)
	}
	if ini.acceptorSubkey || !bytes.Equal(ini.key.KeyValue, i.subkey.KeyValue) || ini.recvSeq != 77 {
		t.Fatalf("context key/flag/seq wrong: %v %d", ini.acceptorSubkey, ini.recvSeq)
	}
	// The matching acceptor end, as another implementation would hold it.
	peer := newContext(false, i.subkey, ini.et, false, "alice@TEST.REALM", 0, 77, acc.recvSeq)
	tok1, _ := ini.Wrap([]byte("ping"))
	if tok1[2] != flagSealed {
		t.Errorf("flags %#x, want Sealed only", tok1[2])
	}
	if got, err := peer.Unwrap(tok1); err != nil || string(got) != "ping" {
		t.Fatalf("Unwrap: %q %v", got, err)
	}
	tok2, _ := peer.Wrap([]byte("pong"))
	if got, err := ini.Unwrap(tok2); err != nil || string(got) != "pong" {
		t.Fatalf("Unwrap: %q %v", got, err)
	}
	// Our acceptor's context, which does hold an acceptor subkey, refuses
	// tokens without the flag.
	tok3, _ := ini.Wrap([]byte("x"))
	if _, err := acc.Unwrap(tok3); !errors.Is(err, ErrDefectiveToken) {
		t.Fatalf("token without AcceptorSubkey flag: err = %v", err)
	}
}

// seqFromRep returns the acceptor's sequence number in an AP-REP for i.
func (i *Initiator) seqFromRep(t *testing.T, rep []byte) uint64 {
	t.Helper()
	_, inner, err := decodeContextToken(rep)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := openAPRep(inner, i.sessionKey)
	if err != nil {
		t.Fatal(err)
	}
	return uint64(enc.SequenceNumber)
}
