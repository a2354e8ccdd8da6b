package gss

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jcmturner/gokrb5/v8/iana/etypeID"
	"github.com/jcmturner/gokrb5/v8/iana/flags"
	"github.com/jcmturner/gokrb5/v8/iana/nametype"
	"github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"

	"github.com/csclub/ceo/wire/krb5/rcache"
)

// TestAPReqEncoding pins the initial context token layout against the
// legacy capture: 60 82 LL LL 06 09 <krb5 OID> 01 00 6e ...
func TestAPReqEncoding(t *testing.T) {
	_, tok := newTestInitiator(t, ticketSpec{}, testConfig(), initOptions{})
	want := []byte{0x60, 0x82}
	if !bytes.HasPrefix(tok, want) || int(tok[2])<<8|int(tok[3]) != len(tok)-4 {
		t.Fatalf("framing % x (len %d)", tok[:4], len(tok))
	}
	if !bytes.Equal(tok[4:15], krb5OID) || tok[15] != 0x01 || tok[16] != 0x00 || tok[17] != 0x6e {
		t.Fatalf("header % x", tok[:18])
	}
	var req messages.APReq
	if err := req.Unmarshal(tok[17:]); err != nil {
		t.Fatal(err)
	}
	if !types.IsFlagSet(&req.APOptions, flags.APOptionMutualRequired) {
		t.Error("mutual-required ap-option not set")
	}
}

func TestAccept(t *testing.T) {
	i, tok := newTestInitiator(t, ticketSpec{}, testConfig(), initOptions{})
	ctx, rep, err := testAcceptor(t).Accept(tok)
	if err != nil {
		t.Fatal(err)
	}
	if ctx.flags&initiatorFlags != initiatorFlags {
		t.Errorf("context flags %#x", ctx.flags)
	}
	id, inner, err := decodeContextToken(rep)
	if err != nil || id != tokAPRep || inner[0] != 0x6f {
		t.Fatalf("AP-REP token: id %04x err %v", id, err)
	}
	enc, err := openAPRep(inner, i.sessionKey)
	if err != nil {
		t.Fatal(err)
	}
	if enc.Subkey.KeyType != 18 || bytes.Equal(enc.Subkey.KeyValue, i.subkey.KeyValue) || enc.SequenceNumber == 0 ||
		enc.SequenceNumber > 0x3fffffff {
		t.Errorf("EncAPRepPart subkey type %d seq %d", enc.Subkey.KeyType, enc.SequenceNumber)
	}

	// Principal "" accepts any service in the keytab.
	_, tok = newTestInitiator(t, ticketSpec{service: "other/localhost"}, testConfig(), initOptions{})
	if _, _, err := (&Acceptor{Keytab: serviceKeytab(t)}).Accept(tok); err != nil {
		t.Fatalf("any-principal acceptor: %v", err)
	}
	// A missing authenticator subkey is fine; the acceptor subkey then
	// takes the session key's enctype.
	_, tok = newTestInitiator(t, ticketSpec{sessionEtype: 17}, testConfig(), initOptions{noSubkey: true})
	if ctx, _, err := testAcceptor(t).Accept(tok); err != nil || ctx.Enctype() != 17 {
		t.Fatalf("no initiator subkey: %v", err)
	}
}

