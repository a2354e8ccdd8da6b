package mailman

import (
	"slices"
	"testing"

	"github.com/csclub/ceo/ceod/server"
	"github.com/csclub/ceo/internal/ceodtest"
	"github.com/csclub/ceo/internal/opstest"
	"github.com/csclub/ceo/internal/realm"
	"github.com/csclub/ceo/wire"
)

// TestThroughCeod: ceoc (library, kinit ticket) -> in-process ceod
// (GSS-API, sealed frames) -> mailman handler (plain-text body) ->
// ops/directory (slapd) and the list server's REST API (the stand-in,
// and a real Mailman 3 core when installed).
func TestThroughCeod(t *testing.T) {
	r := realm.Get(t)
	eachBackend(t, func(t *testing.T, b backend) {
		h := newHandler(t, b, opstest.RealmDirectory(t, r))
		c := ceodtest.Serve(t, r, map[wire.MsgType]server.Op{0x04: ceodtest.Op("mailman", h)})
		call := func(caller, body string) string {
			t.Helper()
			out, err := c.Call(t, caller, "mailman", []byte(body))
			if err != nil {
				t.Fatalf("ceoc mailman: %v\nceod log:\n%s", err, c.Log)
			}
			return string(out)
		}
		steps := []struct {
			caller, body, want string
			members            []string
		}{
			{"regular1", "regular1\n", "Subscribed: regular1@csclub.internal\n\n", []string{"regular1@csclub.internal"}},
			{"regular1", "office1\n", "Access denied: regular1 may not mailman office1: no rule of mailman in ceod.acl allows it (default deny)\n", []string{"regular1@csclub.internal"}},
			{"office1", "Bad Name\n", "Invalid username: \"Bad Name\"\n", []string{"regular1@csclub.internal"}},
			{"office1", "syscom1\n", "Subscribed: syscom1@csclub.internal\n\n", []string{"regular1@csclub.internal", "syscom1@csclub.internal"}},
			{"syscom1", "office1\n", "Subscribed: office1@csclub.internal\n\n", []string{"office1@csclub.internal", "regular1@csclub.internal", "syscom1@csclub.internal"}},
			{"syscom1", "office1\n", "Already a member: office1@csclub.internal\n\n", []string{"office1@csclub.internal", "regular1@csclub.internal", "syscom1@csclub.internal"}},
		}
		for _, s := range steps {
			if got := call(s.caller, s.body); got != s.want {
				t.Errorf("%s asks %q: reply %q, want %q", s.caller, s.body, got, s.want)
			}
			if got := b.members(t); !slices.Equal(got, s.members) {
				t.Errorf("after %s asks %q: members %v, want %v", s.caller, s.body, got, s.members)
			}
		}
		if !c.Log.WaitLine("event=op outcome=ok", "principal=syscom1@"+r.Name+" op=mailman") {
			t.Errorf("no audit record:\n%s", c.Log)
		}
	})
}
