package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// legacyAccounts is a complete accounts.cf in the legacy layout.
const legacyAccounts = `# accounts.cf
member_min_id = 20001
member_max_id = 29999
member_shell = /bin/bash
member_home = /users
member_home_skel = /users/skel
club_min_id = 30001
club_max_id = 39999
club_shell = /bin/bash
club_home = /users
club_home_skel = /users/skel
admin_min_id = 10000
admin_max_id = 19999
ldap_server_url = "ldaps://ldap-master.csclub.uwaterloo.ca"
ldap_users_base = "ou=People,dc=csclub,dc=uwaterloo,dc=ca"
ldap_groups_base = "ou=Group,dc=csclub,dc=uwaterloo,dc=ca"
ldap_sudo_base = "ou=SUDOers,dc=csclub,dc=uwaterloo,dc=ca"
ldap_sasl_mech = "GSSAPI"
ldap_sasl_realm = "CSCLUB.UWATERLOO.CA"
ldap_admin_principal = "ceod/admin"
krb5_realm = "CSCLUB.UWATERLOO.CA"
krb5_admin_principal = "ceod/admin"
notify_hook = "/etc/csc/spam/new-member"
expire_hook = "/etc/csc/spam/expire"
username_regex = "^[a-z][-a-z0-9]*$"
min_password_length = 4
shells_file = "/etc/shells"
members_list = "csc-general"
list_domain = "csclub.uwaterloo.ca"
privileged_group = "syscom"
`

func writeDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600))
	}
	return dir
}

func TestLoadAccounts(t *testing.T) {
	a, err := LoadAccounts(writeDir(t, map[string]string{AccountsFile: legacyAccounts}))
	require.NoError(t, err)
	assert.Equal(t, 20001, a.MemberMinID)
	assert.Equal(t, 29999, a.MemberMaxID)
	assert.Equal(t, 30001, a.ClubMinID)
	assert.Equal(t, "/users", a.MemberHome)
	assert.Equal(t, "/users/skel", a.ClubHomeSkel)
	assert.Equal(t, "ou=SUDOers,dc=csclub,dc=uwaterloo,dc=ca", a.LDAPSudoBase)
	assert.Equal(t, "dc=csclub,dc=uwaterloo,dc=ca", a.LDAPBase)
	assert.Equal(t, "CSCLUB.UWATERLOO.CA", a.KRB5Realm)
	assert.Equal(t, "ceod/admin", a.KRB5AdminPrincipal)
	assert.Equal(t, 4, a.MinPasswordLength)
	assert.Equal(t, "/etc/csc/spam/new-member", a.NotifyHook)
	assert.Equal(t, []string{"privileged_group"}, a.Unknown)
	assert.Equal(t, DefaultKadminPath, a.KadminPath)
	assert.Equal(t, DefaultSetquotaPath, a.SetquotaPath)
	assert.Empty(t, a.QuotaPrototype)

	// The regex matches whole names only.
	for name, ok := range map[string]bool{"alice": true, "a-1": true, "Root": false, "a,ou=x": false, "x../y": false, "": false, "ab\n": false} {
		assert.Equal(t, ok, a.UsernameRegex.MatchString(name), "%q", name)
	}
	lo, hi := a.IDRange(KindClub)
	assert.Equal(t, [2]int{30001, 39999}, [2]int{lo, hi})
	root, skel, shell := a.Home(KindMember)
	assert.Equal(t, [3]string{"/users", "/users/skel", "/bin/bash"}, [3]string{root, skel, shell})
}

func TestLoadAccountsUnanchoredRegex(t *testing.T) {
	in := strings.Replace(legacyAccounts, `"^[a-z][-a-z0-9]*$"`, `"[a-z]+"`, 1)
	a, err := LoadAccounts(writeDir(t, map[string]string{AccountsFile: in}))
	require.NoError(t, err)
	assert.True(t, a.UsernameRegex.MatchString("abc"))
	assert.False(t, a.UsernameRegex.MatchString("a,ou=x"), "an unanchored regex still matches whole names only")
	assert.Equal(t, "[a-z]+", a.UsernamePattern)
}