func TestAcceptRejects(t *testing.T) {
	cfg := testConfig()
	apreq := func(s ticketSpec, c Config, o initOptions) []byte {
		_, tok := newTestInitiator(t, s, c, o)
		return tok
	}
	replayed := apreq(ticketSpec{}, cfg, initOptions{})
	shared := testAcceptor(t) // its replay cache has seen replayed
	if _, _, err := shared.Accept(replayed); err != nil {
		t.Fatal(err)
	}
	skewed := cfg
	skewed.Now = func() time.Time { return testNow().Add(10 * time.Minute) }
	otherKT := keytab.New()
	if err := otherKT.AddEntry(testService, testRealm, "not-the-key", time.Now(), 1, 18); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		acc  *Acceptor
		tok  []byte
		want string // substring of the error
		is   error  // or an error it must wrap
	}{
		{name: "empty", tok: nil, is: ErrDefectiveToken},
		{name: "garbage", tok: []byte("hello, world"), is: ErrDefectiveToken},
		{name: "wrong OID", tok: mutate(apreq(ticketSpec{}, cfg, initOptions{}), 14, 0x03), is: ErrDefectiveToken},
		{name: "wrong TOK_ID", tok: mutate(apreq(ticketSpec{}, cfg, initOptions{}), 15, 0x02), is: ErrDefectiveToken},
		{name: "bad length", tok: mutate(apreq(ticketSpec{}, cfg, initOptions{}), 3, 0x01), is: ErrDefectiveToken},
		{name: "tampered authenticator", tok: flipLast(apreq(ticketSpec{}, cfg, initOptions{}), 20), want: "AP-REQ rejected"},
		{name: "replayed", acc: shared, tok: replayed, is: rcache.ErrReplay},
		{name: "expired ticket", tok: apreq(ticketSpec{start: time.Now().Add(-3 * time.Hour), end: time.Now().Add(-time.Hour)}, cfg, initOptions{}), want: "expired"},
		{name: "future ticket", tok: apreq(ticketSpec{start: time.Now().Add(time.Hour), end: time.Now().Add(2 * time.Hour)}, cfg, initOptions{}), want: "not yet valid"},
		{name: "clock skew", tok: apreq(ticketSpec{}, skewed, initOptions{}), want: "skew"},
		{name: "missing CONF", tok: apreq(ticketSpec{}, cfg, initOptions{gssFlags: flagMutual | flagInteg | flagSequence}), is: ErrContextFlags},
		{name: "missing INTEG", tok: apreq(ticketSpec{}, cfg, initOptions{gssFlags: flagMutual | flagConf}), is: ErrContextFlags},
		{name: "missing MUTUAL", tok: apreq(ticketSpec{}, cfg, initOptions{gssFlags: flagConf | flagInteg}), is: ErrContextFlags},
		{name: "no checksum", tok: apreq(ticketSpec{}, cfg, initOptions{noCksum: true}), want: "checksum"},
		{name: "user-to-user", tok: apreq(ticketSpec{}, cfg, initOptions{apOptions: []int{flags.APOptionUseSessionKey}}), want: "user-to-user"},
		{name: "other service", tok: apreq(ticketSpec{service: "other/localhost"}, cfg, initOptions{}), want: "not ceod/localhost"},
		{name: "wrong service key", acc: &Acceptor{Keytab: otherKT, Principal: testService}, tok: apreq(ticketSpec{}, cfg, initOptions{}), want: "AP-REQ rejected"},
		{name: "empty keytab", acc: &Acceptor{Keytab: keytab.New()}, tok: apreq(ticketSpec{}, cfg, initOptions{}), want: "AP-REQ rejected"},
		{name: "no keytab", acc: &Acceptor{}, tok: apreq(ticketSpec{}, cfg, initOptions{}), want: "no keytab"},
		{name: "rc4 session key", tok: rc4APReq(t), want: "unsupported enctype 23"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			acc := tc.acc
			if acc == nil {
				acc = testAcceptor(t)
			}
			ctx, out, err := acc.Accept(tc.tok)
			mustNotPanicErr(t, err)
			if err == nil {
				t.Fatal("accepted")
			}
			if ctx != nil || out != nil {
				t.Error("context or token returned with an error")
			}
			wantErr(t, err, tc.is, tc.want)
		})
	}
}

// TestAcceptTruncated feeds every prefix of a valid AP-REQ token.
func TestAcceptTruncated(t *testing.T) {
	_, tok := newTestInitiator(t, ticketSpec{}, testConfig(), initOptions{})
	acc := testAcceptor(t)
	for n := 0; n < len(tok); n++ {
		if _, _, err := acc.Accept(tok[:n]); err == nil {
			t.Fatalf("prefix of %d bytes accepted", n)
		} else {
			mustNotPanicErr(t, err)
		}
	}
	if _, _, err := acc.Accept(append(bytes.Clone(tok), 0)); err == nil {
		t.Fatal("trailing byte accepted")
	}
}

