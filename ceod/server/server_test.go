package server

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/csclub/ceo/ops"
	"github.com/csclub/ceo/wire"
)

// startTCP runs s on a loopback listener with the fake acceptor and
// returns its address and the log recorder. The server is closed when
// the test ends, and Serve must then return ErrServerClosed.
func startTCP(t *testing.T, s *Server) (string, *recorder) {
	t.Helper()
	rec := withFakes(s)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	t.Cleanup(func() {
		s.Close()
		if err := <-done; !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve returned %v, want ErrServerClosed", err)
		}
	})
	return ln.Addr().String(), rec
}

func dialTCP(t testing.TB, addr string) *client {
	t.Helper()
	return dialFrom(t, "", addr)
}

// dialFrom dials addr from the local IP from ("" for any).
func dialFrom(t testing.TB, from, addr string) *client {
	t.Helper()
	d := net.Dialer{Timeout: 10 * time.Second}
	if from != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(from)}
	}
	nc, err := d.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { nc.Close() })
	return &client{t: t, nc: nc}
}

func TestOpsOnOneConnection(t *testing.T) {
	var (
		mu     sync.Mutex
		states []ConnState
	)
	s := &Server{Callers: Callers{Instances: map[string]string{"alice/admin": "alice"}}, ConnState: func(_ net.Conn, st ConnState) {
		mu.Lock()
		states = append(states, st)
		mu.Unlock()
	}}
	addr, rec := startTCP(t, s)
	c := dialTCP(t, addr)
	c.auth("alice/admin" + fakeRealm)
	for i, req := range []string{"one", "", "three"} {
		got, err := c.op(opEcho, req)
		require.NoError(t, err, "op %d", i)
		assert.Equal(t, "alice|alice/admin"+fakeRealm+"|"+req, got)
	}
	c.nc.Close()

	rec.waitFor(t, map[string]string{"msg": "connection closed", "trigger": "clean"})
	auth := rec.find(map[string]string{"msg": "audit", "event": "auth"})
	require.Len(t, auth, 1)
	assert.Equal(t, "ok", auth[0]["outcome"])
	assert.Equal(t, "alice/admin"+fakeRealm, auth[0]["principal"])
	assert.Equal(t, c.nc.LocalAddr().String(), auth[0]["remote"])
	opsAudit := rec.find(map[string]string{"msg": "audit", "event": "op", "op": "echo", "outcome": "ok"})
	assert.Len(t, opsAudit, 3)
	for _, a := range opsAudit {
		assert.Equal(t, "alice/admin"+fakeRealm, a["principal"])
		assert.NotEmpty(t, a["duration"])
		assert.NotContains(t, a, "err")
	}
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, []ConnState{StateHandshake, StateIdle,
		StateActive, StateIdle, StateActive, StateIdle, StateActive, StateIdle, StateClosed}, states)
}

