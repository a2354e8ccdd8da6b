package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	in := `# comment
member_min_id = 20001
ldap_server_url = "ldap://x:389"   # trailing
username_regex = "^[a-z][-a-z0-9]*$"
quoted = "a # not a comment \" still"
plain = value # comment
	indented = yes
override = 1
override = 2
`
	m, err := Parse(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"member_min_id":   "20001",
		"ldap_server_url": "ldap://x:389",
		"username_regex":  "^[a-z][-a-z0-9]*$",
		"quoted":          `a # not a comment " still`,
		"plain":           "value",
		"indented":        "yes",
		"override":        "2",
	}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s = %q, want %q", k, m[k], v)
		}
	}
	if len(m) != len(want) {
		t.Errorf("got %d keys: %v", len(m), m)
	}
}

func TestParseErrors(t *testing.T) {
	for _, in := range []string{
		"novalue\n",
		"= value\n",
		"two words = x\n",
		"k = \"unterminated\n",
		"k = \"a\" b\n",
	} {
		if _, err := Parse(strings.NewReader(in)); err == nil {
			t.Errorf("Parse(%q) succeeded", in)
		}
	}
}

func write(t *testing.T, dir, name, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

const accounts = `ldap_server_url = "ldap://localhost:1"
ldap_users_base = "ou=People,dc=x"
ldap_groups_base = "ou=Group,dc=x"
krb5_realm = X.TEST
min_password_length = 4
shells_file = /tmp/shells
member_home = /home/members
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
		{"missing url", "ldap_users_base = a\nldap_groups_base = b\n", "", "ldap_server_url is missing"},
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