// TestAcceptBitFlips flips one bit at a time in fresh AP-REQs (fresh to
// stay clear of the replay cache). A flip inside the ticket or
// authenticator ciphertext must be rejected. A flip elsewhere must not
// panic; it may be accepted when it only touches unauthenticated encoding
// that gokrb5 ignores (ap-option bits, name types, or ASN.1 lengths and
// tag bits that gofork's lenient BER parser skips over), but then the
// authenticated content is unchanged, so the untouched token must be
// refused as a replay: malleability must not defeat the replay cache.
func TestAcceptBitFlips(t *testing.T) {
	acc := testAcceptor(t)
	_, tok := newTestInitiator(t, ticketSpec{}, testConfig(), initOptions{})
	var req messages.APReq
	if err := req.Unmarshal(tok[17:]); err != nil {
		t.Fatal(err)
	}
	inCipher := func(pos int) bool {
		for _, c := range [][]byte{req.Ticket.EncPart.Cipher, req.EncryptedAuthenticator.Cipher} {
			if i := bytes.Index(tok, c); i >= 0 && pos >= i && pos < i+len(c) {
				return true
			}
		}
		return false
	}
	for pos := 0; pos < len(tok); pos++ {
		if inCipher(pos) && pos%5 != 0 {
			continue
		}
		_, orig := newTestInitiator(t, ticketSpec{}, testConfig(), initOptions{})
		flipped := bytes.Clone(orig)
		flipped[pos] ^= 0x10
		_, _, err := acc.Accept(flipped)
		mustNotPanicErr(t, err)
		if err != nil {
			continue
		}
		if inCipher(pos) {
			t.Fatalf("flip in ciphertext at %d accepted", pos)
		}
		if _, _, err := acc.Accept(orig); err == nil || !strings.Contains(err.Error(), "replay") {
			t.Fatalf("flip at %d accepted, then the original was not a replay: %v", pos, err)
		}
	}
}

// rc4APReq builds an AP-REQ whose ticket carries an rc4-hmac session key,
// which this package must refuse by name.
func rc4APReq(t *testing.T) []byte {
	tkt, key := makeTicket(t, ticketSpec{sessionEtype: etypeID.RC4_HMAC, ticketEtype: 18})
	auth, err := types.NewAuthenticator(testRealm, types.NewPrincipalName(nametype.KRB_NT_PRINCIPAL, testClient))
	if err != nil {
		t.Fatal(err)
	}
	auth.Cksum = gssChecksum(initiatorFlags)
	req, err := messages.NewAPReq(tkt, key, auth)
	if err != nil {
		t.Fatal(err)
	}
	b, err := req.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return encodeContextToken(tokAPReq, b)
}

func mutate(b []byte, pos int, v byte) []byte {
	b = bytes.Clone(b)
	b[pos] = v
	return b
}

// flipLast flips a byte n bytes from the end: inside the encrypted
// authenticator, which is last in an AP-REQ.
func flipLast(b []byte, n int) []byte {
	b = bytes.Clone(b)
	b[len(b)-n] ^= 0x01
	return b
}

// TestAcceptEqualTimestamps: AP-REQs of one client with the same
// authenticator time (MIT clients in parallel processes send them) are
// distinct authenticators and all accepted; resending one is a replay.
func TestAcceptEqualTimestamps(t *testing.T) {
	fixed := time.Now().Truncate(time.Microsecond)
	cfg := Config{Now: func() time.Time { return fixed }} // no Stamps: times repeat
	acc := testAcceptor(t)
	var toks [][]byte
	for range 8 {
		_, tok := newTestInitiator(t, ticketSpec{client: "equal-times"}, cfg, initOptions{})
		toks = append(toks, tok)
	}
	for i, tok := range toks {
		if _, _, err := acc.Accept(tok); err != nil {
			t.Fatalf("AP-REQ %d with an equal timestamp refused: %v", i, err)
		}
	}
	for i, tok := range toks {
		if _, _, err := acc.Accept(tok); !errors.Is(err, rcache.ErrReplay) {
			t.Fatalf("replay of AP-REQ %d: %v, want rcache.ErrReplay", i, err)
		}
	}
}

