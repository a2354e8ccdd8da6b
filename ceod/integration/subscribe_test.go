package integration

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/csclub/ceo/ceoc"
	"github.com/csclub/ceo/internal/realm"
	"github.com/csclub/ceo/ops/mailman/mailmantest"
	"github.com/csclub/ceo/wire/ceopb"
)

// TestNewMemberSubscribed: two daemons as on club machines. The adduser
// host's ceod (A) adds a member and then, as its own service principal,
// calls the mailman op on the mail host's ceod (B) through the ceoc
// relay; B subscribes the member in a real Mailman 3 core. The outcome is
// a line of the adduser reply; a list failure leaves the account made and
// says how to retry.
func TestNewMemberSubscribed(t *testing.T) {
	r := realm.Get(t)
	mm := mailmantest.StartMailman3(t, "members@csclub.internal")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	portB := ln.Addr().(*net.TCPAddr).Port
	ln.Close()

	copyConf := func(dir string, names ...string) {
		for _, n := range names {
			b, err := os.ReadFile(filepath.Join(r.ConfigDir, n))
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(filepath.Join(dir, n), b, 0o600))
		}
	}
	// B, the mail host: the mailman op on the real Mailman 3.
	eb := newEnv(t, r, fmt.Sprintf("listen = 127.0.0.1:%d", portB), "mailman_trusted_principals = ceod/localhost@"+r.Name)
	copyConf(eb.dir, "accounts.cf", "ceod.acl")
	require.NoError(t, os.WriteFile(filepath.Join(eb.dir, "mailman.cf"), []byte(fmt.Sprintf(
		"members_list = members\nlist_domain = csclub.internal\nmailman_api_url = %s\nmailman_api_user = %s\nmailman_api_password = %s\n",
		mm.URL, mm.User, mm.Password)), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(eb.dir, "ops", "ceo"), []byte("localhost mailman list 0x04\n"), 0o644))
	eb.start(t, nil)

	// A, the adduser host ("adduserhost"): mailman belongs to localhost,
	// which its relay reaches on B's port (port in ceod.cf, as on a club).
	adduserHost := func(relayPort int) *ceod {
		// newEnv gives each adduser host a journal of its own.
		e := newEnv(t, r, fmt.Sprintf("port = %d", relayPort), "admin_keytab = "+r.AdminKeytab)
		cf := filepath.Join(e.dir, "ceod.cf")
		b, err := os.ReadFile(cf)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(cf, []byte(strings.Replace(string(b), "hostname = localhost\n", "hostname = adduserhost\n", 1)), 0o644))
		copyConf(e.dir, "accounts.cf", "ceod.acl")
		require.NoError(t, os.WriteFile(filepath.Join(e.dir, "ops", "ceo"), []byte("adduserhost adduser root 0x01\nlocalhost mailman list 0x04\n"), 0o644))
		return e.start(t, nil, "-listen", "127.0.0.1:0")
	}
	a := adduserHost(portB)

	office := a.client(t, "office1")
	office.Canon = func(_ context.Context, h string) (string, error) { return "localhost", nil } // adduserhost is A, here
	add := func(name string) []*ceopb.StatusMessage {
		t.Helper()
		body, err := proto.Marshal(&ceopb.AddUser{Type: ceopb.AddUser_MEMBER.Enum(), Username: proto.String(name),
			Password: proto.String("pw-" + name), Realname: proto.String("Listed Member")})
		require.NoError(t, err)
		out, err := office.Call(t.Context(), "adduser", body)
		require.NoError(t, err, "A's log:\n%s", a.log)
		var rep ceopb.AddUserResponse
		require.NoError(t, proto.Unmarshal(out, &rep))
		return rep.GetMessages()
	}
	members := func() []string {
		got, err := mailmantest.Members(t.Context(), mm.URL, mm.User, mm.Password, "members.csclub.internal")
		require.NoError(t, err)
		return got
	}

	name := "listed" + randomDigits(t, 5)
	msgs := add(name)
	last := msgs[len(msgs)-1]
	for _, m := range msgs {
		assert.Zero(t, m.GetStatus(), "%s", m.GetMessage())
	}
	assert.Equal(t, "members list: Subscribed: "+name+"@csclub.internal", last.GetMessage())
	assert.True(t, slices.Contains(members(), name+"@csclub.internal"), "members: %v", members())

	// The mail host down: the account is made, the line says so, and the
	// mailman op (retryable) does it later.
	down := "unlisted" + randomDigits(t, 5)
	ln, err = net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	deadPort := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	a2 := adduserHost(deadPort)
	office = a2.client(t, "office1")
	office.Canon = func(_ context.Context, h string) (string, error) { return "localhost", nil }
	msgs = add(down)
	last = msgs[len(msgs)-1]
	assert.Equal(t, int32(-6), last.GetStatus())
	assert.Contains(t, last.GetMessage(), "failed to subscribe "+down+" to the members list")
	assert.Contains(t, last.GetMessage(), "retry with: ceoc mailman")
	require.NotNil(t, r.LDAPEntry(t, r.UserDN(down)), "the account stays")
	assert.False(t, slices.Contains(members(), down+"@csclub.internal"))
	// The retry: office1 calls the mailman op on B.
	retry := &ceoc.Client{ConfigDir: eb.dir, Port: portB, KRB5Config: r.KRB5Config, Credentials: office.Credentials}
	out, err := retry.Call(t.Context(), "mailman", []byte(down+"\n"))
	require.NoError(t, err)
	assert.Equal(t, "Subscribed: "+down+"@csclub.internal\n\n", string(out))
	assert.True(t, slices.Contains(members(), down+"@csclub.internal"))
}