// TestBadInput sends each kind of bad input and checks that the server
// closes that connection without a reply, audits it (after
// authentication) or counts it in the failure log (before), and goes on
// serving a well-behaved client. Each case dials from its own loopback
// address, so that its failure line is its own.
func TestBadInput(t *testing.T) {
	addr, rec := startTCP(t, &Server{failInterval: time.Nanosecond})
	type want = map[string]string
	tests := []struct {
		name    string
		do      func(c *client) // sends the bad input
		audit   want            // the op's audit line, after authentication
		reason  string          // the failure log's reason, before
		errText string
	}{
		{"op before auth", func(c *client) {
			c.send(opEcho, []byte("W:hi"))
		}, nil, "protocol_error", "op before authentication (echo)"},
		{"unknown op before auth", func(c *client) {
			c.send(0x99, []byte("W:hi"))
		}, nil, "protocol_error", "unknown op msgtype(0x99) before authentication"},
		{"unknown op", func(c *client) {
			c.auth("u1" + fakeRealm)
			c.send(0x99, []byte("W:hi"))
		}, want{"event": "op", "outcome": "denied", "op": "msgtype(0x99)", "principal": "u1" + fakeRealm}, "", "unknown op"},
		{"explode is unknown", func(c *client) {
			c.auth("u2" + fakeRealm)
			c.send(wire.MsgExplode, []byte("W:hi"))
		}, want{"event": "op", "outcome": "denied", "op": "explode", "principal": "u2" + fakeRealm}, "", "unknown op"},
		{"auth after auth", func(c *client) {
			c.auth("u3" + fakeRealm)
			c.send(wire.MsgAuth, []byte("AUTH:u3"+fakeRealm))
		}, want{"event": "op", "outcome": "error", "principal": "u3" + fakeRealm}, "", "MSG_AUTH after authentication"},
		{"rejected ticket", func(c *client) {
			c.send(wire.MsgAuth, []byte("AUTH:bad"+fakeRealm))
		}, nil, "auth_failed", "ticket rejected"},
		{"instance principal", func(c *client) {
			c.send(wire.MsgAuth, []byte("AUTH:alice/admin"+fakeRealm))
		}, want{"event": "auth", "outcome": "denied", "principal": "alice/admin" + fakeRealm}, "caller_refused", "alice/admin has an instance"},
		{"other realm", func(c *client) {
			c.send(wire.MsgAuth, []byte("AUTH:alice@OTHER.REALM"))
		}, want{"event": "auth", "outcome": "denied", "principal": "alice@OTHER.REALM"}, "caller_refused", "realm OTHER.REALM is not accepted"},
		{"garbage", func(c *client) {
			c.sendRaw([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
		}, nil, "protocol_error", "frame too large"},
		{"zero length", func(c *client) {
			c.sendRaw(header(0, wire.MsgAuth))
		}, nil, "protocol_error", "empty frame"},
		{"65537-byte length", func(c *client) {
			c.sendRaw(header(65537, wire.MsgAuth))
		}, nil, "protocol_error", "msglen 65537 exceeds limit 65536"},
		{"65536-byte frame is read", func(c *client) {
			c.sendRaw(append(header(65536, wire.MsgAuth), make([]byte, 65536)...))
		}, nil, "auth_failed", "defective token"},
		{"truncated header", func(c *client) {
			c.sendRaw([]byte{0, 0, 0})
			c.nc.(*net.TCPConn).CloseWrite()
		}, nil, "protocol_error", "unexpected EOF"},
		{"truncated body", func(c *client) {
			c.sendRaw(append(header(100, wire.MsgAuth), "AUTH:x"...))
			c.nc.(*net.TCPConn).CloseWrite()
		}, nil, "protocol_error", "unexpected EOF"},
		{"truncated op frame", func(c *client) {
			c.auth("u4" + fakeRealm)
			c.sendRaw(append(header(100, opEcho), "W:x"...))
			c.nc.(*net.TCPConn).CloseWrite()
		}, nil, "", ""},
		{"unsealed request", func(c *client) {
			c.auth("u5" + fakeRealm)
			c.send(opEcho, []byte("plain"))
		}, want{"event": "op", "outcome": "invalid", "op": "echo", "principal": "u5" + fakeRealm}, "", "not sealed"},
		{"op fails", opAs("u6", opFail), want{"event": "op", "outcome": "error", "op": "fail"}, "", "exit status 3"},
		{"op denies", opAs("u7", opDeny), want{"event": "op", "outcome": "denied", "op": "deny"}, "", "permission denied"},
		{"op panics", opAs("u8", opPanic), want{"event": "op", "outcome": "error", "op": "panic"}, "", "op handler panicked: boom"},
		{"reply too large", opAs("u9", opBig), want{"event": "op", "outcome": "error", "op": "big"}, "", "reply too large"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			from := fmt.Sprintf("127.0.1.%d", i+1)
			c := dialFrom(t, from, addr)
			tt.do(c)
			c.expectClosed()
			if tt.audit != nil {
				w := want{"msg": "audit", "remote": c.nc.LocalAddr().String()}
				for k, v := range tt.audit {
					w[k] = v
				}
				a := rec.waitFor(t, w)
				assert.Contains(t, a["err"], tt.errText)
			}
			if tt.reason != "" {
				f := rec.waitFor(t, want{"msg": "unauthenticated connections ended", "remote": from})
				assert.Equal(t, tt.reason+":1", f["reasons"])
				assert.Contains(t, f["err"], tt.errText)
			} else {
				rec.waitFor(t, want{"msg": "connection closed", "remote": c.nc.LocalAddr().String()})
			}

			good := dialTCP(t, addr)
			good.auth("good" + fakeRealm)
			got, err := good.op(opEcho, "still here")
			require.NoError(t, err)
			assert.Equal(t, "good|good"+fakeRealm+"|still here", got)
		})
	}
}

// TestPortProbeNotAudited: a connection closed before sending anything
// is not an authentication attempt; it is counted, at debug level.
func TestPortProbeNotAudited(t *testing.T) {
	addr, rec := startTCP(t, &Server{})
	c := dialTCP(t, addr)
	c.nc.Close()
	f := rec.waitFor(t, map[string]string{"msg": "unauthenticated connections ended", "reasons": "no_token:1"})
	assert.Equal(t, "DEBUG", f["level"])
	assert.Empty(t, rec.find(map[string]string{"msg": "audit"}))
}

// withFakes gives s the fake mechanism, the test ops unless it has ops,
// and a recorder as its log, which it returns.
func withFakes(s *Server) *recorder {
	rec := &recorder{}
	s.acceptor = fakeAcceptor{}
	s.Principal = cmp.Or(s.Principal, "ceod/test"+fakeRealm)
	if s.Ops == nil {
		s.Ops = testOps(nil)
	}
	s.Log = slog.New(rec)
	return rec
}

// syncServer runs s in a synctest bubble on a pipe listener.
func syncServer(t *testing.T, s *Server) (*pipeListener, *recorder, func()) {
	rec := withFakes(s)
	ln := newPipeListener()
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	stop := func() {
		s.Close()
		if err := <-done; !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve returned %v, want ErrServerClosed", err)
		}
	}
	return ln, rec, stop
}

