package gss

import (
	"io"
	"net"
	"testing"

	"github.com/csclub/ceo/wire"
	"github.com/csclub/ceo/wire/session"
)

// BenchmarkSessionLoopback is the acceptor path end to end over a
// loopback TCP socket: connect, session.Initiate / session.Accept with
// this mechanism (AP-REQ verified, AP-REP sent), one sealed 64-byte
// request and its sealed reply, close. Allocations are both ends'. The
// AP-REQs are built before the timer starts (each needs a fresh one:
// the replay cache refuses reuse).
func BenchmarkSessionLoopback(b *testing.B) {
	acc, ln, srvErr := benchListener(b)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				srvErr <- nil
				return
			}
			if err := serveOne(c, acc); err != nil {
				srvErr <- err
				return
			}
		}
	}()
	type start struct {
		ini *Initiator
		tok []byte
	}
	starts := make([]start, b.N)
	for n := range starts {
		starts[n].ini, starts[n].tok = newTestInitiator(b, ticketSpec{}, testConfig(), initOptions{})
	}
	req := make([]byte, 64)
	b.ReportAllocs()
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			b.Fatal(err)
		}
		ini := starts[n].ini
		s, err := session.Initiate(c, starts[n].tok, func(rep []byte) (session.Sealer, error) { return ini.Step(rep) })
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.Call(wire.MsgType(0x10), req); err != nil {
			b.Fatal(err)
		}
		c.Close()
	}
	b.StopTimer()
	ln.Close()
	if err := <-srvErr; err != nil {
		b.Fatal(err)
	}
}

// serveOne is ceod's side for one connection: accept, echo one op.
func serveOne(c net.Conn, acc *Acceptor) error {
	defer c.Close()
	s, err := session.Accept(c, 0, func(tok []byte) (session.Sealer, []byte, error) { return acc.Accept(tok) })
	if err != nil {
		return err
	}
	t, body, err := s.ReadFrame()
	if err != nil {
		return err
	}
	msg, err := s.Open(t, body)
	if err != nil {
		return err
	}
	return s.Send(t, msg)
}

// BenchmarkSessionOps is ops on an open loopback TCP session with this
// mechanism (aes256-sha1): a sealed 64-byte request, opened and echoed
// sealed by the other end, and opened. Allocations are both ends'.
func BenchmarkSessionOps(b *testing.B) {
	s, done := openEchoSession(b)
	req := make([]byte, 64)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Call(wire.MsgType(0x10), req); err != nil {
			b.Fatal(err)
		}
	}
	done()
}

// openEchoSession returns the initiator's end of a loopback TCP session
// whose acceptor echoes every op message (sealed both ways), and a
// function that closes it and checks that the acceptor saw it close.
func openEchoSession(tb testing.TB) (*session.Session, func()) {
	acc, ln, srvErr := benchListener(tb)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			srvErr <- err
			return
		}
		defer c.Close()
		s, err := session.Accept(c, 0, func(tok []byte) (session.Sealer, []byte, error) { return acc.Accept(tok) })
		for err == nil {
			var t wire.MsgType
			var body, msg []byte
			if t, body, err = s.ReadFrame(); err == nil {
				if msg, err = s.Open(t, body); err == nil {
					err = s.Send(t, msg)
				}
			}
		}
		srvErr <- err
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		tb.Fatal(err)
	}
	ini, tok := newTestInitiator(tb, ticketSpec{}, testConfig(), initOptions{})
	s, err := session.Initiate(c, tok, func(rep []byte) (session.Sealer, error) { return ini.Step(rep) })
	if err != nil {
		tb.Fatal(err)
	}
	return s, func() {
		c.Close()
		if err := <-srvErr; err != io.EOF {
			tb.Fatal(err)
		}
	}
}

// benchListener returns the test acceptor and a loopback listener,
// closed when the benchmark ends, with a channel for the serving
// goroutine's error.
func benchListener(tb testing.TB) (*Acceptor, net.Listener, chan error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { ln.Close() })
	return testAcceptor(tb), ln, make(chan error, 1)
}
