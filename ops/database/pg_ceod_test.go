package database

import (
	"errors"
	"syscall"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/csclub/ceo/ceoc"
	"github.com/csclub/ceo/ceod/server"
	"github.com/csclub/ceo/ops/authz/authztest"
	"github.com/csclub/ceo/wire"
	"github.com/csclub/ceo/wire/ceopb"
)

// TestThroughCeod: ceoc (library, kinit ticket) -> in-process ceod
// (GSS-API, sealed frames) -> postgresql handler (op 0x05) ->
// ops/directory (slapd) and PostgreSQL; then a scram login with the
// returned password.
func TestPostgreSQLThroughCeod(t *testing.T) {
	e := newPGEnv(t)
	c := authztest.StartCeod(t, e.r, map[wire.MsgType]server.Op{0x05: authztest.Op("postgresql", e.handler(t, "postgres", "template1"))})
	call := func(t *testing.T, caller, name string) ([]msg, *string) {
		t.Helper()
		body, _ := proto.Marshal(&ceopb.AddPostgreSQLUser{Username: proto.String(name)})
		out, err := c.Call(t, caller, "postgresql", body)
		if err != nil {
			t.Fatalf("ceoc postgresql: %v\nceod log:\n%s", err, c.Audit)
		}
		var resp ceopb.AddPostgreSQLUserResponse
		if err := proto.Unmarshal(out, &resp); err != nil {
			t.Fatal(err)
		}
		var msgs []msg
		for _, m := range resp.GetMessages() {
			msgs = append(msgs, msg{m.GetStatus(), m.GetMessage()})
		}
		return msgs, resp.Password
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
		if !c.WaitAudit("event=op outcome=ok", "principal=regular1@"+e.r.Name+" op=postgresql") {
			t.Errorf("no audit record:\n%s", c.Audit)
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
	t.Run("refusals", func(t *testing.T) {
		before := e.state(t)
		got, pw := call(t, "regular1", "office1")
		wantMsgs(t, got,
			msg{0, "postgresql create db=office1 by regular1"},
			msg{int32(syscall.EPERM), "denied, you may not create databases for other members"})
		if pw != nil {
			t.Error("refusal carries a password")
		}
		got, _ = call(t, "syscom1", "Bad Name")
		wantMsgs(t, got,
			msg{0, "postgresql create db=Bad Name by syscom1"},
			msg{0, "user syscom1 is on systems committee"},
			msg{int32(syscall.EINVAL), "invalid characters in username Bad Name"})
		got, _ = call(t, "syscom1", "nosuchuser")
		wantMsgs(t, got,
			msg{0, "postgresql create db=nosuchuser by syscom1"},
			msg{0, "user syscom1 is on systems committee"},
			msg{int32(syscall.ENOENT), "user nosuchuser does not exist"})
		if after := e.state(t); after != before {
			t.Errorf("refusals changed the server:\n%s\n---\n%s", before, after)
		}
	})
	t.Run("malformed request ends the connection", func(t *testing.T) {
		if _, err := c.Call(t, "regular1", "postgresql", []byte{0xff}); !errors.Is(err, ceoc.ErrRefused) {
			t.Errorf("err %v, want ceoc.ErrRefused", err)
		}
	})
}
