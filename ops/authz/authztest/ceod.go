package authztest

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jcmturner/gokrb5/v8/keytab"

	"github.com/csclub/ceo/ceoc"
	"github.com/csclub/ceo/ceod/server"
	"github.com/csclub/ceo/internal/realm"
	"github.com/csclub/ceo/ops"
	"github.com/csclub/ceo/wire"
)

// Ceod is an in-process ceod (ceod/server) on a loopback port, serving
// some handlers with the realm's service keytab, for end-to-end tests:
// ceoc (the library, with a real ticket) -> ceod -> handler.
type Ceod struct {
	r    *realm.Realm
	Port int
	// Audit holds the server's audit and diagnostic records.
	Audit *SyncBuffer

	mu      sync.Mutex
	clients map[string]*ceoc.Client
}

// SyncBuffer is a bytes.Buffer safe for concurrent writes.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// StartCeod serves handlers (op id -> name and handler) until the test
// ends, then shuts the server down gracefully.
func StartCeod(t testing.TB, r *realm.Realm, handlers map[wire.MsgType]server.Op) *Ceod {
	t.Helper()
	kt, err := keytab.Load(r.CeodKeytab)
	if err != nil {
		t.Fatal(err)
	}
	audit := &SyncBuffer{}
	srv := &server.Server{
		Keytab:    kt,
		Principal: r.CeodPrincipal,
		Ops:       handlers,
		Log:       slog.New(slog.NewTextHandler(audit, nil)),
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("ceod shutdown: %v", err)
		}
		if err := <-done; !errors.Is(err, server.ErrServerClosed) {
			t.Errorf("ceod Serve: %v", err)
		}
	})
	return &Ceod{r: r, Port: l.Addr().(*net.TCPAddr).Port, Audit: audit}
}

// Call sends op (by name, resolved from the realm's ops files) as the
// seeded realm user caller, with a ticket from kinit with the user's
// password, and returns the reply.
func (c *Ceod) Call(t testing.TB, caller, op string, request []byte) ([]byte, error) {
	t.Helper()
	c.mu.Lock()
	if c.clients == nil {
		c.clients = map[string]*ceoc.Client{}
	}
	cl := c.clients[caller]
	if cl == nil {
		u, ok := c.r.Users[caller]
		if !ok {
			c.mu.Unlock()
			t.Fatalf("no realm user %s", caller)
		}
		cc := c.r.Kinit(t, caller, u.Password)
		cl = &ceoc.Client{ConfigDir: c.r.ConfigDir, Credentials: ceoc.CCache("FILE:" + cc), KRB5Config: c.r.KRB5Config, Port: c.Port}
		c.clients[caller] = cl
	}
	c.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	return cl.Call(ctx, op, request)
}

// Op is shorthand for a server.Op.
func Op(name string, h ops.Handler) server.Op { return server.Op{Name: name, Handler: h} }

// WaitAudit waits up to five seconds for an audit line holding every one
// of parts (ceod writes an op's record just after sending its reply) and
// reports whether one came.
func (c *Ceod) WaitAudit(parts ...string) bool {
	deadline := time.Now().Add(5 * time.Second)
	for {
		for _, line := range strings.Split(c.Audit.String(), "\n") {
			if containsAll(line, parts) {
				return true
			}
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func containsAll(s string, parts []string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}
