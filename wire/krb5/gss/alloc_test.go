package gss

import (
	"bytes"
	"errors"
	"testing"

	"github.com/csclub/ceo/wire"
)

// TestRoundTripAllocs holds the per-message path of an established
// context to no allocation, for every enctype and both directions: a
// small message sealed into a buffer with room (WrapAppend, as
// session.Send does) and opened in place (UnwrapSealedInPlace, as
// session.Open does). HMAC scratch comes from the acceptor's pool or the
// initiator context's, the AES cipher is made once per direction, and
// the RRC rotation is done in place.
func TestRoundTripAllocs(t *testing.T) {
	skipUnderRace(t)
	msg := make([]byte, 64) // the size of a small op message
	for _, et := range allEnctypes {
		ini, acc := establish(t, et)
		for _, dir := range []struct {
			name     string
			from, to *Context
		}{{"initiator to acceptor", ini, acc}, {"acceptor to initiator", acc, ini}} {
			buf := make([]byte, 0, dir.from.WrapSize(len(msg)))
			roundTrip := func() {
				tok, err := dir.from.WrapAppend(buf[:0], msg)
				if err != nil {
					t.Fatal(err)
				}
				got, err := dir.to.UnwrapSealedInPlace(tok)
				if err != nil || !bytes.Equal(got, msg) {
					t.Fatalf("round trip: %q, %v", got, err)
				}
			}
			roundTrip() // derive the keys and make the ciphers
			if n := testing.AllocsPerRun(100, roundTrip); n != 0 {
				t.Errorf("%s %s: %v allocations per WrapAppend + UnwrapSealedInPlace, want 0", enctypeName(et), dir.name, n)
			}
		}
	}
}

// TestUnwrapSealedInPlace: the in-place opener refuses an integrity-only
// token before any cryptography, without consuming its sequence number,
// and opens a rotated token in its own bytes.
func TestUnwrapSealedInPlace(t *testing.T) {
	ini, acc := establish(t, 18)
	integ, err := ini.WrapIntegrity([]byte("clear"))
	if err != nil {
		t.Fatal(err)
	}
	orig := bytes.Clone(integ)
	if _, err := acc.UnwrapSealedInPlace(integ); !errors.Is(err, ErrNotSealed) {
		t.Fatalf("integrity-only token: err = %v, want ErrNotSealed", err)
	}
	if !bytes.Equal(integ, orig) {
		t.Fatal("a refused integrity-only token was changed")
	}
	if got, err := acc.Unwrap(integ); err != nil || string(got) != "clear" {
		t.Fatalf("Unwrap after the refusal = %q, %v", got, err)
	}
	tok := sealCustom(t, ini, []byte("rotated"), 3, 28)
	got, err := acc.UnwrapSealedInPlace(tok)
	if err != nil || string(got) != "rotated" {
		t.Fatalf("rotated token: %q, %v", got, err)
	}
	if &got[0] != &tok[wrapHeaderLen+ini.et.GetConfounderByteSize()] {
		t.Error("the message is not opened in the token's bytes")
	}
	if _, err := acc.UnwrapSealedInPlace(tok); err == nil {
		t.Error("a token opened in place opened again")
	}
}

// TestSessionOpsAllocs holds an op on an open session (package session
// with this mechanism, over loopback TCP) to one allocation per frame
// read, on each end: the copy of the sealed body out of the lent read
// buffer, which the caller keeps. Sealing, sending and opening allocate
// nothing: the frame buffers and HMAC scratch are lent by the contexts'
// pools.
func TestSessionOpsAllocs(t *testing.T) {
	skipUnderRace(t)
	s, done := openEchoSession(t)
	defer done()
	req := make([]byte, 64)
	call := func() {
		rep, err := s.Call(wire.MsgType(0x10), req)
		if err != nil || !bytes.Equal(rep, req) {
			t.Fatalf("Call: %q, %v", rep, err)
		}
	}
	call()
	if n := testing.AllocsPerRun(200, call); n > 2 {
		t.Errorf("%v allocations per op (both ends), want at most 2", n)
	}
}

func skipUnderRace(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under the race detector")
	}
}

// TestLeanContext: a lean context keeps no AES cipher, before and after
// carrying messages both ways, and still protects them (the cipher is
// made per message: the round trip allocates again).
func TestLeanContext(t *testing.T) {
	for _, et := range allEnctypes {
		ini, acc := establish(t, et)
		acc.Lean()
		ini.Lean()
		msg := []byte("a small op message")
		for i := range 3 {
			for _, dir := range [][2]*Context{{ini, acc}, {acc, ini}} {
				tok, err := dir[0].Wrap(msg)
				if err != nil {
					t.Fatal(err)
				}
				got, err := dir[1].Unwrap(tok)
				if err != nil || !bytes.Equal(got, msg) {
					t.Fatalf("%s round trip %d: %q, %v", enctypeName(et), i, got, err)
				}
			}
		}
		for _, c := range []*Context{ini, acc} {
			if c.sendKeys.keys.block != nil || c.recvKeys.keys.block != nil {
				t.Errorf("%s: a lean context kept an AES cipher", enctypeName(et))
			}
		}
	}
}
