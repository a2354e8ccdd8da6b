package directory_test

import (
	"context"
	"errors"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/csclub/ceo/internal/opstest"
	"github.com/csclub/ceo/internal/realm"
	"github.com/csclub/ceo/ops/directory"
)

func TestMain(m *testing.M) { os.Exit(realm.Main(m)) }

// adminClient binds with SASL GSSAPI as ceod/admin, as ceod does.
func adminClient(t *testing.T, r *realm.Realm) *directory.Client {
	t.Helper()
	spn, err := directory.ServicePrincipal(r.LDAPURL)
	require.NoError(t, err)
	require.Equal(t, "ldap/localhost", spn)
	bind, err := directory.GSSAPIBind(r.KRB5Config, r.AdminPrincipal, r.AdminKeytab, spn)
	require.NoError(t, err)
	c, err := directory.Dial(t.Context(), directory.Config{
		URL: r.LDAPURL, Bind: bind,
		UsersBase: r.UsersBase, GroupsBase: r.GroupsBase, SudoBase: r.SudoBase,
	})
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

func TestGSSAPIBindIdentity(t *testing.T) {
	r := realm.Get(t)
	spn, _ := directory.ServicePrincipal(r.LDAPURL)
	bind, err := directory.GSSAPIBind(r.KRB5Config, r.AdminPrincipal, r.AdminKeytab, spn)
	require.NoError(t, err)
	conn, err := ldap.DialURL(r.LDAPURL)
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, bind(conn))
	who, err := conn.WhoAmI(nil)
	require.NoError(t, err)
	assert.Equal(t, "dn:uid=ceod/admin,ou=people,"+r.LDAPBase, who.AuthzID)
}

func TestDialFailures(t *testing.T) {
	r := realm.Get(t)
	cfg := directory.Config{URL: r.LDAPURL, UsersBase: r.UsersBase, GroupsBase: r.GroupsBase, SudoBase: r.SudoBase,
		Bind: func(conn *ldap.Conn) error { return conn.Bind(r.LDAPRootDN, "wrong password") }}
	_, err := directory.Dial(t.Context(), cfg)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "binding to")
	assert.NotContains(t, err.Error(), "wrong password")

	cfg.URL = "ldap://127.0.0.1:1"
	_, err = directory.Dial(t.Context(), cfg)
	require.Error(t, err)

	_, err = directory.New(directory.Config{URL: r.LDAPURL, UsersBase: "ou=People,dc=a", GroupsBase: "ou=Group,dc=b"})
	require.Error(t, err, "bases without a common suffix need an explicit Base")
}

func TestInGroup(t *testing.T) {
	r := realm.Get(t)
	c := adminClient(t, r)
	ctx := t.Context()

	// Groups with members recorded only one way or the other.
	root := r.LDAPRootConn(t)
	onlyUID, onlyDN := opstest.UniqueName("gmu"), opstest.UniqueName("gum")
	for name, attr := range map[string][2]string{onlyUID: {"memberUid", "regular1"}, onlyDN: {"uniqueMember", r.UserDN("regular1")}} {
		req := ldap.NewAddRequest(r.GroupDN(name), nil)
		req.Attribute("objectClass", []string{"top", "group", "posixGroup"})
		req.Attribute("cn", []string{name})
		req.Attribute("gidNumber", []string{"12345"})
		req.Attribute(attr[0], []string{attr[1]})
		require.NoError(t, root.Add(req))
		t.Cleanup(func() { root.Del(ldap.NewDelRequest(r.GroupDN(name), nil)) })
	}

	for _, tc := range []struct {
		user, group string
		want        bool
	}{
		{"office1", "office", true},
		{"syscom1", "syscom", true},
		{"office1", "syscom", false},
		{"regular1", "office", false},
		{"regular1", "syscom", false},
		{"regular1", onlyUID, true},
		{"regular1", onlyDN, true},
		{"office1", onlyDN, false},
		{"office1", "no-such-group", false},
		{"*", "office", false},
		{"office1)(cn=*", "office", false},
		{"office1", "*", false},
		{"", "office", false},
	} {
		got, err := c.InGroup(ctx, tc.user, tc.group)
		require.NoError(t, err, "%s in %s", tc.user, tc.group)
		assert.Equal(t, tc.want, got, "%s in %s", tc.user, tc.group)
	}
}