func pipeClient(t *testing.T, ln *pipeListener) *client {
	nc, err := ln.dial()
	require.NoError(t, err)
	t.Cleanup(func() { nc.Close() })
	return &client{t: t, nc: nc}
}

// readsEOF starts reading c and returns a channel that receives the
// read's error once the server closes the connection.
func readsEOF(c *client) <-chan error {
	ch := make(chan error, 1)
	go func() {
		var b [1]byte
		_, err := c.nc.Read(b[:])
		ch <- err
	}()
	return ch
}

func TestTimeouts(t *testing.T) {
	const (
		hs   = 10 * time.Second
		idle = 60 * time.Second
		op   = 120 * time.Second
	)
	tests := []struct {
		name    string
		do      func(c *client)
		after   time.Duration // the connection must be open before and closed after
		trigger string
		audit   map[string]string
	}{
		{"handshake silent", func(c *client) {}, hs, "handshake_timeout", nil},
		{"header then stall", func(c *client) { c.sendRaw(header(100, wire.MsgAuth)) }, hs, "handshake_timeout", nil},
		{"idle", func(c *client) { c.auth("a" + fakeRealm) }, idle, "idle_timeout", nil},
		{"op header then stall", func(c *client) {
			c.auth("a" + fakeRealm)
			c.sendRaw(header(100, opEcho))
		}, idle, "idle_timeout", nil},
		{"op timeout", func(c *client) {
			c.auth("a" + fakeRealm)
			c.send(opSlow, []byte("W:"))
		}, op, "op_failed", map[string]string{"event": "op", "outcome": "timeout", "op": "slow"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := &Server{Limits: Limits{HandshakeTimeout: hs, IdleTimeout: idle, OpTimeout: op}}
				ln, rec, stop := syncServer(t, s)
				defer stop()
				c := pipeClient(t, ln)
				tt.do(c)
				closed := readsEOF(c)
				time.Sleep(tt.after - 2*time.Millisecond)
				synctest.Wait()
				select {
				case err := <-closed:
					t.Fatalf("closed before %v: %v", tt.after, err)
				default:
				}
				time.Sleep(time.Second)
				synctest.Wait()
				select {
				case err := <-closed:
					assert.ErrorIs(t, err, io.EOF)
				default:
					t.Fatalf("still open %v after the timeout", time.Second)
				}
				if tt.trigger == "handshake_timeout" {
					rec.waitFor(t, map[string]string{"msg": "unauthenticated connections ended", "reasons": tt.trigger + ":1"})
				} else {
					rec.waitFor(t, map[string]string{"msg": "connection closed", "trigger": tt.trigger})
				}
				if tt.audit != nil {
					rec.waitFor(t, map[string]string{"msg": "audit", "event": tt.audit["event"],
						"outcome": tt.audit["outcome"]})
				}
			})
		})
	}
}

