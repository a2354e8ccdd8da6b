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
		denied)
	if pw != nil {
		t.Error("refusal carries a password")
	}
	got, _ = call(t, "syscom1", bad)
	wantMsgs(t, got,
		msg{0, d.op + " create db=" + bad + " by syscom1"},
		msg{0, bySyscom},
		msg{int32(syscall.EINVAL), "invalid characters in username " + bad})
	got, _ = call(t, "syscom1", "nosuchuser")
	wantMsgs(t, got,
		msg{0, d.op + " create db=nosuchuser by syscom1"},
		msg{0, bySyscom},
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

// TestThroughCeod: ceoc (library, kinit ticket) -> in-process ceod
// (GSS-API, sealed frames) -> the op's handler -> ops/directory (slapd)
// and the server; then a login with the returned password.
func TestThroughCeod(t *testing.T) {
	forEngines(t, func(t *testing.T, e *engineEnv) {
		c := ceodtest.Serve(t, e.r, map[wire.MsgType]server.Op{e.id: ceodtest.Op(e.d.op, e.h)})
		call := func(t *testing.T, caller, name string) ([]msg, *string) {
			t.Helper()
			return callThrough(t, c, e.d, caller, name)
		}
		// A clean slate for the seeded users' databases and accounts.
		e.drop(t, "regular1")
		e.drop(t, "office1")

		t.Run("self", func(t *testing.T) {
			got, pw := call(t, "regular1", "regular1")
			wantMsgs(t, got, created(e.d.op, "regular1", "regular1", bySelf)...)
			if pw == nil || !passwordShape.MatchString(*pw) {
				t.Fatalf("password %v", pw)
			}
			e.use(t, "regular1", *pw)
			e.confined(t, "regular1", *pw)
			if !c.Log.WaitLine("event=op outcome=ok", "principal=regular1@"+e.r.Name+" op="+e.d.op) {
				t.Errorf("no audit record:\n%s", c.Log)
			}
		})
		t.Run("re-run", func(t *testing.T) {
			got, pw := call(t, "regular1", "regular1")
			wantMsgs(t, got, msg{0, e.d.op + " create db=regular1 by regular1"}, msg{0, bySelf}, msg{0, e.rerun + "regular1"})
			if pw == nil {
				t.Fatal("no password")
			}
			if err := e.login(t, "regular1", *pw, "regular1"); err != nil {
				t.Errorf("login with the new password: %v", err)
			}
		})
		t.Run("refusals", func(t *testing.T) {
			refusalsThroughCeod(t, e.d, call, e.state, "office1", "syscom1", "bad;name")
			refusalsThroughCeod(t, e.d, call, e.state, "regular1", "office1", "Bad Name")
		})
		t.Run("syscom for a member", func(t *testing.T) {
			got, pw := call(t, "syscom1", "office1")
			wantMsgs(t, got, created(e.d.op, "syscom1", "office1", bySyscom)...)
			if pw == nil {
				t.Fatal("no password")
			}
			e.use(t, "office1", *pw)
		})
		t.Run("malformed request ends the connection", func(t *testing.T) { malformedEndsConnection(t, c, e.d) })
	})
}