func TestLookupUser(t *testing.T) {
	r := realm.Get(t)
	c := adminClient(t, r)
	u, err := c.LookupUser(t.Context(), "office1")
	require.NoError(t, err)
	assert.Equal(t, "office1", u.Name)
	assert.Equal(t, r.Users["office1"].UID, u.UID)
	assert.Equal(t, r.Users["office1"].UID, u.GID)
	assert.Equal(t, "/bin/bash", u.Shell)
	assert.False(t, u.Club)
	assert.Equal(t, []string{realm.CurrentTerm(time.Now())}, u.Terms)
	assert.True(t, ldapEqualDN(u.DN, r.UserDN("office1")))

	for _, name := range []string{"nobody-here", "*", "office1)(uid=*"} {
		_, err = c.LookupUser(t.Context(), name)
		require.ErrorIs(t, err, directory.ErrNotFound, name)
	}
}

func ldapEqualDN(a, b string) bool {
	da, err1 := ldap.ParseDN(a)
	db, err2 := ldap.ParseDN(b)
	return err1 == nil && err2 == nil && da.EqualFold(db)
}

func TestAddLookupDelete(t *testing.T) {
	r := realm.Get(t)
	c := adminClient(t, r)
	ctx := t.Context()
	name := opstest.UniqueName("du")

	u := &directory.User{Name: name, RealName: "Dee Ewe", UID: 45001, GID: 45001, Home: "/users/" + name, Shell: "/bin/bash", Program: "Math"}
	require.NoError(t, c.AddUser(ctx, u))
	e := r.LDAPEntry(t, r.UserDN(name))
	require.NotNil(t, e)
	assert.ElementsMatch(t, []string{"top", "account", "posixAccount", "shadowAccount", "member"}, e.GetAttributeValues("objectClass"))
	assert.Equal(t, "Dee Ewe", e.GetAttributeValue("cn"))
	assert.Equal(t, "45001", e.GetAttributeValue("uidNumber"))
	assert.Equal(t, "Math", e.GetAttributeValue("program"))
	require.ErrorIs(t, c.AddUser(ctx, u), directory.ErrExists)

	exists, err := c.UserExists(ctx, name)
	require.NoError(t, err)
	assert.True(t, exists)
	inUse, err := c.IDInUse(ctx, 45001)
	require.NoError(t, err)
	assert.True(t, inUse)

	g := &directory.Group{Name: name, GID: 45001, Members: []string{name}}
	require.NoError(t, c.AddGroup(ctx, g))
	ok, err := c.InGroup(ctx, name, name)
	require.NoError(t, err)
	assert.True(t, ok)
	require.ErrorIs(t, c.AddGroup(ctx, g), directory.ErrExists)

	role := directory.ClubSudoRole(name)
	require.NoError(t, c.AddSudoRole(ctx, role))
	e = r.LDAPEntry(t, "cn=%"+name+","+r.SudoBase)
	require.NotNil(t, e)
	assert.Equal(t, []string{"%" + name}, e.GetAttributeValues("sudoUser"))
	assert.Equal(t, []string{"!authenticate"}, e.GetAttributeValues("sudoOption"))
	assert.Equal(t, []string{name}, e.GetAttributeValues("sudoRunAsUser"))

	require.NoError(t, c.DeleteSudoRole(ctx, role.CN))
	// Conditional deletes leave an entry with another number alone.
	require.ErrorIs(t, c.DeleteGroupWithID(ctx, name, 45999), directory.ErrNotFound)
	require.NotNil(t, r.LDAPEntry(t, r.GroupDN(name)))
	require.NoError(t, c.DeleteGroupWithID(ctx, name, 45001))
	require.ErrorIs(t, c.DeleteGroupWithID(ctx, name, 45001), directory.ErrNotFound)
	require.ErrorIs(t, c.DeleteUserWithID(ctx, name, 45999), directory.ErrNotFound)
	require.NotNil(t, r.LDAPEntry(t, r.UserDN(name)))
	require.NoError(t, c.DeleteUser(ctx, name))
	require.ErrorIs(t, c.DeleteUser(ctx, name), directory.ErrNotFound)
	assert.Nil(t, r.LDAPEntry(t, r.UserDN(name)))
	exists, err = c.UserExists(ctx, name)
	require.NoError(t, err)
	assert.False(t, exists)
}