// TestMaxConns: with every connection authenticated, one over
// MaxConns is refused (nothing waits to be displaced).
func TestMaxConns(t *testing.T) {
	addr, rec := startTCP(t, &Server{Limits: Limits{MaxConns: 3}})
	var held []*client
	for i := range 3 {
		c := dialTCP(t, addr)
		c.auth(fmt.Sprint("a", i, fakeRealm)) // admitted and served
		held = append(held, c)
	}
	over := dialTCP(t, addr)
	over.expectClosed()
	f := rec.waitFor(t, map[string]string{"msg": "unauthenticated connections ended", "reasons": "refused:1"})
	assert.Equal(t, "too many connections", f["err"])

	held[0].nc.Close()
	rec.waitFor(t, map[string]string{"msg": "connection closed", "remote": held[0].nc.LocalAddr().String()})
	c := dialTCP(t, addr)
	c.auth("b" + fakeRealm)
	_, err := c.op(opEcho, "x")
	require.NoError(t, err)
}

// TestDisplacement: a new connection into a full pre-auth pool, of its
// address or of all, displaces the oldest waiting one and is served.
func TestDisplacement(t *testing.T) {
	s := &Server{Limits: Limits{MaxStartups: 4, MaxStartupsPerAddr: 2}, failInterval: time.Nanosecond}
	addr, rec := startTCP(t, s)
	a1 := dialFrom(t, "127.0.3.1", addr)
	waitWaiting(t, s, 1)
	a2 := dialFrom(t, "127.0.3.1", addr)
	waitWaiting(t, s, 2)
	// Per address: a third from 127.0.3.1 displaces a1.
	a3 := dialFrom(t, "127.0.3.1", addr)
	a1.expectClosed()
	f := rec.waitFor(t, map[string]string{"msg": "unauthenticated connections ended", "remote": "127.0.3.1", "reasons": "displaced:1"})
	assert.Contains(t, f["err"], "displaced")
	a3.auth("a3" + fakeRealm)
	// Overall: a2 and two from 127.0.3.2 fill the pool of 4 with a3
	// gone; the next from 127.0.3.3 displaces the oldest, a2.
	b1 := dialFrom(t, "127.0.3.2", addr)
	b2 := dialFrom(t, "127.0.3.2", addr)
	c1 := dialFrom(t, "127.0.3.4", addr)
	waitWaiting(t, s, 4)
	c2 := dialFrom(t, "127.0.3.3", addr)
	a2.expectClosed()
	c2.auth("c2" + fakeRealm)
	for _, c := range []*client{b1, b2, c1} {
		c.auth("late" + fakeRealm) // still waiting, not displaced
	}
}

// waitWaiting waits until s holds n connections waiting for a token.
func waitWaiting(t *testing.T, s *Server, n int) {
	t.Helper()
	require.Eventually(t, func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.pool.waiting.Len() == n
	}, 5*time.Second, time.Millisecond, "want %d waiting", n)
}

