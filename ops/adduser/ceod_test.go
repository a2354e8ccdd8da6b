package adduser_test

import (
	"strings"
	"testing"
	"time"

	"github.com/csclub/ceo/ceod/server"
	"github.com/csclub/ceo/internal/ceodtest"
	"github.com/csclub/ceo/wire"
	"github.com/csclub/ceo/wire/ceopb"
)

// startCeod runs an in-process ceod serving the adduser handler as op
// 0x01.
func startCeod(t *testing.T, e *env) *ceodtest.Ceod {
	t.Helper()
	return ceodtest.Serve(t, e.r, map[wire.MsgType]server.Op{0x01: ceodtest.Op("adduser", e.h)})
}

// ceocWarm logs office1 in from the test goroutine, before concurrent
// calls, when the test runs through ceod.
func (e *env) ceocWarm(t *testing.T) {
	if e.ceod != nil {
		e.ceod.Client(t, "office1")
	}
}

// TestThroughCeod runs the acceptance cases end to end: ceoc (the
// library, with office1's ticket) -> ceod (in-process, GSS-API) -> the
// adduser handler -> LDAP, kadmind and the file system.
func TestThroughCeod(t *testing.T) {
	e := newEnv(t)
	e.ceod = startCeod(t, e)

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
