package server

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/csclub/ceo/ops"
	"github.com/csclub/ceo/wire"
	"github.com/csclub/ceo/wire/session"
)

// The fake security mechanism: the initial token is "AUTH:<principal>",
// refused if the principal starts with "bad"; wrapped messages are the
// plaintext behind a "W:" prefix. The reply token is "OK".

const (
	fakeRealm = "@TEST.REALM"
	opEcho    = wire.MsgType(0x10)
	opFail    = wire.MsgType(0x11)
	opSlow    = wire.MsgType(0x12)
	opDeny    = wire.MsgType(0x13)
	opPanic   = wire.MsgType(0x14)
	opBig     = wire.MsgType(0x15)
)

type fakeAcceptor struct{}

func (fakeAcceptor) accept(tok []byte) (session.Sealer, []byte, error) {
	p, ok := bytes.CutPrefix(tok, []byte("AUTH:"))
	if !ok || len(p) == 0 {
		return nil, nil, errors.New("fake: defective token")
	}
	if bytes.HasPrefix(p, []byte("bad")) {
		return nil, nil, errors.New("fake: ticket rejected")
	}
	return fakeContext{peer: string(p)}, []byte("OK"), nil
}

type fakeContext struct{ peer string }

func (f fakeContext) Wrap(msg []byte) ([]byte, error) { return append([]byte("W:"), msg...), nil }
func (f fakeContext) UnwrapSealed(tok []byte) ([]byte, error) {
	m, ok := bytes.CutPrefix(tok, []byte("W:"))
	if !ok {
		return nil, errors.New("fake: not sealed")
	}
	return m, nil
}
func (f fakeContext) Peer() string { return f.peer }

// slowGate lets tests hold the slow op until they release it.
type slowGate struct {
	started chan struct{} // receives once per slow op started
	release chan struct{} // closed to let slow ops finish
}

func newSlowGate() *slowGate {
	return &slowGate{started: make(chan struct{}, 100), release: make(chan struct{})}
}

// testOps returns the op table used by the state-machine tests.
func testOps(g *slowGate) map[wire.MsgType]Op {
	return map[wire.MsgType]Op{
		opEcho: {Name: "echo", Handler: ops.HandlerFunc(func(ctx context.Context, r ops.Request) (ops.Reply, error) {
			return ops.Reply{Body: []byte(r.Caller.User + "|" + r.Caller.Principal + "|" + string(r.Body))}, nil
		})},
		opFail: {Name: "fail", Handler: ops.HandlerFunc(func(ctx context.Context, r ops.Request) (ops.Reply, error) {
			return ops.Reply{}, errors.New("exit status 3")
		})},
		opDeny: {Name: "deny", Handler: ops.HandlerFunc(func(ctx context.Context, r ops.Request) (ops.Reply, error) {
			return ops.Reply{}, ops.ErrDenied
		})},
		opPanic: {Name: "panic", Handler: ops.HandlerFunc(func(ctx context.Context, r ops.Request) (ops.Reply, error) {
			panic("boom")
		})},
		opBig: {Name: "big", Handler: ops.HandlerFunc(func(ctx context.Context, r ops.Request) (ops.Reply, error) {
			return ops.Reply{Body: make([]byte, wire.DefaultMaxFrame)}, nil
		})},
		opSlow: {Name: "slow", Handler: ops.HandlerFunc(func(ctx context.Context, r ops.Request) (ops.Reply, error) {
			if g == nil {
				<-ctx.Done()
				return ops.Reply{}, ctx.Err()
			}
			g.started <- struct{}{}
			select {
			case <-g.release:
				return ops.Reply{Body: []byte("slow done")}, nil
			case <-ctx.Done():
				return ops.Reply{}, ctx.Err()
			}
		})},
	}
}

// recorder is a slog.Handler that keeps records for assertions.
type recorder struct {
	mu   sync.Mutex
	recs []map[string]string
	msgs []string
}

func (r *recorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *recorder) WithAttrs(as []slog.Attr) slog.Handler {
	return &withAttrs{r: r, attrs: as}
}
func (r *recorder) WithGroup(string) slog.Handler { return r }
func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	m := map[string]string{"msg": rec.Message, "level": rec.Level.String()}
	rec.Attrs(func(a slog.Attr) bool { m[a.Key] = a.Value.String(); return true })
	r.mu.Lock()
	r.recs = append(r.recs, m)
	r.mu.Unlock()
	return nil
}

