package adduser_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/csclub/ceo/ceoc"
	"github.com/csclub/ceo/ceod/server"
	"github.com/csclub/ceo/wire"
	"github.com/csclub/ceo/wire/ceopb"
)

// startCeod runs an in-process ceod serving the adduser handler as op
// 0x01 on a loopback port, and returns the port.
func startCeod(t *testing.T, e *env) int {
	t.Helper()
	kt, err := keytab.Load(e.r.CeodKeytab)
	require.NoError(t, err)
	srv := &server.Server{
		Keytab:    kt,
		Principal: e.r.CeodPrincipal,
		Ops:       map[wire.MsgType]server.Op{0x01: {Name: "adduser", Handler: e.h}},
		Log:       slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		assert.NoError(t, srv.Shutdown(ctx))
		assert.True(t, errors.Is(<-done, server.ErrServerClosed))
	})
	return l.Addr().(*net.TCPAddr).Port
}

// ceocClient returns the ceoc client of caller, logged in with a ccache
// from kinit with the caller's password (one per caller and env). The
// first call must come from the test's goroutine (kinit may fail it).
func (e *env) ceocClient(t *testing.T, caller string) *ceoc.Client {
	e.ccMu.Lock()
	defer e.ccMu.Unlock()
	if e.ceoc == nil {
		e.ceoc = map[string]*ceoc.Client{}
	}
	cl := e.ceoc[caller]
	if cl == nil {
		cc := e.r.Kinit(t, caller, e.r.Users[caller].Password)
		cl = &ceoc.Client{ConfigDir: e.r.ConfigDir, Credentials: ceoc.CCache("FILE:" + cc), KRB5Config: e.r.KRB5Config, Port: e.port}
		e.ceoc[caller] = cl
	}
	return cl
}

// ceocWarm logs office1 in from the test goroutine, before concurrent
// calls, when the test runs through ceod.
func (e *env) ceocWarm(t *testing.T) {
	if e.port != 0 {
		e.ceocClient(t, "office1")
	}
}

// TestThroughCeod runs the acceptance cases end to end: ceoc (the
// library, with office1's ticket) -> ceod (in-process, GSS-API) -> the
// adduser handler -> LDAP, kadmind and the file system.
func TestThroughCeod(t *testing.T) {
	e := newEnv(t)
	e.port = startCeod(t, e)

	t.Run("member", func(t *testing.T) {
		name := uniqueName("e")
		t0 := time.Now()
		msgs := e.call(t, "office1", member(name, "through-ceod", "End Toend", "Physics", name+"@example.org"))
		t.Logf("ceoc -> ceod adduser member took %v", time.Since(t0))
		requireOK(t, msgs)
		e.checkAccount(t, "member", name, "through-ceod", "End Toend", "Physics", name+"@example.org")
	})
	t.Run("club rep", func(t *testing.T) {
		name := uniqueName("e")
		m := member(name, "through-ceod", "Rep Resent", "", "")
		m.Type = ceopb.AddUser_CLUB_REP.Enum()
		requireOK(t, e.call(t, "syscom1", m))
		e.checkAccount(t, "member", name, "through-ceod", "Rep Resent", "", "")
	})
	t.Run("club", func(t *testing.T) {
		name := uniqueName("e")
		requireOK(t, e.call(t, "office1", club(name, "Go Club", "go@example.org")))
		e.checkAccount(t, "club", name, "", "Go Club", "", "go@example.org")
	})
	t.Run("unauthorized", func(t *testing.T) {
		name := uniqueName("e")
		msgs := e.call(t, "regular1", member(name, "through-ceod", "Reg Ular", "", ""))
		requireRefused(t, msgs, 1)
		e.assertAbsent(t, name)
	})
	t.Run("invalid", func(t *testing.T) {
		for _, bad := range []string{"a,ou=x", "../x", "Root", "", "a" + strings.Repeat("b", 199)} {
			msgs := e.call(t, "office1", member(bad, "through-ceod", "Bad Name", "", ""))
			requireRefused(t, msgs, 22)
		}
	})
	t.Run("exists", func(t *testing.T) {
		requireRefused(t, e.call(t, "office1", member("regular1", "through-ceod", "Dup", "", "")), 17)
	})
}