// TestPreAuthBytes: a token body that does not fit the pre-auth byte
// budget displaces the oldest waiting connection holding one; with
// nothing to displace, the connection is closed.
func TestPreAuthBytes(t *testing.T) {
	addr, rec := startTCP(t, &Server{Limits: Limits{PreAuthBytes: 100000}, failInterval: time.Nanosecond})
	big := append(header(65536, wire.MsgAuth), make([]byte, 65535)...) // all but one byte
	a := dialFrom(t, "127.0.4.1", addr)
	require.NoError(t, a.sendRaw(big))
	time.Sleep(100 * time.Millisecond)
	b := dialFrom(t, "127.0.4.2", addr)
	require.NoError(t, b.sendRaw(big))
	a.expectClosed()
	rec.waitFor(t, map[string]string{"msg": "unauthenticated connections ended", "remote": "127.0.4.1", "reasons": "displaced:1"})
	// A real token still fits beside b's.
	c := dialFrom(t, "127.0.4.3", addr)
	c.auth("c" + fakeRealm)
	// b finishes its token and is served.
	require.NoError(t, b.sendRaw([]byte{0}))
	_, _, err := b.recv()
	require.Error(t, err, "a defective token is refused")
	rec.waitFor(t, map[string]string{"msg": "unauthenticated connections ended", "remote": "127.0.4.2", "reasons": "auth_failed:1"})
}

// TestPerPrincipal: authenticated connections are limited per
// principal, not per address.
func TestPerPrincipal(t *testing.T) {
	addr, rec := startTCP(t, &Server{Limits: Limits{MaxConnsPerPrincipal: 2, MaxStartupsPerAddr: 1}})
	for range 2 {
		c := dialTCP(t, addr)
		c.auth("p" + fakeRealm)
	}
	third := dialTCP(t, addr)
	require.NoError(t, third.send(wire.MsgAuth, []byte("AUTH:p"+fakeRealm)))
	third.expectClosed()
	rec.waitFor(t, map[string]string{"msg": "unauthenticated connections ended", "reasons": "principal_limit:1"})
	other := dialTCP(t, addr)
	other.auth("q" + fakeRealm)
	_, err := other.op(opEcho, "x")
	require.NoError(t, err)
}

// TestUnauthenticatedFlood opens 1,000 connections that never
// authenticate, from one address, while a well-behaved client on the
// same address authenticates and pings: the flood displaces its own
// connections, never more than MaxStartupsPerAddr wait at once, and the
// client is served every time.
func TestUnauthenticatedFlood(t *testing.T) {
	if testing.Short() {
		t.Skip("opens 1,000 connections")
	}
	const (
		flood = 1000
		perIP = 256
	)
	var mu sync.Mutex
	cur, peak := 0, 0
	s := &Server{Limits: Limits{MaxStartupsPerAddr: perIP}, ConnState: func(c net.Conn, st ConnState) {
		mu.Lock()
		defer mu.Unlock()
		switch st {
		case StateHandshake:
			cur++
			peak = max(peak, cur)
		case StateIdle, StateClosed:
			cur--
		}
	}}
	addr, rec := startTCP(t, s)

	stop := make(chan struct{})
	served := make(chan int)
	var failed atomic.Int32
	go func() {
		n := 0
		defer func() { served <- n }()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if err := roundTrip("127.0.0.1", addr); err != nil {
				// Displaced before its goroutine read the token: only
				// on a starved machine, and rarely.
				t.Logf("well-behaved client, round trip %d: %v", n, err)
				failed.Add(1)
				continue
			}
			n++
		}
	}()
	conns := make([]*client, flood)
	for i := range conns {
		conns[i] = dialFrom(t, "127.0.0.1", addr)
		if i%2 == 1 {
			conns[i].sendRaw(header(100, wire.MsgAuth)) // a header, then nothing
		}
	}
	var wg sync.WaitGroup
	var closed atomic.Int32
	for _, c := range conns[:flood-perIP] {
		wg.Go(func() {
			c.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
			if _, err := c.nc.Read(make([]byte, 1)); err == io.EOF || err != nil && isReset(err) {
				closed.Add(1)
			}
		})
	}
	wg.Wait()
	close(stop)
	n := <-served
	assert.EqualValues(t, flood-perIP, closed.Load(), "older connections displaced")
	mu.Lock()
	assert.LessOrEqual(t, peak, perIP+2, "more waiting connections from one address than the cap (+ the client's, + one being admitted)")
	mu.Unlock()
	assert.Positive(t, n, "the well-behaved client was never served")
	assert.LessOrEqual(t, int(failed.Load())*20, n, "more than 5%% of the well-behaved client's round trips failed")
	lines := rec.find(map[string]string{"msg": "unauthenticated connections ended", "remote": "127.0.0.1"})
	assert.LessOrEqual(t, len(lines), 2, "flood logged line by line")
	t.Logf("well-behaved client served %d times during the flood; %d failure lines", n, len(lines))
}

