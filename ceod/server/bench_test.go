package server

import (
	"cmp"
	"log/slog"
	"net"
	"runtime"
	"testing"

	"github.com/csclub/ceo/wire"
)

// startBench is startTCP for benchmarks: the fake acceptor, no log.
func startBench(b *testing.B, s *Server) string {
	b.Helper()
	s.acceptor = fakeAcceptor{}
	s.Principal = cmp.Or(s.Principal, "ceod/test"+fakeRealm)
	s.Ops = testOps(nil)
	s.Log = slog.New(slog.DiscardHandler)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go s.Serve(ln)
	b.Cleanup(func() { s.Close() })
	return ln.Addr().String()
}

// BenchmarkIdleConnMemory opens idleConns authenticated connections
// over loopback TCP, each of which has served one op, and reports
// what the server keeps for each while it waits for the next op: its
// goroutine's stack (stack-B/conn) and the heap of both ends after a
// GC (heap-B/conn; the client's socket objects are in it, a few
// hundred bytes). The fake mechanism keeps no keys; the Kerberos
// context's share is in ceod/integration's BenchmarkIdleConns.
func BenchmarkIdleConnMemory(b *testing.B) {
	const idleConns = 2000
	addr := startBench(b, &Server{Limits: Limits{MaxConns: 2 * idleConns, MaxConnsPerPrincipal: 2 * idleConns}})
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		conns := make([]*client, idleConns)
		for i := range conns {
			c := dialBench(b, addr)
			c.auth("alice" + fakeRealm)
			if _, err := c.op(opEcho, "hello"); err != nil {
				b.Fatal(err)
			}
			conns[i] = c
		}
		runtime.GC()
		runtime.GC() // the second shrinks stacks the first found idle
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.StackInuse-before.StackInuse)/idleConns, "stack-B/conn")
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/idleConns, "heap-B/conn")
		for _, c := range conns {
			c.nc.Close()
		}
	}
}

func dialBench(b *testing.B, addr string) *client {
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	return &client{t: b, nc: nc}
}

// BenchmarkOpsOnOpenConn is ping-pong of one op on an open loopback
// connection with the fake mechanism: the server's per-op path (frame
// read, dispatch, handler, audit, reply) and a minimal client. Both
// ends' allocations count.
func BenchmarkOpsOnOpenConn(b *testing.B) {
	addr := startBench(b, &Server{})
	c := dialBench(b, addr)
	defer c.nc.Close()
	c.auth("alice" + fakeRealm)
	req := []byte("W:ping")
	b.ReportAllocs()
	for b.Loop() {
		if err := c.send(opEcho, req); err != nil {
			b.Fatal(err)
		}
		if _, _, err := wire.ReadFrame(c.nc, 0); err != nil {
			b.Fatal(err)
		}
	}
}
