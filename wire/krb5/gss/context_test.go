package gss

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	for _, et := range allEnctypes {
		t.Run(enctypeName(et), func(t *testing.T) {
			ini, acc := establish(t, et)
			if ini.Enctype() != et || acc.Enctype() != et {
				t.Fatalf("enctypes %d/%d, want %d", ini.Enctype(), acc.Enctype(), et)
			}
			if got, want := acc.Peer(), "alice@TEST.REALM"; got != want {
				t.Errorf("acceptor Peer() = %q, want %q", got, want)
			}
			if got, want := ini.Peer(), "ceod/localhost@TEST.REALM"; got != want {
				t.Errorf("initiator Peer() = %q, want %q", got, want)
			}
			if !ini.Initiator() || acc.Initiator() {
				t.Error("Initiator() wrong")
			}
			hmacLen := ini.et.GetHMACBitLength() / 8
			for i, msg := range [][]byte{[]byte("hello ceod"), {}, bytes.Repeat([]byte{0xee}, 65000), []byte("x")} {
				for _, dir := range []struct {
					name     string
					from, to *Context
					flags    byte
				}{{"c2s", ini, acc, 0x06}, {"s2c", acc, ini, 0x07}} {
					tok, err := dir.from.Wrap(msg)
					if err != nil {
						t.Fatal(err)
					}
					if want := 16 + 16 + len(msg) + 16 + hmacLen; len(tok) != want {
						t.Errorf("%s %d: token %d bytes, want %d", dir.name, i, len(tok), want)
					}
					if tok[0] != 0x05 || tok[1] != 0x04 || tok[2] != dir.flags || tok[3] != 0xff ||
						!bytes.Equal(tok[4:8], []byte{0, 0, 0, 0}) {
						t.Errorf("%s %d: header % x", dir.name, i, tok[:8])
					}
					got, err := dir.to.Unwrap(tok)
					if err != nil {
						t.Fatalf("%s %d: Unwrap: %v", dir.name, i, err)
					}
					if !bytes.Equal(got, msg) {
						t.Fatalf("%s %d: got %d bytes, want %d", dir.name, i, len(got), len(msg))
					}
					itok, err := dir.from.WrapIntegrity(msg)
					if err != nil {
						t.Fatal(err)
					}
					if itok[2] != dir.flags&^flagSealed || int(itok[4])<<8|int(itok[5]) != hmacLen ||
						!bytes.Equal(itok[16:16+len(msg)], msg) {
						t.Errorf("%s %d: integrity token header % x", dir.name, i, itok[:16])
					}
					if got, err := dir.to.Unwrap(itok); err != nil || !bytes.Equal(got, msg) {
						t.Fatalf("%s %d: Unwrap(integrity): %v", dir.name, i, err)
					}
				}
			}
		})
	}
}

// TestLegacySizes pins the sealed token sizes seen between the legacy C
// programs (aes-sha1): 9-byte request -> 69, 40-byte reply -> 100.
func TestLegacySizes(t *testing.T) {
	ini, acc := establish(t, 18)
	req, _ := ini.Wrap(make([]byte, 9))
	rep, _ := acc.Wrap(make([]byte, 40))
	if len(req) != 69 || len(rep) != 100 {
		t.Fatalf("sizes %d and %d, want 69 and 100", len(req), len(rep))
	}
	if got := hex.EncodeToString(req[:4]); got != "050406ff" {
		t.Errorf("request header %s, want 050406ff", got)
	}
	if got := hex.EncodeToString(rep[:4]); got != "050407ff" {
		t.Errorf("reply header %s, want 050407ff", got)
	}
}

// TestSequenceNumbers checks the counters start at the values exchanged
// in the AP-REQ/AP-REP and go up by one per token, in each direction.
func TestSequenceNumbers(t *testing.T) {
	i, tok := newTestInitiator(t, ticketSpec{}, testConfig(), initOptions{})
	acc, rep, err := testAcceptor(t).Accept(tok)
	if err != nil {
		t.Fatal(err)
	}
	ini, err := i.Step(rep)
	if err != nil {
		t.Fatal(err)
	}
	if ini.sendSeq != i.seq || acc.recvSeq != i.seq {
		t.Errorf("initiator seq %d, acceptor expects %d, authenticator had %d", ini.sendSeq, acc.recvSeq, i.seq)
	}
	if ini.recvSeq != acc.sendSeq || acc.sendSeq == 0 || acc.sendSeq > 0x3fffffff {
		t.Errorf("acceptor seq %d, initiator expects %d", acc.sendSeq, ini.recvSeq)
	}
	for n := 0; n < 3; n++ {
		tok, _ := ini.Wrap([]byte(fmt.Sprint(n)))
		if got := uint64(tok[8])<<56 | uint64(tok[9])<<48 | uint64(tok[10])<<40 | uint64(tok[11])<<32 |
			uint64(tok[12])<<24 | uint64(tok[13])<<16 | uint64(tok[14])<<8 | uint64(tok[15]); got != i.seq+uint64(n) {
			t.Errorf("token %d has seq %d, want %d", n, got, i.seq+uint64(n))
		}
		if _, err := acc.Unwrap(tok); err != nil {
			t.Fatal(err)
		}
	}
}

// TestConcurrentWrap: Wrap from many goroutines hands out each sequence
// number once, and the tokens open in sequence order.
func TestConcurrentWrap(t *testing.T) {
	ini, acc := establish(t, 17)
	const n = 64
	toks := make([][]byte, n)
	done := make(chan struct{})
	for g := 0; g < n; g++ {
		go func() {
			defer func() { done <- struct{}{} }()
			tok, err := ini.Wrap([]byte(fmt.Sprint(g)))
			if err != nil {
				t.Error(err)
				return
			}
			toks[binary.BigEndian.Uint64(tok[8:16])-acc.recvSeq] = tok
		}()
	}
	for g := 0; g < n; g++ {
		<-done
	}
	for i, tok := range toks {
		if tok == nil {
			t.Fatalf("sequence number %d never used", i)
		}
		if _, err := acc.Unwrap(tok); err != nil {
			t.Fatalf("token %d: %v", i, err)
		}
	}
}
