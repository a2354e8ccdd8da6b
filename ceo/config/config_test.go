package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	opsconfig "github.com/csclub/ceo/ops/config"
)

func write(t *testing.T, dir, name, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// accounts is a complete accounts.cf: the front end checks it as
// ceod does.
const accounts = `member_min_id = 20001
member_max_id = 29999
member_shell = /bin/bash
member_home = /home/members
club_min_id = 30001
club_max_id = 39999
club_shell = /bin/bash
club_home = /home/clubs
ldap_server_url = "ldap://localhost:1"
ldap_users_base = "ou=People,dc=x"
ldap_groups_base = "ou=Group,dc=x"
ldap_sudo_base = "ou=SUDOers,dc=x"
ldap_admin_principal = ceod/admin
krb5_realm = X.TEST
krb5_admin_principal = ceod/admin
min_password_length = 4
shells_file = /tmp/shells
`

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "accounts.cf", accounts)
	c, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if c.LDAPURL != "ldap://localhost:1" || c.UsersBase != "ou=People,dc=x" || c.Realm != "X.TEST" ||
		c.MinPasswordLen != 4 || c.ShellsFile != "/tmp/shells" || c.LibraryConnect != "" ||
		c.SourceURL != DefaultSourceURL || c.RequestTimeout != DefaultRequestTimeout {
		t.Fatalf("Load = %+v", c)
	}
	if !c.UsernameRegex.MatchString("abc-1") || c.UsernameRegex.MatchString("1abc") {
		t.Error("default username_regex")
	}

	write(t, dir, "library.cf", `library_connect_string = "postgres://u:p@h/library"`+"\n")
	write(t, dir, "ceo.cf", "uwldap_server_url = ldap://src\nrequest_timeout = 5\nloan_period = 48h\n")
	if c, err = Load(dir); err != nil {
		t.Fatal(err)
	}
	if c.LibraryConnect != "postgres://u:p@h/library" || c.SourceURL != "ldap://src" ||
		c.RequestTimeout != 5*time.Second || c.LoanPeriod != 48*time.Hour {
		t.Fatalf("Load with ceo.cf = %+v", c)
	}

	// accounts.cf names the university directory; ceo.cf overrides it.
	write(t, dir, "accounts.cf", accounts+"uwldap_server_url = ldap://uw\nuwldap_base = o=uw\n")
	if c, err = Load(dir); err != nil {
		t.Fatal(err)
	}
	if c.SourceURL != "ldap://src" || c.SourceBase != "o=uw" {
		t.Fatalf("Load with uwldap keys in both files = %+v", c)
	}
	os.Remove(filepath.Join(dir, "ceo.cf"))
	if c, err = Load(dir); err != nil {
		t.Fatal(err)
	}
	if c.SourceURL != "ldap://uw" {
		t.Fatalf("uwldap_server_url of accounts.cf: %q", c.SourceURL)
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct{ name, accounts, ceo, want string }{
		{"missing file", "", "", "accounts.cf"},
		{"missing url", "ldap_users_base = a\nldap_groups_base = b\n", "", "ldap_server_url: required"},
		{"key twice", accounts + "min_password_length = 9\n", "", "min_password_length already set on line"},
		{"bad ceo.cf line", accounts, "request_timeout\n", "ceo.cf"},
		{"bad regex", accounts + "username_regex = \"[\"\n", "", "username_regex"},
		{"bad length", accounts + "min_password_length = x\n", "", "min_password_length"},
		{"bad timeout", accounts, "request_timeout = soon\n", "request_timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if tt.accounts != "" {
				write(t, dir, "accounts.cf", tt.accounts)
			}
			if tt.ceo != "" {
				write(t, dir, "ceo.cf", tt.ceo)
			}
			_, err := Load(dir)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Load error = %v, want it to mention %q", err, tt.want)
			}
		})
	}
}

func TestDirFromEnv(t *testing.T) {
	if d := DirFromEnv(func(string) string { return "" }); d != DefaultDir {
		t.Errorf("unset: %s", d)
	}
	if d := DirFromEnv(func(string) string { return "/x" }); d != "/x" {
		t.Errorf("set: %s", d)
	}
}

// TestSameAccountsAsCeod: the front end and ceod read accounts.cf with
// one parser, so the shipped file and the escapes of a quoted regular
// expression mean the same to both.
func TestSameAccountsAsCeod(t *testing.T) {
	shipped := filepath.Join("..", "..", "debian", "conf")
	wordy := t.TempDir()
	write(t, wordy, "accounts.cf", accounts+`username_regex = "^\w+$"`+"\n")
	for _, dir := range []string{shipped, wordy} {
		c, err := Load(dir)
		if err != nil {
			t.Fatalf("front end: %v", err)
		}
		a, err := opsconfig.LoadAccounts(dir)
		if err != nil {
			t.Fatalf("ceod: %v", err)
		}
		if !reflect.DeepEqual(c.Accounts, a) {
			t.Errorf("%s: front end read\n%+v\nceod read\n%+v", dir, c.Accounts, a)
		}
		if c.UsernamePattern != a.UsernamePattern || c.UsernameRegex.String() != a.UsernameRegex.String() ||
			c.LDAPURL != a.LDAPServerURL || c.UsersBase != a.LDAPUsersBase || c.GroupsBase != a.LDAPGroupsBase ||
			c.MinPasswordLen != a.MinPasswordLength || c.ExpireHook != a.ExpireHook {
			t.Errorf("%s: front end fields %+v differ from ceod's %+v", dir, c, a)
		}
	}
	c, err := Load(wordy)
	if err != nil {
		t.Fatal(err)
	}
	if c.UsernamePattern != `^\w+$` {
		t.Errorf(`username_regex "^\w+$" read as %q`, c.UsernamePattern)
	}
	for name, ok := range map[string]bool{"abc_1": true, "www": true, "a-b": false, "": false} {
		if c.UsernameRegex.MatchString(name) != ok {
			t.Errorf("%q matches %s: %v, want %v", name, c.UsernamePattern, !ok, ok)
		}
	}
}

// TestLoadUnreadableLibrary: a library.cf the user cannot read (here a
// directory, as root can read any file) is recorded for the Library menu
// and does not stop the rest of the front end.
func TestLoadUnreadableLibrary(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "accounts.cf", accounts)
	if err := os.Mkdir(filepath.Join(dir, "library.cf"), 0o755); err != nil {
		t.Fatal(err)
	}
	c, err := Load(dir)
	if err != nil {
		t.Fatalf("Load with an unreadable library.cf: %v", err)
	}
	if c.LibraryErr == nil || !strings.Contains(c.LibraryErr.Error(), "library.cf") || c.LibraryConnect != "" {
		t.Fatalf("LibraryErr = %v, LibraryConnect = %q", c.LibraryErr, c.LibraryConnect)
	}
}