func TestLoadAccountsErrors(t *testing.T) {
	for _, tc := range []struct{ old, new, want string }{
		{"member_min_id = 20001\n", "", "member_min_id: required"},
		{"member_min_id = 20001", "member_min_id = twenty", "member_min_id: want an integer"},
		{"member_min_id = 20001", "member_min_id = 0", "member_min_id: want an integer"},
		{"member_min_id = 20001", "member_min_id = 30000", "member_min_id: 30000 is above member_max_id"},
		{"club_min_id = 30001", "club_min_id = 25000", "overlaps member range"},
		{"admin_max_id = 19999", "admin_max_id = 20001", "overlaps member range"},
		{"member_home = /users", "member_home = users", "member_home: want an absolute path"},
		{`ldap_server_url = "ldaps://ldap-master.csclub.uwaterloo.ca"`, `ldap_server_url = "http://x"`, "ldap_server_url"},
		{`ldap_users_base = "ou=People,dc=csclub,dc=uwaterloo,dc=ca"`, `ldap_users_base = "not a dn"`, "ldap_users_base: invalid DN"},
		{`ldap_sasl_mech = "GSSAPI"`, `ldap_sasl_mech = "SIMPLE"`, "only GSSAPI"},
		{`username_regex = "^[a-z][-a-z0-9]*$"`, `username_regex = "([a-z"`, "username_regex: invalid regular expression"},
		{"min_password_length = 4", "min_password_length = 0", "min_password_length"},
		{`krb5_admin_principal = "ceod/admin"`, `krb5_admin_principal = "-q evil"`, "krb5_admin_principal: invalid principal"},
		{`krb5_realm = "CSCLUB.UWATERLOO.CA"`, `krb5_realm = "A B"`, "krb5_realm: invalid realm"},
		{`ldap_groups_base = "ou=Group,dc=csclub,dc=uwaterloo,dc=ca"`, `ldap_groups_base = "ou=Group,dc=other"`, "share no suffix"},
		{"member_shell = /bin/bash", "member_shell = /bin/bash\nmember_shell = /bin/sh", "already set on line"},
	} {
		in := strings.Replace(legacyAccounts, tc.old, tc.new, 1)
		require.NotEqual(t, legacyAccounts, in, tc.old)
		dir := writeDir(t, map[string]string{AccountsFile: in})
		_, err := LoadAccounts(dir)
		require.Error(t, err, tc.want)
		assert.Contains(t, err.Error(), tc.want)
		assert.Contains(t, err.Error(), filepath.Join(dir, AccountsFile), "errors name the file")
	}
	_, err := LoadAccounts(t.TempDir())
	require.ErrorIs(t, err, os.ErrNotExist)
}

func TestSetExtension(t *testing.T) {
	a, err := LoadAccounts(writeDir(t, map[string]string{AccountsFile: legacyAccounts}))
	require.NoError(t, err)
	for _, kv := range [][2]string{
		{"admin_keytab", "/etc/csc/ceod-admin.keytab"},
		{"quota_prototype", "quotaproto"},
		{"kadmin_path", "/usr/bin/kadmin"},
		{"setquota_path", "/usr/sbin/setquota"},
		{"ldap_base", "dc=uwaterloo,dc=ca"},
	} {
		known, err := a.SetExtension(kv[0], kv[1])
		require.NoError(t, err, kv[0])
		assert.True(t, known)
	}
	assert.Equal(t, "/etc/csc/ceod-admin.keytab", a.AdminKeytab)
	assert.Equal(t, "quotaproto", a.QuotaPrototype)
	assert.Equal(t, "dc=uwaterloo,dc=ca", a.LDAPBase)
	known, err := a.SetExtension("listen", ":9987")
	assert.False(t, known)
	assert.NoError(t, err)
	for _, kv := range [][2]string{
		{"admin_keytab", "relative.keytab"}, {"quota_prototype", "-a"}, {"quota_prototype", "a b"},
		{"kadmin_path", ""}, {"ldap_base", "dc=elsewhere"}, {"ldap_base", "garbage"},
	} {
		_, err := a.SetExtension(kv[0], kv[1])
		assert.Error(t, err, "%v", kv)
	}
	_, err = a.SetExtension("quota_prototype", "")
	assert.NoError(t, err, "empty disables quotas")
}

