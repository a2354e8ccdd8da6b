package gss

import (
	"path/filepath"
	"testing"

	"github.com/csclub/ceo/wire/krb5/rcache"
)

// BenchmarkAccept measures Accept on fresh AP-REQs (aes256-sha1), which
// are built before the timer starts: the replay cache refuses reuse.
func BenchmarkAccept(b *testing.B) {
	benchmarkAccept(b, testAcceptor(b))
}

// BenchmarkAcceptFileReplayCache is BenchmarkAccept with the replay
// cache in a file, as ceod keeps it.
func BenchmarkAcceptFileReplayCache(b *testing.B) {
	rc, err := rcache.Open(filepath.Join(b.TempDir(), "rc"))
	if err != nil {
		b.Fatal(err)
	}
	defer rc.Close()
	acc := testAcceptor(b)
	acc.ReplayCache = rc
	benchmarkAccept(b, acc)
}

func benchmarkAccept(b *testing.B, acc *Acceptor) {
	toks := make([][]byte, b.N)
	for n := range toks {
		_, toks[n] = newTestInitiator(b, ticketSpec{}, testConfig(), initOptions{})
	}
	b.ReportAllocs()
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		if _, _, err := acc.Accept(toks[n]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkInitiate measures building the AP-REQ from a ticket already in
// hand (what NewInitiator does after the KDC exchange).
func BenchmarkInitiate(b *testing.B) {
	tkt, key := makeTicket(b, ticketSpec{})
	cname := tkt.SName // any name will do for the client
	cfg := testConfig()
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := newInitiatorFromTicket(cname, testRealm, tkt, key, cfg, initOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkWrap1KiB(b *testing.B) { benchmarkWrap(b, 1024) }

// BenchmarkWrap64 is the size of a small op message (a ping).
func BenchmarkWrap64(b *testing.B) { benchmarkWrap(b, 64) }

// BenchmarkWrapAppend64 seals into a buffer with room, as ceod does.
func BenchmarkWrapAppend64(b *testing.B) {
	ini, _ := establish(b, 18)
	msg := make([]byte, 64)
	buf := make([]byte, 0, ini.WrapSize(len(msg)))
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ini.WrapAppend(buf, msg); err != nil {
			b.Fatal(err)
		}
	}
}

func benchmarkWrap(b *testing.B, n int) {
	ini, _ := establish(b, 18)
	msg := make([]byte, n)
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ini.Wrap(msg); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkUnwrap1KiB(b *testing.B) { benchmarkUnwrap(b, 1024) }

func BenchmarkUnwrap64(b *testing.B) { benchmarkUnwrap(b, 64) }

// BenchmarkUnwrapSealedInPlace64 opens a small op message in place, as
// session.Open does (the copy of the token into buf is timed too).
func BenchmarkUnwrapSealedInPlace64(b *testing.B) {
	ini, acc := establish(b, 18)
	msg := make([]byte, 64)
	tok, err := ini.Wrap(msg)
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, len(tok))
	seq := acc.recvSeq
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		acc.recvSeq = seq // unwrap the same token again
		copy(buf, tok)
		if _, err := acc.UnwrapSealedInPlace(buf); err != nil {
			b.Fatal(err)
		}
	}
}

func benchmarkUnwrap(b *testing.B, n int) {
	ini, acc := establish(b, 18)
	msg := make([]byte, n)
	tok, err := ini.Wrap(msg)
	if err != nil {
		b.Fatal(err)
	}
	seq := acc.recvSeq
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		acc.recvSeq = seq // unwrap the same token again
		if _, err := acc.Unwrap(tok); err != nil {
			b.Fatal(err)
		}
	}
}
