package database

import (
	"errors"
	"syscall"
	"testing"

	"github.com/csclub/ceo/ceoc"
	"github.com/csclub/ceo/ceod/server"
	"github.com/csclub/ceo/internal/ceodtest"
	"github.com/csclub/ceo/wire"
)

// callThrough sends a request for name through ceoc and ceod as caller.
func callThrough(t *testing.T, c *ceodtest.Ceod, d dialect, caller, name string) ([]msg, *string) {
	t.Helper()
	out, err := c.Call(t, caller, d.op, d.encode(&name))
	if err != nil {
		t.Fatalf("ceoc %s: %v\nceod log:\n%s", d.op, err, c.Log)
	}
	msgs, pw, err := d.decode(out)
	if err != nil {
		t.Fatal(err)
	}
	return msgs, pw
}

// refusalsThroughCeod: caller may not act for other, bad breaks the name
// rule, nosuchuser has no account; the replies reach the client and the
// server is left as it was.
func refusalsThroughCeod(t *testing.T, d dialect, call func(*testing.T, string, string) ([]msg, *string),
	state func(*testing.T) string, caller, other, bad string) {
	before := state(t)
	got, pw := call(t, caller, other)
	wantMsgs(t, got,
		msg{0, d.op + " create db=" + other + " by " + caller},
		msg{int32(syscall.EPERM), "denied, you may not create databases for other members"})
	if pw != nil {
		t.Error("refusal carries a password")
	}
	got, _ = call(t, "syscom1", bad)
	wantMsgs(t, got,
		msg{0, d.op + " create db=" + bad + " by syscom1"},
		msg{0, "user syscom1 is on systems committee"},
		msg{int32(syscall.EINVAL), "invalid characters in username " + bad})
	got, _ = call(t, "syscom1", "nosuchuser")
	wantMsgs(t, got,
		msg{0, d.op + " create db=nosuchuser by syscom1"},
		msg{0, "user syscom1 is on systems committee"},
		msg{int32(syscall.ENOENT), "user nosuchuser does not exist"})
	if after := state(t); after != before {
		t.Errorf("refusals changed the server:\n%s\n---\n%s", before, after)
	}
}

// malformedEndsConnection: a request that does not decode gets no reply.
func malformedEndsConnection(t *testing.T, c *ceodtest.Ceod, d dialect) {
	if _, err := c.Call(t, "regular1", d.op, []byte{0xff}); !errors.Is(err, ceoc.ErrRefused) {
		t.Errorf("err %v, want ceoc.ErrRefused", err)
	}
}

// TestMariaDBThroughCeod: ceoc (library, kinit ticket) -> in-process ceod
// (GSS-API, sealed frames) -> mysql handler -> ops/directory (slapd) and
// MariaDB; then a login with the returned password.
func TestMariaDBThroughCeod(t *testing.T) {
	e := newMariaEnv(t)
	c := ceodtest.Serve(t, e.r, map[wire.MsgType]server.Op{0x03: ceodtest.Op("mysql", e.h)})
	call := func(t *testing.T, caller, name string) ([]msg, *string) {
		t.Helper()
		return callThrough(t, c, mysqlMsgs, caller, name)
	}
	// A clean slate for the seeded user's database and account.
	for _, q := range []string{"DROP DATABASE IF EXISTS `regular1`", "DROP USER IF EXISTS `regular1`@`localhost`"} {
		if _, err := e.admin.Exec(q); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("self", func(t *testing.T) {
		got, pw := call(t, "regular1", "regular1")
		wantMsgs(t, got,
			msg{0, "mysql create db=regular1 by regular1"},
			msg{0, "user regular1 creating database for self"},
			msg{0, "successfully created database regular1"})
		if pw == nil || !passwordShape.MatchString(*pw) {
			t.Fatalf("password %v", pw)
		}
		useMariaDB(t, e.login(t, "tcp", "regular1", *pw, "regular1"), "e2e_tcp")
		useMariaDB(t, e.login(t, "unix", "regular1", *pw, "regular1"), "e2e_unix")
		if !c.Log.WaitLine("event=op outcome=ok", "principal=regular1@"+e.r.Name+" op=mysql") {
			t.Errorf("no audit record:\n%s", c.Log)
		}
	})
	t.Run("refusals", func(t *testing.T) { refusalsThroughCeod(t, mysqlMsgs, call, e.state, "office1", "syscom1", "bad;name") })
	t.Run("syscom for a member", func(t *testing.T) {
		got, pw := call(t, "syscom1", "office1")
		wantMsgs(t, got,
			msg{0, "mysql create db=office1 by syscom1"},
			msg{0, "user syscom1 is on systems committee"},
			msg{0, "successfully created database office1"})
		if pw == nil {
			t.Fatal("no password")
		}
		useMariaDB(t, e.login(t, "tcp", "office1", *pw, "office1"), "e2e")
	})
	t.Run("malformed request ends the connection", func(t *testing.T) { malformedEndsConnection(t, c, mysqlMsgs) })
}

// TestPostgreSQLThroughCeod: ceoc (library, kinit ticket) -> in-process ceod
// (GSS-API, sealed frames) -> postgresql handler (op 0x05) ->
// ops/directory (slapd) and PostgreSQL; then a scram login with the
// returned password.
func TestPostgreSQLThroughCeod(t *testing.T) {
	e := newPGEnv(t)
	c := ceodtest.Serve(t, e.r, map[wire.MsgType]server.Op{0x05: ceodtest.Op("postgresql", e.handler(t, "postgres", "template1"))})
	call := func(t *testing.T, caller, name string) ([]msg, *string) {
		t.Helper()
		return callThrough(t, c, pgMsgs, caller, name)
	}
	for _, q := range []string{"DROP DATABASE IF EXISTS regular1", "DROP ROLE IF EXISTS regular1"} {
		if _, err := e.pool.Exec(t.Context(), q); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("self", func(t *testing.T) {
		got, pw := call(t, "regular1", "regular1")
		wantMsgs(t, got,
			msg{0, "postgresql create db=regular1 by regular1"},
			msg{0, "user regular1 creating database for self"},
			msg{0, "successfully created database regular1"})
		if pw == nil || !passwordShape.MatchString(*pw) {
			t.Fatalf("password %v", pw)
		}
		conn, err := e.connect(t, "regular1", *pw, "regular1")
		if err != nil {
			t.Fatalf("login: %v", err)
		}
		usePostgreSQL(t, conn)
		if _, err := e.connect(t, "regular1", *pw, "postgres"); sqlstate(err) != "42501" {
			t.Errorf("connect to postgres: %v, want permission denied 42501", err)
		}
		if !c.Log.WaitLine("event=op outcome=ok", "principal=regular1@"+e.r.Name+" op=postgresql") {
			t.Errorf("no audit record:\n%s", c.Log)
		}
	})
	t.Run("re-run", func(t *testing.T) {
		got, pw := call(t, "regular1", "regular1")
		wantMsgs(t, got,
			msg{0, "postgresql create db=regular1 by regular1"},
			msg{0, "user regular1 creating database for self"},
			msg{0, "successfully reset password for regular1"})
		if pw == nil {
			t.Fatal("no password")
		}
		if _, err := e.connect(t, "regular1", *pw, "regular1"); err != nil {
			t.Errorf("login with the new password: %v", err)
		}
	})
	t.Run("refusals", func(t *testing.T) { refusalsThroughCeod(t, pgMsgs, call, e.state, "regular1", "office1", "Bad Name") })
	t.Run("malformed request ends the connection", func(t *testing.T) { malformedEndsConnection(t, c, pgMsgs) })
}
