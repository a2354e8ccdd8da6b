package realm

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/csclub/ceo/wire/krb5"
	"github.com/csclub/ceo/wire/krb5/ldapgss"
)

// gssapiAdminConn binds to the realm's slapd with SASL GSSAPI as the
// ceod/admin principal, using a gokrb5 client that logs in from the admin
// keytab and the repo's own go-ldap GSSAPI client (wire/krb5/ldapgss), as ceod
// does. The connection is closed when the test ends.
func gssapiAdminConn(t *testing.T, r *Realm) *ldap.Conn {
	t.Helper()
	cfg, err := krb5.LoadConfigFile(r.KRB5Config)
	require.NoError(t, err)
	cl, err := krb5.ClientFromKeytab(cfg, r.AdminPrincipal, r.AdminKeytab)
	require.NoError(t, err)
	t.Cleanup(cl.Destroy)
	require.NoError(t, cl.Login(), "kerberos login as %s from %s", r.AdminPrincipal, r.AdminKeytab)
	conn, err := ldap.DialURL(r.LDAPURL)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	require.NoError(t, conn.GSSAPIBind(ldapgss.NewClient(cl), r.LDAPPrincipal, ""), "SASL GSSAPI bind as %s", r.AdminPrincipal)
	return conn
}

// TestLDAPGSSAPIAddAndReadMember binds with go-ldap + ldapgss from the
// ceod/admin keytab, checks the mapped identity, adds a club member entry
// (posixAccount + the club schema's member class), reads it back over the
// same GSSAPI-bound connection, then deletes it.
func TestLDAPGSSAPIAddAndReadMember(t *testing.T) {
	r := Get(t)
	conn := gssapiAdminConn(t, r)

	who, err := conn.WhoAmI(nil)
	require.NoError(t, err)
	// slapd lowercases the DN it maps the principal to.
	assert.Equal(t, strings.ToLower("dn:"+r.UserDN(r.AdminPrincipal)), strings.ToLower(who.AuthzID))

	name := fmt.Sprintf("gss%d", time.Now().UnixNano()%1e9)
	dn := r.UserDN(name)
	uid := strconv.Itoa(25000 + rand.IntN(4000))
	term := CurrentTerm(time.Now())
	home := filepath.Join(r.HomeRoot, "members", name)
	t.Cleanup(func() {
		// Only if the test failed before its own delete: remove the entry
		// as the rootdn so a rerun against a kept realm starts clean.
		c, err := ldap.DialURL(r.LDAPURL)
		if err != nil {
			return
		}
		defer c.Close()
		if c.Bind(r.LDAPRootDN, r.LDAPRootPassword) == nil {
			_ = c.Del(ldap.NewDelRequest(dn, nil))
		}
	})

	// The club schema is enforced: member requires cn.
	bad := ldap.NewAddRequest(dn, nil)
	bad.Attribute("objectClass", []string{"top", "account", "member"})
	bad.Attribute("uid", []string{name})
	err = conn.Add(bad)
	require.Error(t, err, "an entry of class member without cn must be refused")
	assert.True(t, ldap.IsErrorWithCode(err, ldap.LDAPResultObjectClassViolation), "got %v", err)
	require.Nil(t, r.LDAPEntry(t, dn), "the refused entry must not exist")

	add := ldap.NewAddRequest(dn, nil)
	add.Attribute("objectClass", []string{"top", "account", "posixAccount", "shadowAccount", "member"})
	add.Attribute("uid", []string{name})
	add.Attribute("cn", []string{"GSSAPI Smoke " + name})
	add.Attribute("uidNumber", []string{uid})
	add.Attribute("gidNumber", []string{uid})
	add.Attribute("homeDirectory", []string{home})
	add.Attribute("loginShell", []string{"/bin/bash"})
	add.Attribute("program", []string{"Computer Science"})
	add.Attribute("term", []string{term})
	add.Attribute("studentid", []string{"20123456"})
	require.NoError(t, conn.Add(add), "add %s as %s over GSSAPI", dn, r.AdminPrincipal)

	res, err := conn.Search(ldap.NewSearchRequest(r.UsersBase, ldap.ScopeSingleLevel, ldap.NeverDerefAliases, 0, 0, false,
		"(&(objectClass=member)(uid="+ldap.EscapeFilter(name)+"))",
		[]string{"objectClass", "uid", "cn", "uidNumber", "gidNumber", "homeDirectory", "loginShell", "program", "term", "studentid"}, nil))
	require.NoError(t, err)
	require.Len(t, res.Entries, 1)
	e := res.Entries[0]
	assert.True(t, strings.EqualFold(dn, e.DN), "DN %q, want %q", e.DN, dn)
	assert.ElementsMatch(t, []string{"top", "account", "posixAccount", "shadowAccount", "member"}, e.GetAttributeValues("objectClass"))
	assert.Equal(t, name, e.GetAttributeValue("uid"))
	assert.Equal(t, "GSSAPI Smoke "+name, e.GetAttributeValue("cn"))
	assert.Equal(t, uid, e.GetAttributeValue("uidNumber"))
	assert.Equal(t, uid, e.GetAttributeValue("gidNumber"))
	assert.Equal(t, home, e.GetAttributeValue("homeDirectory"))
	assert.Equal(t, "/bin/bash", e.GetAttributeValue("loginShell"))
	assert.Equal(t, "Computer Science", e.GetAttributeValue("program"))
	assert.Equal(t, []string{term}, e.GetAttributeValues("term"))
	assert.Equal(t, "20123456", e.GetAttributeValue("studentid"))

	// The club schema's term attribute is searchable by equality, as the
	// ops search for this term's members.
	res, err = conn.Search(ldap.NewSearchRequest(r.UsersBase, ldap.ScopeSingleLevel, ldap.NeverDerefAliases, 0, 0, false,
		"(&(uid="+ldap.EscapeFilter(name)+")(term="+ldap.EscapeFilter(strings.ToUpper(term))+"))", []string{"uid"}, nil))
	require.NoError(t, err)
	require.Len(t, res.Entries, 1, "term uses caseIgnoreIA5Match")

	require.NoError(t, conn.Del(ldap.NewDelRequest(dn, nil)))
	assert.Nil(t, r.LDAPEntry(t, dn), "entry still present after delete")
}

