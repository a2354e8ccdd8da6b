package opstest

import (
	"crypto/rand"
	"fmt"
	"math/big"
	"testing"

	"github.com/go-ldap/ldap/v3"

	"github.com/csclub/ceo/internal/realm"
	"github.com/csclub/ceo/ops/directory"
)

// RealmDirectory returns the ops' LDAP client (ops/directory) for the
// test realm, reading anonymously as the realm's ACLs allow. It is
// closed when the test ends.
func RealmDirectory(t testing.TB, r *realm.Realm) *directory.Client {
	t.Helper()
	return realmClient(t, r, nil)
}

func realmClient(t testing.TB, r *realm.Realm, bind directory.BindFunc) *directory.Client {
	t.Helper()
	c, err := directory.New(directory.Config{URL: r.LDAPURL, Bind: bind, UsersBase: r.UsersBase, GroupsBase: r.GroupsBase, SudoBase: r.SudoBase})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// Account is a test account for AddAccount.
type Account struct {
	Name     string
	RealName string // cn; "" means "Test NAME"
	UID      int    // uidNumber and gidNumber
	Home     string // homeDirectory; "" means /nonexistent/NAME
	Club     bool   // objectClass club instead of member
	Members  []string
	// Program, Terms and NonMemberTerms are a member's, if any.
	Program               string
	Terms, NonMemberTerms []string
}

// AddAccount adds a posixAccount (member or club) and its posixGroup
// with members, as the realm's rootdn (simple bind: fixture set-up behind
// the back of the code under test).
func AddAccount(t testing.TB, r *realm.Realm, a Account) {
	t.Helper()
	w := realmClient(t, r, func(c *ldap.Conn) error { return c.Bind(r.LDAPRootDN, r.LDAPRootPassword) })
	home := a.Home
	if home == "" {
		home = "/nonexistent/" + a.Name
	}
	name := a.RealName
	if name == "" {
		name = "Test " + a.Name
	}
	u := &directory.User{Name: a.Name, RealName: name, UID: a.UID, GID: a.UID, Home: home, Shell: "/bin/bash", Club: a.Club,
		Program: a.Program, Terms: a.Terms, NonMemberTerms: a.NonMemberTerms}
	if err := w.AddUser(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	if err := w.AddGroup(t.Context(), &directory.Group{Name: a.Name, GID: a.UID, Members: a.Members}); err != nil {
		t.Fatal(err)
	}
}

// SetHome changes an account's homeDirectory as the rootdn.
func SetHome(t testing.TB, r *realm.Realm, name, home string) {
	t.Helper()
	conn := r.LDAPRootConn(t)
	m := ldap.NewModifyRequest(r.UserDN(name), nil)
	m.Replace("homeDirectory", []string{home})
	if err := conn.Modify(m); err != nil {
		t.Fatalf("setting home of %s: %v", name, err)
	}
}

// UniqueName returns prefix plus a random suffix, for accounts, databases
// and roles that must not collide across runs against one realm.
func UniqueName(prefix string) string {
	n, err := rand.Int(rand.Reader, big.NewInt(1e9))
	if err != nil {
		panic(err)
	}
	return fmt.Sprintf("%s%09d", prefix, n)
}

// UniqueUID returns a uid in [40000, 60000) unlikely to be reused.
func UniqueUID() int {
	n, err := rand.Int(rand.Reader, big.NewInt(20000))
	if err != nil {
		panic(err)
	}
	return 40000 + int(n.Int64())
}