// roundTrip authenticates from local address from, sends one echo op
// and checks the reply, without failing the test itself.
func roundTrip(from, addr string) error {
	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	nc, err := d.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(5 * time.Second))
	if err := wire.WriteFrame(nc, wire.MsgAuth, []byte("AUTH:good"+fakeRealm)); err != nil {
		return err
	}
	if _, _, err := wire.ReadFrame(nc, 0); err != nil {
		return fmt.Errorf("auth reply: %w", err)
	}
	if err := wire.WriteFrame(nc, opEcho, []byte("W:hi")); err != nil {
		return err
	}
	_, body, err := wire.ReadFrame(nc, 0)
	if err != nil {
		return fmt.Errorf("op reply: %w", err)
	}
	if want := "W:good|good" + fakeRealm + "|hi"; string(body) != want {
		return fmt.Errorf("reply %q, want %q", body, want)
	}
	return nil
}

func TestShutdownLetsOpsFinish(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := newSlowGate()
		s := &Server{Ops: testOps(g)}
		ln, rec, _ := syncServer(t, s)

		idle := pipeClient(t, ln)
		idle.auth("idle" + fakeRealm)
		hand := pipeClient(t, ln) // connected, not authenticated
		active := pipeClient(t, ln)
		active.auth("busy" + fakeRealm)
		reply := make(chan string, 1)
		go func() {
			r, err := active.op(opSlow, "")
			if err != nil {
				r = "error: " + err.Error()
			}
			reply <- r
		}()
		<-g.started

		idleClosed, handClosed := readsEOF(idle), readsEOF(hand)
		shut := make(chan error, 1)
		go func() { shut <- s.Shutdown(context.Background()) }()
		synctest.Wait()
		assert.ErrorIs(t, <-idleClosed, io.EOF, "idle connection not closed")
		assert.ErrorIs(t, <-handClosed, io.EOF, "handshaking connection not closed")
		_, err := ln.dial()
		assert.ErrorIs(t, err, net.ErrClosed, "listener still open")
		select {
		case err := <-shut:
			t.Fatalf("Shutdown returned %v while an op was running", err)
		default:
		}

		close(g.release)
		assert.Equal(t, "slow done", <-reply, "in-flight op did not complete")
		require.NoError(t, <-shut)
		active.expectClosed()
		rec.waitFor(t, map[string]string{"msg": "audit", "event": "op", "op": "slow", "outcome": "ok"})
		require.ErrorIs(t, s.Serve(newPipeListener()), ErrServerClosed)
	})
}

func TestShutdownDeadlineThenClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := newSlowGate() // never released
		s := &Server{Ops: testOps(g)}
		ln, rec, stop := syncServer(t, s)
		c := pipeClient(t, ln)
		c.auth("busy" + fakeRealm)
		go c.op(opSlow, "")
		<-g.started

		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		start := time.Now()
		err := s.Shutdown(ctx)
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Equal(t, 5*time.Second, time.Since(start))
		stop() // Close: cancels the op and waits for the goroutines
		a := rec.waitFor(t, map[string]string{"msg": "audit", "event": "op", "op": "slow"})
		assert.Equal(t, "error", a["outcome"])
		assert.Contains(t, a["err"], "context canceled")
	})
}

