package adduser_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-ldap/ldap/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/csclub/ceo/internal/realm"
	"github.com/csclub/ceo/internal/testreq"
	"github.com/csclub/ceo/ops"
	"github.com/csclub/ceo/ops/adduser"
	"github.com/csclub/ceo/ops/directory"
	"github.com/csclub/ceo/ops/kadmin"
)

// brokenKRB5Conf is the realm's krb5.conf with admin_server on a closed
// port: the KDC works, kadmind cannot be reached. (The shared realm's
// kadmind keeps running.)
func brokenKRB5Conf(t *testing.T, e *env) string {
	t.Helper()
	b, err := os.ReadFile(e.r.KRB5Config)
	require.NoError(t, err)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closed := l.Addr().(*net.TCPAddr).Port
	l.Close()
	old := fmt.Sprintf("admin_server = 127.0.0.1:%d", e.r.KadminPort)
	require.Contains(t, string(b), old)
	p := filepath.Join(t.TempDir(), "krb5.conf")
	require.NoError(t, os.WriteFile(p, []byte(strings.Replace(string(b), old, fmt.Sprintf("admin_server = 127.0.0.1:%d", closed), 1)), 0o644))
	return p
}

// lastStatus is the reply's final code, which summarizes the outcome.
func lastStatus(msgs []*adduserStatus) int32 { return msgs[len(msgs)-1].GetStatus() }

func TestKadmindUnreachable(t *testing.T) {
	both(t, func(t *testing.T) {
		var broken *kadmin.Client
		e := newEnv(t, func(d *adduser.Deps) {
			k := d.Kadmin.(*kadmin.Client)
			broken = &kadmin.Client{Principal: k.Principal, Keytab: k.Keytab, Realm: k.Realm, Session: k.Session}
			d.Kadmin = broken
		})
		broken.KRB5Config = brokenKRB5Conf(t, e)
		// A member needs kadmind from the start (no principal of the
		// name may exist): refused before anything is made.
		m := member(uniqueName("k"), "password1", "Kay", "", "")
		msgs := e.call(t, "office1", m)
		t.Log(text(msgs))
		assert.Equal(t, ops.EKERB, lastStatus(msgs))
		assert.Contains(t, text(msgs), "cannot reach kadmind")
		e.assertAbsent(t, m.GetUsername())
		e.assertNoHomes(t)
		// A club needs no kadmind.
		c := club(uniqueName("k"), "Kay Club", "")
		requireOK(t, e.call(t, "office1", c))
		e.checkAccount(t, "club", c.GetUsername(), "", "Kay Club", "", "")
	})
}

func TestUnwritableHomeRoot(t *testing.T) {
	both(t, func(t *testing.T) {
		e := newEnv(t)
		root := e.cfg.MemberHome
		if out, err := exec.Command("chattr", "+i", root).CombinedOutput(); err != nil {
			testreq.Check(t, "chattr +i", fmt.Errorf("%v %s", err, out))
		}
		defer exec.Command("chattr", "-i", root).Run()
		name := uniqueName("w")
		m := member(name, "password1", "Wanda", "Math", name+"@example.org")
		msgs := e.call(t, "office1", m)
		t.Log(text(msgs))
		assert.Equal(t, ops.EHOME, lastStatus(msgs))
		for _, want := range []string{"rollback: removed group cn=" + name, "rollback: removed principal " + name, "rollback: removed ldap account uid=" + name} {
			assert.Contains(t, text(msgs), want)
		}
		e.assertAbsent(t, name)
		firstUID := uidIn(msgs)

		// Once the root is writable again, the same request succeeds, with a
		// new uid (the old one is never reused).
		require.NoError(t, exec.Command("chattr", "-i", root).Run())
		msgs = e.call(t, "office1", m)
		requireOK(t, msgs)
		uid := e.checkAccount(t, "member", name, "password1", "Wanda", "Math", name+"@example.org")
		assert.Greater(t, uid, firstUID)
	})
}

// uidIn finds "(uid N)" in the messages.
func uidIn(msgs []*adduserStatus) int {
	for _, m := range msgs {
		var n int
		if i := strings.Index(m.GetMessage(), "(uid "); i >= 0 {
			fmt.Sscanf(m.GetMessage()[i:], "(uid %d)", &n)
			return n
		}
	}
	return 0
}

// racingDirectory is the real directory, except that just before the
// group is added another writer creates a group of that name: slapd
// then refuses adduser's group add.
type racingDirectory struct {
	*directory.Client
	t *testing.T
	r *realm.Realm
}

func (d racingDirectory) AddGroup(ctx context.Context, g *directory.Group) error {
	conn := d.r.LDAPRootConn(d.t)
	req := ldap.NewAddRequest(d.r.GroupDN(g.Name), nil)
	req.Attribute("objectClass", []string{"top", "group", "posixGroup"})
	req.Attribute("cn", []string{g.Name})
	req.Attribute("gidNumber", []string{"9999"})
	require.NoError(d.t, conn.Add(req))
	return d.Client.AddGroup(ctx, g)
}

func TestGroupAddRefused(t *testing.T) {
	both(t, func(t *testing.T) {
		e := newEnv(t, func(d *adduser.Deps) {
			d.Directory = racingDirectory{Client: d.Directory.(*directory.Client), t: t, r: realm.Get(t)}
		})
		for _, m := range []*adduserMsg{member(uniqueName("g"), "password1", "Gus", "", ""), club(uniqueName("g"), "Gus Club", "")} {
			name := m.GetUsername()
			msgs := e.call(t, "office1", m)
			t.Log(text(msgs))
			assert.Equal(t, ops.ELDAP, lastStatus(msgs))
			assert.Contains(t, text(msgs), "Entry Already Exists")
			assert.Contains(t, text(msgs), "rollback: removed ldap account uid="+name)
			// The other writer's group is left alone: it is not ours.
			g := e.r.LDAPEntry(t, e.r.GroupDN(name))
			require.NotNil(t, g)
			assert.Equal(t, "9999", g.GetAttributeValue("gidNumber"))
			require.NoError(t, e.r.LDAPRootConn(t).Del(ldap.NewDelRequest(e.r.GroupDN(name), nil)))
			e.assertAbsent(t, name)
		}
		e.assertNoHomes(t)
	})
}

// cancellingKadmin cancels the request's context (the client went away)
// while the principal is being created.
type cancellingKadmin struct {
	adduser.Kadmin
	cancel context.CancelFunc
}

func (k cancellingKadmin) AddPrincipal(ctx context.Context, name, pw string) error {
	k.cancel()
	return k.Kadmin.AddPrincipal(ctx, name, pw)
}

func TestCancelledMidway(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	e := newEnv(t, func(d *adduser.Deps) { d.Kadmin = cancellingKadmin{Kadmin: d.Kadmin, cancel: cancel} })
	name := uniqueName("x")
	body, err := protoMarshal(member(name, "password1", "Xavier", "", ""))
	require.NoError(t, err)
	msgs := e.callCtx(t, ctx, opsRequest("office1", "office1@"+e.r.Name, body))
	t.Log(text(msgs))
	assert.Equal(t, ops.EKERB, lastStatus(msgs))
	assert.Contains(t, text(msgs), "everything done was undone")
	e.assertAbsent(t, name)
	e.assertNoHomes(t)
}