// TestLDAPGSSAPIUserCannotWrite checks the ACL the add above relies on is
// not simply "anyone may write": a GSSAPI bind as a regular user is mapped
// to that user and cannot add an entry under ou=People.
func TestLDAPGSSAPIUserCannotWrite(t *testing.T) {
	r := Get(t)
	cfg, err := krb5.LoadConfigFile(r.KRB5Config)
	require.NoError(t, err)
	u := r.Users["regular1"]
	cl, err := krb5.ClientFromPassword(cfg, u.Name, u.Password)
	require.NoError(t, err)
	t.Cleanup(cl.Destroy)
	conn, err := ldap.DialURL(r.LDAPURL)
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.GSSAPIBind(ldapgss.NewClient(cl), r.LDAPPrincipal, ""))
	who, err := conn.WhoAmI(nil)
	require.NoError(t, err)
	assert.Equal(t, strings.ToLower("dn:"+r.UserDN(u.Name)), strings.ToLower(who.AuthzID))

	name := fmt.Sprintf("nope%d", time.Now().UnixNano()%1e9)
	add := ldap.NewAddRequest(r.UserDN(name), nil)
	add.Attribute("objectClass", []string{"top", "account", "member"})
	add.Attribute("uid", []string{name})
	add.Attribute("cn", []string{name})
	err = conn.Add(add)
	require.Error(t, err)
	assert.True(t, ldap.IsErrorWithCode(err, ldap.LDAPResultInsufficientAccessRights), "got %v", err)
	assert.Nil(t, r.LDAPEntry(t, r.UserDN(name)))
}