func TestCloseLeavesNoGoroutines(t *testing.T) {
	g := newSlowGate() // never released: Close must cancel the op
	s := &Server{Principal: "ceod/t" + fakeRealm}
	rec := &recorder{}
	s.acceptor, s.Ops, s.Log = fakeAcceptor{}, testOps(g), slog.New(rec)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	addr := ln.Addr().String()

	a := dialTCP(t, addr)
	a.auth("x" + fakeRealm)
	b := dialTCP(t, addr)
	b.sendRaw(header(10, wire.MsgAuth))
	c := dialTCP(t, addr)
	c.auth("y" + fakeRealm)
	c.send(opSlow, []byte("W:"))
	<-g.started

	require.NoError(t, s.Close())
	require.ErrorIs(t, <-done, ErrServerClosed)
	for _, cl := range []*client{a, b, c} {
		cl.expectClosed()
		cl.nc.Close()
	}
	// Count goroutines running server code rather than comparing
	// totals: the runtime starts helpers lazily.
	var stacks string
	ok := assert.Eventually(t, func() bool {
		buf := make([]byte, 1<<20)
		stacks = string(buf[:runtime.Stack(buf, true)])
		return !strings.Contains(stacks, "ceod/server.(*conn)") && !strings.Contains(stacks, "ceod/server.(*Server)") &&
			!strings.Contains(stacks, "ceod/server.(*workers)")
	}, 5*time.Second, time.Millisecond, "server goroutines left after Close")
	if !ok {
		t.Logf("goroutines:\n%s", stacks)
	}
}

// faultConn fails the nth I/O call (reads and writes counted together).
type faultConn struct {
	net.Conn
	n     *atomic.Int32
	fault int32
}

var errInjected = errors.New("injected fault")

func (f *faultConn) Read(p []byte) (int, error) {
	if f.n.Add(1) == f.fault {
		f.Conn.Close()
		return 0, errInjected
	}
	return f.Conn.Read(p)
}

func (f *faultConn) Write(p []byte) (int, error) {
	if f.n.Add(1) == f.fault {
		f.Conn.Close()
		return 0, errInjected
	}
	return f.Conn.Write(p)
}

// faultListener makes its first connection fail at the fault-th I/O.
type faultListener struct {
	net.Listener
	fault int32
	once  sync.Once
}

func (l *faultListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	fault := int32(-1)
	l.once.Do(func() { fault = l.fault })
	return &faultConn{Conn: c, n: new(atomic.Int32), fault: fault}, nil
}

// TestFaultInjection fails the server's nth read or write on a
// connection, for every n over a handshake and two ops: the server must
// end that connection, audit what it was doing, and stay healthy.
func TestFaultInjection(t *testing.T) {
	for fault := int32(1); fault <= 12; fault++ {
		t.Run(fmt.Sprint(fault), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := &Server{Principal: "ceod/t" + fakeRealm}
				rec := &recorder{}
				s.acceptor, s.Ops, s.Log = fakeAcceptor{}, testOps(nil), slog.New(rec)
				pl := newPipeListener()
				done := make(chan error, 1)
				go func() { done <- s.Serve(&faultListener{Listener: pl, fault: fault}) }()

				nc, err := pl.dial()
				require.NoError(t, err)
				c := &client{t: t, nc: nc}
				ok := func() bool {
					if c.send(wire.MsgAuth, []byte("AUTH:f"+fakeRealm)) != nil {
						return false
					}
					if _, _, err := c.recv(); err != nil {
						return false
					}
					for range 2 {
						if _, err := c.op(opEcho, "x"); err != nil {
							return false
						}
					}
					return true
				}()
				nc.Close()
				synctest.Wait()
				closed := rec.find(map[string]string{"msg": "connection closed"})
				failed := rec.find(map[string]string{"msg": "unauthenticated connections ended"})
				require.Len(t, append(closed, failed...), 1)
				if !ok && len(closed) == 1 {
					assert.NotEqual(t, "clean", closed[0]["trigger"], "fault not reported")
				}
				if len(failed) == 1 {
					assert.Contains(t, failed[0]["err"], "injected fault")
				}

				// The server still serves.
				nc2, err := pl.dial()
				require.NoError(t, err)
				c2 := &client{t: t, nc: nc2}
				c2.auth("g" + fakeRealm)
				got, err := c2.op(opEcho, "y")
				require.NoError(t, err)
				assert.Equal(t, "g|g"+fakeRealm+"|y", got)
				nc2.Close()
				s.Close()
				require.ErrorIs(t, <-done, ErrServerClosed)
			})
		})
	}
}

