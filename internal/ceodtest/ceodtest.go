// Package ceodtest runs ceod in-process against the test realm
// (internal/realm), for end-to-end tests: ceoc (the library, with a real
// ticket) -> ceod -> the op.
//
// Serve runs the connection server (ceod/server) with a table of
// handlers, for an op's own tests; daemontest.Start runs the whole
// daemon (ceod/daemon) on a configuration directory. daemontest is apart
// because ceod/daemon links every op, and an op's own tests must not
// import it. Either way the test gets a *Ceod.
package ceodtest

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jcmturner/gokrb5/v8/keytab"

	"github.com/csclub/ceo/ceoc"
	"github.com/csclub/ceo/ceod/registry"
	"github.com/csclub/ceo/ceod/server"
	"github.com/csclub/ceo/internal/realm"
	"github.com/csclub/ceo/ops"
	"github.com/csclub/ceo/wire"
)

// callTimeout bounds one Call: a GSS-API handshake and one op against
// the realm's services, on a loaded 2-core machine.
const callTimeout = 60 * time.Second

// shutdownTimeout bounds the graceful stop at the end of a test.
const shutdownTimeout = 10 * time.Second

// Ceod is a ceod running for a test, until the test ends.
type Ceod struct {
	// Addr and Port are where it listens.
	Addr string
	Port int
	// Log holds its log records.
	Log *Buffer
	// Ops is the op table it serves, sorted by id.
	Ops []registry.Entry

	r         *realm.Realm
	configDir string // the ops files its clients read
	libDir    string // where its op programs are
	stop      func()

	mu      sync.Mutex
	clients map[string]*ceoc.Client
}

// New describes a ceod started by another harness (daemontest) with the
// realm r: listening on addr, serving table, with the ops files and op
// programs of configDir and libDir, logging to log, stopped (and checked)
// by stop. stop is called once, by Stop or when the test ends.
func New(t testing.TB, r *realm.Realm, addr net.Addr, table []registry.Entry, configDir, libDir string, log *Buffer, stop func()) *Ceod {
	c := &Ceod{Addr: addr.String(), Port: addr.(*net.TCPAddr).Port, Log: log, Ops: table,
		r: r, configDir: configDir, libDir: libDir, stop: sync.OnceFunc(stop)}
	t.Cleanup(c.stop)
	return c
}

// Stop stops the ceod now, gracefully; the test fails if it does not
// stop cleanly.
func (c *Ceod) Stop() { c.stop() }

// Op is shorthand for a server.Op.
func Op(name string, h ops.Handler) server.Op { return server.Op{Name: name, Handler: h} }

// Serve runs ceod/server with the realm's service keytab, serving
// handlers (op id -> name and handler) on a loopback port, and shuts it
// down gracefully when the test ends. Its audit and log records go to
// Log. Clients resolve op names with the realm's ops files.
func Serve(t testing.TB, r *realm.Realm, handlers map[wire.MsgType]server.Op) *Ceod {
	t.Helper()
	kt, err := keytab.Load(r.CeodKeytab)
	if err != nil {
		t.Fatal(err)
	}
	log := &Buffer{}
	srv := &server.Server{
		Keytab:    kt,
		Principal: r.CeodPrincipal,
		Ops:       handlers,
		Log:       slog.New(slog.NewTextHandler(log, nil)),
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	stop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("ceod shutdown: %v", err)
		}
		if err := <-done; !errors.Is(err, server.ErrServerClosed) {
			t.Errorf("ceod Serve: %v", err)
		}
	}
	builtins := map[string]ops.Handler{}
	for _, op := range handlers {
		builtins[op.Name] = op.Handler
	}
	return New(t, r, l.Addr(), registry.Entries(handlers, builtins), r.ConfigDir, r.LibDir, log, stop)
}

// Client returns the ceoc client of the seeded realm user (one per user,
// with a ccache from kinit with the user's password). The first call for
// a user must come from the test's goroutine (kinit may fail the test).
func (c *Ceod) Client(t testing.TB, user string) *ceoc.Client {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if cl := c.clients[user]; cl != nil {
		return cl
	}
	u, ok := c.r.Users[user]
	if !ok {
		t.Fatalf("no realm user %s", user)
	}
	cc := c.r.Kinit(t, user, u.Password)
	cl := &ceoc.Client{ConfigDir: c.configDir, Credentials: ceoc.CCache("FILE:" + cc), KRB5Config: c.r.KRB5Config, Port: c.Port}
	if c.clients == nil {
		c.clients = map[string]*ceoc.Client{}
	}
	c.clients[user] = cl
	return cl
}

// Call sends op (by name) as the seeded realm user caller and returns
// the reply.
func (c *Ceod) Call(t testing.TB, caller, op string, request []byte) ([]byte, error) {
	t.Helper()
	cl := c.Client(t, caller)
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	return cl.Call(ctx, op, request)
}

// RequireServed fails the test unless ceod serves op, built in or as an
// op program that exists: a missing op is a broken daemon, not a reason
// to skip.
func (c *Ceod) RequireServed(t testing.TB, op string) {
	t.Helper()
	for _, e := range c.Ops {
		if e.Name != op {
			continue
		}
		if e.Builtin {
			return
		}
		prog := registry.ProgramPath(c.libDir, op)
		if st, err := os.Stat(prog); err == nil && st.Mode().Perm()&0o111 != 0 {
			return
		}
		t.Fatalf("%s op not served: ceod has no built-in %s handler and %s does not exist", op, op, prog)
	}
	t.Fatalf("%s op not served: ceod's op table has no %s (%v)", op, op, c.Ops)
}
