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
// (GSS-API, sealed frames) -> mysql handler -> ops/directory (slapd) and
// MariaDB; then a login with the returned password.
func TestMariaDBThroughCeod(t *testing.T) {
	e := newMariaEnv(t)
	c := authztest.StartCeod(t, e.r, map[wire.MsgType]server.Op{0x03: authztest.Op("mysql", e.h)})
	call := func(t *testing.T, caller, name string) ([]msg, *string) {
		t.Helper()
		body, _ := proto.Marshal(&ceopb.AddMySQLUser{Username: proto.String(name)})
		out, err := c.Call(t, caller, "mysql", body)
		if err != nil {
			t.Fatalf("ceoc mysql: %v\nceod log:\n%s", err, c.Audit)
		}
		var resp ceopb.AddMySQLUserResponse
		if err := proto.Unmarshal(out, &resp); err != nil {
			t.Fatal(err)
		}
		var msgs []msg
		for _, m := range resp.GetMessages() {
			msgs = append(msgs, msg{m.GetStatus(), m.GetMessage()})
		}
		return msgs, resp.Password
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
		if !c.WaitAudit("event=op outcome=ok", "principal=regular1@"+e.r.Name+" op=mysql") {
			t.Errorf("no audit record:\n%s", c.Audit)
		}
	})
	t.Run("refusals", func(t *testing.T) {
		before := e.state(t)
		got, pw := call(t, "office1", "syscom1")
		wantMsgs(t, got,
			msg{0, "mysql create db=syscom1 by office1"},
			msg{int32(syscall.EPERM), "denied, you may not create databases for other members"})
		if pw != nil {
			t.Error("refusal carries a password")
		}
		got, _ = call(t, "syscom1", "bad;name")
		wantMsgs(t, got,
			msg{0, "mysql create db=bad;name by syscom1"},
			msg{0, "user syscom1 is on systems committee"},
			msg{int32(syscall.EINVAL), "invalid characters in username bad;name"})
		got, _ = call(t, "syscom1", "nosuchuser")
		wantMsgs(t, got,
			msg{0, "mysql create db=nosuchuser by syscom1"},
			msg{0, "user syscom1 is on systems committee"},
			msg{int32(syscall.ENOENT), "user nosuchuser does not exist"})
		if after := e.state(t); after != before {
			t.Errorf("refusals changed the server:\n%s\n---\n%s", before, after)
		}
	})
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
	t.Run("malformed request ends the connection", func(t *testing.T) {
		if _, err := c.Call(t, "regular1", "mysql", []byte{0xff}); !errors.Is(err, ceoc.ErrRefused) {
			t.Errorf("err %v, want ceoc.ErrRefused", err)
		}
	})
}