func TestCallers(t *testing.T) {
	c := Callers{Instances: map[string]string{"alice/admin": "alice"}}
	for in, want := range map[string]string{
		"bob@LOCAL":          "bob",
		"alice/admin@LOCAL":  "alice",
		"bob/admin@LOCAL":    "refused: bob/admin has an instance",
		"host/x.org@LOCAL":   "refused: host/x.org has an instance",
		"bob@OTHER":          "refused: realm OTHER is not accepted",
		"alice/admin@OTHER":  "refused: realm OTHER",
		"bob":                "refused: malformed",
		"@LOCAL":             "refused: malformed",
		"bob@":               "refused: malformed",
		"bob@LOCAL@LOCAL":    "refused: malformed",
		"bob@evil.org@LOCAL": "refused: malformed",
	} {
		caller, err := c.caller(in, "LOCAL")
		if want, ok := strings.CutPrefix(want, "refused: "); ok {
			if assert.ErrorIs(t, err, errCallerRefused, in) {
				assert.Contains(t, err.Error(), want, in)
			}
			continue
		}
		if assert.NoError(t, err, in) {
			assert.Equal(t, ops.Caller{User: want, Principal: in, Realm: "LOCAL"}, caller, in)
		}
	}
	// Listed realms replace the local one.
	c.Realms = []string{"A", "B"}
	_, err := c.caller("bob@LOCAL", "LOCAL")
	assert.ErrorIs(t, err, errCallerRefused)
	caller, err := c.caller("bob@B", "LOCAL")
	assert.NoError(t, err)
	assert.Equal(t, ops.Caller{User: "bob", Principal: "bob@B", Realm: "B"}, caller)
}

func TestIPKey(t *testing.T) {
	for in, want := range map[string]string{
		"127.0.0.1:5":              "127.0.0.1",
		"[::ffff:10.0.0.1]:5":      "10.0.0.1",
		"[2001:db8:1:2:3:4:5:6]:7": "2001:db8:1:2::/64",
		"pipe":                     "pipe",
	} {
		assert.Equal(t, want, ipKey(fakeAddr(in)), in)
	}
}

type fakeAddr string

func (a fakeAddr) Network() string { return "tcp" }
func (a fakeAddr) String() string  { return string(a) }

func TestConfigErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	err = (&Server{}).Serve(ln)
	require.ErrorContains(t, err, "Keytab is nil")
	_, err = ln.Accept()
	require.ErrorIs(t, err, net.ErrClosed, "Serve must close the listener")
}

// TestReportedOutcomeAudited: a handler that replies but reports a
// refusal is audited with its outcome, and the client still gets the
// reply (the legacy clients print it).
func TestReportedOutcomeAudited(t *testing.T) {
	const opRefuse wire.MsgType = 0x7e
	s := &Server{Ops: testOps(nil)}
	s.Ops[opRefuse] = Op{Name: "refuse", Handler: ops.HandlerFunc(func(ctx context.Context, r ops.Request) (ops.Reply, error) {
		return ops.Reply{Body: []byte("permission denied"), Outcome: ops.OutcomeDenied}, nil
	})}
	addr, rec := startTCP(t, s)
	c := dialTCP(t, addr)
	c.auth("bob" + fakeRealm)
	got, err := c.op(opRefuse, "")
	require.NoError(t, err)
	assert.Equal(t, "permission denied", got)
	_, err = c.op(opEcho, "x")
	require.NoError(t, err)
	rec.waitFor(t, map[string]string{"msg": "audit", "event": "op", "op": "echo"})
	denied := rec.find(map[string]string{"msg": "audit", "event": "op", "op": "refuse"})
	require.Len(t, denied, 1)
	assert.Equal(t, "denied", denied[0]["outcome"])
	assert.Equal(t, "ok", rec.find(map[string]string{"msg": "audit", "event": "op", "op": "echo"})[0]["outcome"], "the report does not leak to the next op")
}
