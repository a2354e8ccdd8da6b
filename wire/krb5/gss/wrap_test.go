package gss

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
)

// sealCustom builds a sealed token as another implementation might: with
// EC filler bytes and the body rotated right by rrc.
func sealCustom(t testing.TB, c *Context, msg []byte, ec, rrc uint16) []byte {
	t.Helper()
	seq, err := c.nextSendSeq()
	if err != nil {
		t.Fatal(err)
	}
	pt := append(bytes.Clone(msg), bytes.Repeat([]byte{0xaa}, int(ec))...)
	pt = append(pt, c.header(true, ec, 0, seq)...) // RRC is 0 in the encrypted copy
	_, ct, err := c.et.EncryptMessage(c.key.KeyValue, pt, sealUsage(c.initiator))
	if err != nil {
		t.Fatal(err)
	}
	return append(c.header(true, ec, rrc, seq), rotateRight(ct, int(rrc))...)
}

// integrityCustom builds an integrity-only token rotated right by rrc, as
// Active Directory sends them (RRC 12 or 28).
func integrityCustom(t testing.TB, c *Context, msg []byte, rrc uint16) []byte {
	t.Helper()
	tok, err := c.WrapIntegrity(msg)
	if err != nil {
		t.Fatal(err)
	}
	binary.BigEndian.PutUint16(tok[6:8], rrc)
	return append(tok[:16], rotateRight(tok[16:], int(rrc))...)
}

func rotateRight(b []byte, n int) []byte {
	if len(b) == 0 {
		return b
	}
	n %= len(b)
	return append(bytes.Clone(b[len(b)-n:]), b[:len(b)-n]...)
}

// openers are the ways a context opens a token: Unwrap, which leaves it
// as it is, and unwrapInPlace (under UnwrapSealedInPlace), which
// overwrites it. Every check must hold for both.
var openers = []struct {
	name string
	open func(c *Context, tok []byte) ([]byte, error)
}{
	{"Unwrap", func(c *Context, tok []byte) ([]byte, error) {
		orig := bytes.Clone(tok)
		msg, err := c.Unwrap(tok)
		if !bytes.Equal(tok, orig) {
			return nil, errors.New("Unwrap changed its token")
		}
		return msg, err
	}},
	{"in place", func(c *Context, tok []byte) ([]byte, error) { return c.unwrapInPlace(bytes.Clone(tok)) }},
}

func TestUnwrapHonoursRRCAndEC(t *testing.T) {
	for _, et := range allEnctypes {
		for _, o := range openers {
			ini, acc := establish(t, et)
			msg := []byte("rotated and padded message")
			cases := []struct {
				name string
				tok  []byte
			}{
				{"sealed rrc 28", sealCustom(t, ini, msg, 0, 28)},
				{"sealed ec 5", sealCustom(t, ini, msg, 5, 0)},
				{"sealed ec 16 rrc 44", sealCustom(t, ini, msg, 16, 44)},
				{"sealed rrc > len", sealCustom(t, ini, msg, 0, 1000)},
				{"integrity rrc 12", integrityCustom(t, ini, msg, 12)},
				{"integrity rrc 0", integrityCustom(t, ini, msg, 0)},
			}
			for _, tc := range cases {
				got, err := o.open(acc, tc.tok)
				if err != nil || !bytes.Equal(got, msg) {
					t.Errorf("%s %s %s: %q, %v", o.name, enctypeName(et), tc.name, got, err)
				}
			}
		}
	}
}

func TestUnwrapRejects(t *testing.T) {
	ini, acc := establish(t, 18)
	own, _ := acc.Wrap([]byte("mine"))
	first, _ := ini.Wrap([]byte("first"))
	tests := []struct {
		name string
		tok  []byte
		is   error
	}{
		{"empty", nil, ErrDefectiveToken},
		{"header only", first[:16], ErrDefectiveToken},
		{"wrong TOK_ID", mutate(first, 1, 0x05), ErrDefectiveToken},
		{"MIC token", mutate(first, 0, 0x04), ErrDefectiveToken},
		{"bad filler", mutate(first, 3, 0x00), ErrDefectiveToken},
		{"unknown flag", mutate(first, 2, first[2]|0x08), ErrDefectiveToken},
		{"reflected", own, ErrDefectiveToken},
		{"no AcceptorSubkey flag", mutate(first, 2, first[2]&^flagAcceptorSubkey), ErrDefectiveToken},
		{"integrity-only flag on sealed", mutate(first, 2, first[2]&^flagSealed), ErrDefectiveToken},
		{"EC changed", mutate(first, 5, 1), ErrIntegrity},
		{"RRC changed", mutate(first, 7, 3), ErrIntegrity},
		{"seq changed", mutate(first, 15, first[15]+1), ErrIntegrity},
		{"ciphertext flipped", flipLast(first, 20), ErrIntegrity},
		{"hmac flipped", flipLast(first, 1), ErrIntegrity},
	}
	for _, o := range openers {
		for _, tc := range tests {
			t.Run(o.name+"/"+tc.name, func(t *testing.T) {
				got, err := o.open(acc, tc.tok)
				if err == nil {
					t.Fatalf("accepted: %q", got)
				}
				if !errors.Is(err, tc.is) {
					t.Fatalf("err = %v, want %v", err, tc.is)
				}
				if tc.is == ErrIntegrity && err != ErrIntegrity {
					t.Fatalf("integrity failures must return ErrIntegrity itself, got %v", err)
				}
			})
		}
	}
	// Nothing above consumed the sequence number.
	if got, err := acc.Unwrap(first); err != nil || string(got) != "first" {
		t.Fatalf("genuine token after failures: %q %v", got, err)
	}
}