type withAttrs struct {
	r     *recorder
	attrs []slog.Attr
}

func (w *withAttrs) Enabled(context.Context, slog.Level) bool { return true }
func (w *withAttrs) WithAttrs(as []slog.Attr) slog.Handler {
	return &withAttrs{r: w.r, attrs: append(append([]slog.Attr{}, w.attrs...), as...)}
}
func (w *withAttrs) WithGroup(string) slog.Handler { return w }
func (w *withAttrs) Handle(ctx context.Context, rec slog.Record) error {
	rec = rec.Clone()
	rec.AddAttrs(w.attrs...)
	return w.r.Handle(ctx, rec)
}

// find returns the records whose attributes include all of want.
func (r *recorder) find(want map[string]string) []map[string]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []map[string]string
next:
	for _, m := range r.recs {
		for k, v := range want {
			if m[k] != v {
				continue next
			}
		}
		out = append(out, m)
	}
	return out
}

// waitFor polls until the recorder has a record matching want.
func (r *recorder) waitFor(t *testing.T, want map[string]string) map[string]string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if m := r.find(want); len(m) > 0 {
			return m[0]
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("no log record with %v; have %v", want, r.all())
	return nil
}

func (r *recorder) all() []map[string]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]map[string]string(nil), r.recs...)
}

// client is a minimal protocol client over any net.Conn.
type client struct {
	t  testing.TB
	nc net.Conn
}

func (c *client) send(t wire.MsgType, body []byte) error {
	return wire.WriteFrame(c.nc, t, body)
}

func (c *client) sendRaw(b []byte) error {
	_, err := c.nc.Write(b)
	return err
}

func (c *client) recv() (wire.MsgType, []byte, error) {
	return wire.ReadFrame(c.nc, wire.DefaultMaxFrame)
}

// opAs authenticates as user of the fake realm and sends op an empty
// request, sealed the fake way ("W:").
func opAs(user string, op wire.MsgType) func(*client) {
	return func(c *client) {
		c.auth(user + fakeRealm)
		c.send(op, []byte("W:"))
	}
}

// auth authenticates as principal and fails the test on error.
func (c *client) auth(principal string) {
	c.t.Helper()
	if err := c.send(wire.MsgAuth, []byte("AUTH:"+principal)); err != nil {
		c.t.Fatalf("sending auth: %v", err)
	}
	typ, body, err := c.recv()
	if err != nil || typ != wire.MsgAuth || string(body) != "OK" {
		c.t.Fatalf("auth reply: %v %q %v", typ, body, err)
	}
}

// op sends one op and returns the unwrapped reply.
func (c *client) op(t wire.MsgType, req string) (string, error) {
	if err := c.send(t, []byte("W:"+req)); err != nil {
		return "", err
	}
	rt, body, err := c.recv()
	if err != nil {
		return "", err
	}
	if rt != t {
		return "", errors.New("reply msgtype mismatch")
	}
	m, ok := bytes.CutPrefix(body, []byte("W:"))
	if !ok {
		return "", errors.New("reply not wrapped")
	}
	return string(m), nil
}

// expectClosed checks that the server closes the connection without
// sending anything more.
func (c *client) expectClosed() {
	c.t.Helper()
	c.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	b, err := io.ReadAll(c.nc)
	if len(b) != 0 {
		c.t.Fatalf("server sent %d bytes (%q) before closing", len(b), b)
	}
	if err != nil && !isReset(err) {
		c.t.Fatalf("connection not closed by server: %v", err)
	}
}

func isReset(err error) bool {
	return strings.Contains(err.Error(), "connection reset")
}

// header returns a raw frame header.
func header(n uint32, t wire.MsgType) []byte {
	var h [8]byte
	binary.BigEndian.PutUint32(h[0:], n)
	binary.BigEndian.PutUint32(h[4:], uint32(t))
	return h[:]
}

// pipeListener is a net.Listener over net.Pipe, usable inside a
// synctest bubble.
type pipeListener struct {
	conns  chan net.Conn
	closed chan struct{}
	once   sync.Once
}

func newPipeListener() *pipeListener {
	return &pipeListener{conns: make(chan net.Conn), closed: make(chan struct{})}
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

func (l *pipeListener) Addr() net.Addr { return pipeAddr{} }

// dial returns the client end of a new connection.
func (l *pipeListener) dial() (net.Conn, error) {
	s, c := net.Pipe()
	select {
	case l.conns <- s:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "pipe" }