// TestDNEscaping: a name full of DN syntax lands in one entry directly
// under the users base.
func TestDNEscaping(t *testing.T) {
	r := realm.Get(t)
	c := adminClient(t, r)
	ctx := t.Context()
	name := opstest.UniqueName("x,ou=Group+cn=y\\z")
	u := &directory.User{Name: name, RealName: "Esc", UID: 45002, GID: 45002, Home: "/tmp/x", Shell: "/bin/sh"}
	require.NoError(t, c.AddUser(ctx, u))
	t.Cleanup(func() { c.DeleteUser(context.Background(), name) })
	entries := r.LDAPSearch(t, r.UsersBase, "(uid="+ldap.EscapeFilter(name)+")", "uid")
	require.Len(t, entries, 1)
	assert.Equal(t, name, entries[0].GetAttributeValue("uid"))
	dn, err := ldap.ParseDN(entries[0].DN)
	require.NoError(t, err)
	parent, _ := ldap.ParseDN(r.UsersBase)
	assert.Len(t, dn.RDNs, len(parent.RDNs)+1, "entry must sit directly under the users base")
	got, err := c.LookupUser(ctx, name)
	require.NoError(t, err)
	assert.Equal(t, name, got.Name)
}

func TestAllocateIDSequentialAndRestart(t *testing.T) {
	r := realm.Get(t)
	c := adminClient(t, r)
	ctx := t.Context()
	rng := opstest.UniqueName("seq")
	// The seeded users hold 20001-20003: the first free member id is 20004.
	var got []int
	for i := 0; i < 3; i++ {
		id, err := c.AllocateID(ctx, rng, 20001, 29999, nil)
		require.NoError(t, err)
		got = append(got, id)
	}
	assert.Equal(t, []int{20004, 20005, 20006}, got)

	// A new client (a restarted daemon) continues, never reusing.
	c2 := adminClient(t, r)
	id, err := c2.AllocateID(ctx, rng, 20001, 29999, nil)
	require.NoError(t, err)
	assert.Equal(t, 20007, id)

	// The counter entry is plain LDAP.
	e := r.LDAPEntry(t, c.CounterDN(rng))
	require.NotNil(t, e)
	assert.Equal(t, "20008", e.GetAttributeValue("serialNumber"))
	assert.ElementsMatch(t, []string{"top", "device"}, e.GetAttributeValues("objectClass"))

	// Numbers taken outside ceod (here: an inUse check standing for NSS,
	// and an LDAP entry) are skipped.
	root := r.LDAPRootConn(t)
	req := ldap.NewAddRequest(r.GroupDN(rng+"g"), nil)
	req.Attribute("objectClass", []string{"top", "group", "posixGroup"})
	req.Attribute("cn", []string{rng + "g"})
	req.Attribute("gidNumber", []string{"20009"})
	require.NoError(t, root.Add(req))
	t.Cleanup(func() { root.Del(ldap.NewDelRequest(r.GroupDN(rng+"g"), nil)) })
	id, err = c.AllocateID(ctx, rng, 20001, 29999, func(_ context.Context, id int) (bool, error) { return id == 20008, nil })
	require.NoError(t, err)
	assert.Equal(t, 20010, id)

	// An inUse error is returned, not ignored.
	boom := errors.New("nss down")
	_, err = c.AllocateID(ctx, rng, 20001, 29999, func(context.Context, int) (bool, error) { return false, boom })
	require.ErrorIs(t, err, boom)
}

func TestAllocateIDExhausted(t *testing.T) {
	r := realm.Get(t)
	c := adminClient(t, r)
	rng := opstest.UniqueName("ex")
	for want := 46001; want <= 46002; want++ {
		id, err := c.AllocateID(t.Context(), rng, 46001, 46002, nil)
		require.NoError(t, err)
		assert.Equal(t, want, id)
	}
	_, err := c.AllocateID(t.Context(), rng, 46001, 46002, nil)
	require.ErrorIs(t, err, directory.ErrRangeExhausted)
}

// TestAllocateIDConcurrent: many allocations at once, from several
// clients (as from several daemons), never hand out a number twice.
func TestAllocateIDConcurrent(t *testing.T) {
	r := realm.Get(t)
	clients := []*directory.Client{adminClient(t, r), adminClient(t, r), adminClient(t, r)}
	rng := opstest.UniqueName("conc")
	const n = 60
	ids := make([]int, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			ids[i], errs[i] = clients[i%len(clients)].AllocateID(t.Context(), rng, 47001, 47999, nil)
		})
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	slices.Sort(ids)
	assert.Equal(t, n, len(slices.Compact(slices.Clone(ids))), "duplicate ids: %v", ids)
	assert.Equal(t, 47001, ids[0])
	assert.Equal(t, 47001+n-1, ids[n-1], "no gaps without failures")
}

func TestCancelledContext(t *testing.T) {
	r := realm.Get(t)
	c := adminClient(t, r)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := c.InGroup(ctx, "office1", "office")
	require.ErrorIs(t, err, context.Canceled)
	// The client still works afterwards.
	ok, err := c.InGroup(t.Context(), "office1", "office")
	require.NoError(t, err)
	assert.True(t, ok)
}