// TestUnwrapEveryBit flips every bit of a sealed and of an integrity-only
// token: each must fail, and the error must be one of the three kinds.
func TestUnwrapEveryBit(t *testing.T) {
	ini, acc := establish(t, 20)
	sealed, _ := ini.Wrap([]byte("flip me"))
	integ := integrityCustom(t, ini, []byte("flip me too"), 0)
	// integ was wrapped after sealed, so its sequence number is one more.
	for _, tc := range []struct {
		name string
		tok  []byte
		seq  uint64
	}{{"sealed", sealed, acc.recvSeq}, {"integrity", integ, acc.recvSeq + 1}} {
		for pos := range tc.tok {
			for bit := 0; bit < 8; bit++ {
				acc.recvSeq = tc.seq
				b := bytes.Clone(tc.tok)
				b[pos] ^= 1 << bit
				got, err := acc.Unwrap(b)
				if err == nil {
					t.Fatalf("%s: flip of bit %d at %d accepted: %q", tc.name, bit, pos, got)
				}
				if err != ErrIntegrity && !errors.Is(err, ErrDefectiveToken) && !errors.Is(err, ErrSequence) {
					t.Fatalf("%s: unexpected error kind %v", tc.name, err)
				}
			}
		}
		acc.recvSeq = tc.seq
		if _, err := acc.Unwrap(tc.tok); err != nil {
			t.Fatalf("%s: genuine token: %v", tc.name, err)
		}
	}
}

func TestUnwrapTruncated(t *testing.T) {
	for _, et := range allEnctypes {
		ini, acc := establish(t, et)
		for _, tok := range [][]byte{mustWrap(t, ini, "truncate me"), integrityCustom(t, ini, []byte("me too"), 0)} {
			for n := 0; n < len(tok); n++ {
				if _, err := acc.Unwrap(tok[:n]); err == nil {
					t.Fatalf("%s: prefix of %d bytes accepted", enctypeName(et), n)
				}
			}
		}
	}
}

func mustWrap(t *testing.T, c *Context, s string) []byte {
	t.Helper()
	tok, err := c.Wrap([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestUnwrapSequence(t *testing.T) {
	ini, acc := establish(t, 18)
	t1, t2, t3 := mustWrap(t, ini, "1"), mustWrap(t, ini, "2"), mustWrap(t, ini, "3")

	if _, err := acc.Unwrap(t2); !errors.Is(err, ErrSequence) {
		t.Fatalf("early token: err = %v", err)
	}
	for i, tok := range [][]byte{t1, t2} {
		if got, err := acc.Unwrap(tok); err != nil || string(got) != string(rune('1'+i)) {
			t.Fatalf("token %d: %q %v", i+1, got, err)
		}
	}
	if _, err := acc.Unwrap(t1); !errors.Is(err, ErrSequence) {
		t.Fatalf("replayed token: err = %v", err)
	}
	if _, err := acc.Unwrap(t2); !errors.Is(err, ErrSequence) {
		t.Fatalf("replayed token: err = %v", err)
	}
	if got, err := acc.Unwrap(t3); err != nil || string(got) != "3" {
		t.Fatalf("token 3: %q %v", got, err)
	}

	// Tokens from another context of the same enctype do not verify.
	other, _ := establish(t, 18)
	if _, err := acc.Unwrap(mustWrap(t, other, "intruder")); err != ErrIntegrity {
		t.Fatalf("token of another context: err = %v", err)
	}
}

func TestRotateLeft(t *testing.T) {
	b := []byte("abcdef")
	for n, want := range map[int]string{0: "abcdef", 2: "cdefab", 6: "abcdef", 8: "cdefab"} {
		if got := string(rotateLeft(bytes.Clone(b), n)); got != want {
			t.Errorf("rotateLeft(%d) = %q, want %q", n, got, want)
		}
		if got := string(rotateLeft(rotateRight(b, n), n)); got != "abcdef" {
			t.Errorf("rotateLeft(rotateRight(%d)) = %q", n, got)
		}
	}
	if len(rotateLeft(nil, 5)) != 0 {
		t.Error("rotateLeft(nil)")
	}
}

// TestUnwrapSealedRefusesIntegrityOnly: UnwrapSealed opens sealed tokens,
// refuses a valid integrity-only one without consuming its sequence
// number, in both directions.
func TestUnwrapSealedRefusesIntegrityOnly(t *testing.T) {
	ini, acc := establish(t, 18)
	for _, dir := range []struct {
		name     string
		from, to *Context
	}{{"initiator to acceptor", ini, acc}, {"acceptor to initiator", acc, ini}} {
		t.Run(dir.name, func(t *testing.T) {
			tok, err := dir.from.WrapIntegrity([]byte("password: hunter2"))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := dir.to.UnwrapSealed(tok); !errors.Is(err, ErrNotSealed) {
				t.Fatalf("UnwrapSealed(conf=0) = %v, want ErrNotSealed", err)
			}
			// The refused token's sequence number is still expected: Unwrap
			// (which allows conf=0) takes it.
			if got, err := dir.to.Unwrap(tok); err != nil || string(got) != "password: hunter2" {
				t.Fatalf("Unwrap after the refusal = %q, %v", got, err)
			}
			sealed, err := dir.from.Wrap([]byte("sealed"))
			if err != nil {
				t.Fatal(err)
			}
			if got, err := dir.to.UnwrapSealed(sealed); err != nil || string(got) != "sealed" {
				t.Fatalf("UnwrapSealed(conf=1) = %q, %v", got, err)
			}
		})
	}
}
