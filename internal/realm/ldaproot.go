package realm

import (
	"testing"

	"github.com/go-ldap/ldap/v3"
)

// LDAPRootConn returns a connection to the realm's slapd bound as the
// rootdn (simple bind), closed when the test ends. Tests use it to check
// and to set up directory state behind the back of the code under test;
// the code under test should bind with GSSAPI as AdminPrincipal.
func (r *Realm) LDAPRootConn(t testing.TB) *ldap.Conn {
	t.Helper()
	conn, err := ldap.DialURL(r.LDAPURL)
	if err != nil {
		t.Fatalf("realm: dial %s: %v", r.LDAPURL, err)
	}
	t.Cleanup(func() { conn.Close() })
	if err := conn.Bind(r.LDAPRootDN, r.LDAPRootPassword); err != nil {
		t.Fatalf("realm: bind as %s: %v", r.LDAPRootDN, err)
	}
	return conn
}

// LDAPSearch returns the entries under base matching filter (subtree),
// with attrs (all user attributes if none), searched as the rootdn.
func (r *Realm) LDAPSearch(t testing.TB, base, filter string, attrs ...string) []*ldap.Entry {
	t.Helper()
	conn := r.LDAPRootConn(t)
	res, err := conn.Search(ldap.NewSearchRequest(base, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false, filter, attrs, nil))
	if err != nil {
		t.Fatalf("realm: search %s %s: %v", base, filter, err)
	}
	return res.Entries
}

// LDAPEntry returns the entry dn with all its user attributes, or nil if
// there is none.
func (r *Realm) LDAPEntry(t testing.TB, dn string) *ldap.Entry {
	t.Helper()
	conn := r.LDAPRootConn(t)
	res, err := conn.Search(ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false, "(objectClass=*)", nil, nil))
	if ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
		return nil
	}
	if err != nil {
		t.Fatalf("realm: read %s: %v", dn, err)
	}
	if len(res.Entries) == 0 {
		return nil
	}
	return res.Entries[0]
}