// TestAcceptRefusesMutatedFraming changes, one at a time, every byte of
// an AP-REQ token up to its ticket's ciphertext (the framing no checksum
// covers: lengths, tags, OID, TOK_ID, versions, the ticket's realm,
// name, enctype and kvno) and requires each such token to be refused,
// except for the ap-options flag bits and the service name's name-type,
// values that MIT ignores too.
func TestAcceptRefusesMutatedFraming(t *testing.T) {
	cfg := testConfig()
	_, tok := newTestInitiator(t, ticketSpec{}, cfg, initOptions{})
	if _, _, err := testAcceptor(t).Accept(tok); err != nil {
		t.Fatal(err)
	}
	apOpts := bytes.Index(tok, []byte{0xa2, 0x07, 0x03, 0x05, 0x00}) + 5
	_, inner, _ := decodeContextToken(tok)
	var req messages.APReq
	if err := req.Unmarshal(inner); err != nil || apOpts < 5 {
		t.Fatalf("test token: %v, ap-options at %d", err, apOpts)
	}
	end := bytes.Index(tok, req.Ticket.EncPart.Cipher)
	realmEnd := bytes.Index(tok, []byte(testRealm)) + len(testRealm)
	nameType := realmEnd + bytes.Index(tok[realmEnd:], []byte{0xa0, 0x03, 0x02, 0x01}) + 4
	tried := 0
	for i := 0; i < end; i++ {
		if i >= apOpts && i < apOpts+4 || i == nameType {
			continue
		}
		for _, x := range []byte{0x01, 0x80, 0xff} {
			m := bytes.Clone(tok)
			m[i] ^= x
			tried++
			if _, _, err := testAcceptor(t).Accept(m); err == nil {
				t.Errorf("byte %d (%#02x) xor %#02x accepted", i, tok[i], x)
			}
		}
	}
	// Non-minimal lengths, which re-encode to the same values.
	if tok[1] != 0x82 {
		t.Fatalf("test token's length is not in two octets: % x", tok[:4])
	}
	long := append([]byte{0x60, 0x83, 0x00}, tok[2:]...)
	if _, _, err := testAcceptor(t).Accept(long); err == nil {
		t.Error("non-minimal outer length accepted")
	}
	t.Logf("%d single-byte changes refused", tried)
}

// staleKeytab is a KeytabRefresher whose Keytab is out of date until
// Refresh is called.
type staleKeytab struct {
	stale, fresh *keytab.Keytab
	refreshes    int
}

func (s *staleKeytab) Keytab() (*keytab.Keytab, error) { return s.stale, nil }

func (s *staleKeytab) Refresh() (*keytab.Keytab, error) {
	s.refreshes++
	return s.fresh, nil
}

// TestAcceptRefreshesKeytab: a ticket for a key the keytab in hand lacks
// (a rotation not yet seen) makes the acceptor refresh its KeytabRefresher
// and verify again; a ticket the refreshed keytab cannot open either is
// refused; a good ticket costs no refresh.
func TestAcceptRefreshesKeytab(t *testing.T) {
	src := &staleKeytab{stale: keytab.New(), fresh: serviceKeytab(t)}
	acc := &Acceptor{Keys: src, Principal: testService}
	_, tok := newTestInitiator(t, ticketSpec{}, testConfig(), initOptions{})
	if _, _, err := acc.Accept(tok); err != nil || src.refreshes != 1 {
		t.Fatalf("Accept with a stale keytab: %v after %d refreshes", err, src.refreshes)
	}

	src.stale = src.fresh
	_, tok = newTestInitiator(t, ticketSpec{}, testConfig(), initOptions{})
	if _, _, err := acc.Accept(tok); err != nil || src.refreshes != 1 {
		t.Fatalf("Accept with a current keytab: %v after %d refreshes", err, src.refreshes)
	}

	src.stale, src.fresh = keytab.New(), keytab.New()
	_, tok = newTestInitiator(t, ticketSpec{}, testConfig(), initOptions{})
	_, _, err := acc.Accept(tok)
	if !errors.Is(err, errServiceKey) || src.refreshes != 2 {
		t.Fatalf("Accept with no key: %v after %d refreshes", err, src.refreshes)
	}
}