func TestOtherFiles(t *testing.T) {
	dir := writeDir(t, map[string]string{
		MySQLFile:      "mysql_admin_username = ceod_admin\nmysql_admin_password = \"pa ss#word\"\nmysql_host = 127.0.0.1\nmysql_port = 13306\n",
		MailmanFile:    "members_list = members\nlist_domain = csclub.internal\nmailman_api_url = http://localhost:8001\nmailman_api_user = restadmin\nmailman_api_password = mmsecret\n",
		LibraryFile:    "library_connect_string = \"postgres://lib:secretpw@127.0.0.1:5432/library\"\n",
		PostgreSQLFile: "postgresql_admin_url = \"postgres://postgres:pgsecret@127.0.0.1:5432/postgres\"\npostgresql_lock_databases = postgres template1\n",
	})
	m, err := LoadMySQL(dir)
	require.NoError(t, err)
	assert.Equal(t, "ceod_admin", m.AdminUsername)
	assert.Equal(t, "pa ss#word", m.AdminPassword)
	assert.Equal(t, "127.0.0.1", m.Host)
	assert.Equal(t, 13306, m.Port)
	for _, s := range []string{m.String(), m.GoString(), m.LogValue().String()} {
		assert.NotContains(t, s, "pa ss#word")
	}

	mm, err := LoadMailman(dir)
	require.NoError(t, err)
	assert.Equal(t, &Mailman{MembersList: "members", ListDomain: "csclub.internal",
		APIURL: "http://localhost:8001", APIUser: "restadmin", APIPassword: "mmsecret"}, mm)
	assert.False(t, mm.Disabled())
	for _, s := range []string{mm.String(), mm.GoString(), mm.LogValue().String()} {
		assert.NotContains(t, s, "mmsecret")
	}

	pg, err := LoadPostgreSQL(dir)
	require.NoError(t, err)
	assert.Equal(t, "postgres://postgres:pgsecret@127.0.0.1:5432/postgres", pg.AdminURL)
	assert.Equal(t, []string{"postgres", "template1"}, pg.LockDatabases)
	for _, s := range []string{pg.String(), pg.GoString(), pg.LogValue().String()} {
		assert.NotContains(t, s, "pgsecret")
	}

	l, err := LoadLibrary(dir)
	require.NoError(t, err)
	assert.Equal(t, "postgres://lib:secretpw@127.0.0.1:5432/library", l.ConnectString)
	assert.NotContains(t, l.String(), "secretpw")
	assert.NotContains(t, l.LogValue().String(), "secretpw")

	bad := writeDir(t, map[string]string{
		MySQLFile:      "mysql_admin_username = x\n",
		MailmanFile:    "members_list = members\nlist_domain = \"bad domain\"\n",
		PostgreSQLFile: "postgresql_admin_url = \"pg:secret\"\n",
		LibraryFile:    "library_connect_string = \"mysql://root:pw@x/y\"\n",
	})
	_, err = LoadMySQL(bad)
	assert.ErrorContains(t, err, "mysql_admin_password: required")
	_, err = LoadMailman(bad)
	assert.ErrorContains(t, err, "list_domain")
	_, err = LoadLibrary(bad)
	assert.ErrorContains(t, err, "postgres://")
	assert.NotContains(t, err.Error(), "pw@")
	_, err = LoadPostgreSQL(bad)
	assert.ErrorContains(t, err, "postgresql_admin_url")
	assert.NotContains(t, err.Error(), "secret")
	// A legacy mailman.cf (only members_list and list_domain) loads: the
	// REST settings come from Mailman 3's own configuration, else its
	// defaults.
	legacy := writeDir(t, map[string]string{MailmanFile: "members_list = csc-general\nlist_domain = csclub.uwaterloo.ca\n" +
		"mailman_config = /nonexistent/mailman.cfg\n"})
	mm, err = LoadMailman(legacy)
	require.NoError(t, err)
	assert.Equal(t, "http://localhost:8001", mm.APIURL)
	assert.Equal(t, "restadmin", mm.APIUser)
	assert.Equal(t, "restpass", mm.APIPassword)
	core := filepath.Join(t.TempDir(), "mailman.cfg")
	require.NoError(t, os.WriteFile(core, []byte("[mailman]\nsite_owner: x@y\n\n[webservice]\nhostname: lists.internal\nport: 8101\n"+
		"admin_user: ceo\nadmin_pass: s3cret\n\n[database]\nport: 1\n"), 0o600))
	legacy = writeDir(t, map[string]string{MailmanFile: "members_list = csc-general\nlist_domain = csclub.uwaterloo.ca\nmailman_config = " + core + "\n"})
	mm, err = LoadMailman(legacy)
	require.NoError(t, err)
	assert.Equal(t, "http://lists.internal:8101", mm.APIURL)
	assert.Equal(t, "ceo", mm.APIUser)
	assert.Equal(t, "s3cret", mm.APIPassword)

	none := writeDir(t, map[string]string{MailmanFile: "members_list = none\n"})
	mm, err = LoadMailman(none)
	require.NoError(t, err)
	assert.True(t, mm.Disabled())
}
