// Package config reads what the ceo front end needs from a ceo
// configuration directory ($CEO_CONFIG_DIR, default /etc/csc):
// accounts.cf and library.cf (legacy files shared with ceod), and ceo.cf,
// an optional file of the front end's own settings.
//
// The files use the legacy syntax: "name = value" lines, '#' comments,
// values optionally in double quotes. Keys the front end does not use are
// ignored, because accounts.cf is shared with the daemon.
package config

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// DefaultDir is used when $CEO_CONFIG_DIR is unset, as in the legacy system.
const DefaultDir = "/etc/csc"

// Defaults of ceo.cf.
const (
	DefaultSourceURL      = "ldap://uwldap.uwaterloo.ca/"
	DefaultSourceBase     = "dc=uwaterloo,dc=ca"
	DefaultRequestTimeout = 30 * time.Second
	DefaultLoanPeriod     = 14 * 24 * time.Hour // the legacy library's two weeks
)

// Config is what the front end reads from the configuration directory.
type Config struct {
	Dir string

	// accounts.cf
	LDAPURL        string // ldap_server_url
	UsersBase      string // ldap_users_base
	GroupsBase     string // ldap_groups_base
	Realm          string // krb5_realm
	UsernameRegex  *regexp.Regexp
	MinPasswordLen int
	ShellsFile     string
	MemberHome     string
	ClubHome       string
	ExpireHook     string // run as HOOK NAME ADDRESS by expiredaccounts --email
	ListDomain     string // mail domain of member addresses, for the forward check
	SourceURL      string // uwldap_server_url: the university directory ("none": not used)
	SourceBase     string // uwldap_base

	// library.cf
	LibraryConnect string // library_connect_string; "" if library.cf is absent

	// ceo.cf (all optional; uwldap_server_url and uwldap_base here
	// override accounts.cf's)
	RequestTimeout time.Duration // request_timeout: bound on one LDAP/KDC/ceod/SQL request
	LoanPeriod     time.Duration // loan_period: after this a signed-out book is overdue
}

// DirFromEnv returns $CEO_CONFIG_DIR, or DefaultDir.
func DirFromEnv(getenv func(string) string) string {
	if getenv == nil {
		getenv = os.Getenv
	}
	if d := getenv("CEO_CONFIG_DIR"); d != "" {
		return d
	}
	return DefaultDir
}

// Load reads accounts.cf (required), library.cf and ceo.cf (optional)
// from dir and checks the values the front end depends on.
func Load(dir string) (*Config, error) {
	c := &Config{
		Dir:            dir,
		MinPasswordLen: 5, // the legacy front end's own check
		SourceURL:      DefaultSourceURL,
		SourceBase:     DefaultSourceBase,
		RequestTimeout: DefaultRequestTimeout,
		LoanPeriod:     DefaultLoanPeriod,
		ListDomain:     "csclub.uwaterloo.ca",
	}
	acc, err := readFile(filepath.Join(dir, "accounts.cf"))
	if err != nil {
		return nil, err
	}
	req := func(k string) (string, error) {
		v := acc[k]
		if v == "" {
			return "", fmt.Errorf("config: %s: %s is missing", filepath.Join(dir, "accounts.cf"), k)
		}
		return v, nil
	}
	for _, f := range []struct {
		key string
		dst *string
	}{
		{"ldap_server_url", &c.LDAPURL},
		{"ldap_users_base", &c.UsersBase},
		{"ldap_groups_base", &c.GroupsBase},
	} {
		if *f.dst, err = req(f.key); err != nil {
			return nil, err
		}
	}
	c.Realm = acc["krb5_realm"]
	if c.Realm == "" {
		c.Realm = acc["ldap_sasl_realm"]
	}
	c.ShellsFile = acc["shells_file"]
	if c.ShellsFile == "" {
		c.ShellsFile = "/etc/shells"
	}
	c.MemberHome = acc["member_home"]
	c.ClubHome = acc["club_home"]
	c.ExpireHook = acc["expire_hook"]
	if v := acc["list_domain"]; v != "" {
		c.ListDomain = v
	}
	if v := acc["uwldap_server_url"]; v != "" {
		c.SourceURL = v
	}
	if v := acc["uwldap_base"]; v != "" {
		c.SourceBase = v
	}
	re := acc["username_regex"]
	if re == "" {
		re = "^[a-z][-a-z0-9]*$"
	}
	if c.UsernameRegex, err = regexp.Compile(re); err != nil {
		return nil, fmt.Errorf("config: accounts.cf: username_regex: %w", err)
	}
	if v := acc["min_password_length"]; v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("config: accounts.cf: min_password_length %q is not a positive number", v)
		}
		c.MinPasswordLen = n
	}

	lib, err := readFile(filepath.Join(dir, "library.cf"))
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, err
	default:
		c.LibraryConnect = lib["library_connect_string"]
	}

	own, err := readFile(filepath.Join(dir, "ceo.cf"))
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, err
	default:
		if v := own["uwldap_server_url"]; v != "" {
			c.SourceURL = v
		}
		if v := own["uwldap_base"]; v != "" {
			c.SourceBase = v
		}
		if c.RequestTimeout, err = duration(own, "request_timeout", c.RequestTimeout); err != nil {
			return nil, err
		}
		if c.LoanPeriod, err = duration(own, "loan_period", c.LoanPeriod); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// duration reads a Go duration ("90s", "336h") or a bare number of seconds.
func duration(m map[string]string, key string, def time.Duration) (time.Duration, error) {
	v := m[key]
	if v == "" {
		return def, nil
	}
	if n, err := strconv.Atoi(v); err == nil && n > 0 {
		return time.Duration(n) * time.Second, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("config: ceo.cf: %s %q is not a positive duration (e.g. 30s)", key, v)
	}
	return d, nil
}

func readFile(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	m, err := Parse(f)
	if err != nil {
		return nil, fmt.Errorf("config: %s: %w", path, err)
	}
	return m, nil
}

// Parse reads legacy "name = value" lines. Blank lines and lines starting
// with '#' are skipped; an unquoted value ends at " #"; a value in double
// quotes is taken literally, with backslash escaping the next character.
// A later line overrides an earlier one.
func Parse(r io.Reader) (map[string]string, error) {
	m := map[string]string{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 64<<10)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" || strings.ContainsAny(k, " \t") {
			return nil, fmt.Errorf("line %d: want name = value", n)
		}
		v = strings.TrimSpace(v)
		if strings.HasPrefix(v, `"`) {
			var b strings.Builder
			closed := false
			for i := 1; i < len(v); i++ {
				switch c := v[i]; {
				case c == '\\' && i+1 < len(v):
					i++
					b.WriteByte(v[i])
				case c == '"':
					closed = true
					rest := strings.TrimSpace(v[i+1:])
					if rest != "" && rest[0] != '#' {
						return nil, fmt.Errorf("line %d: text after the closing quote", n)
					}
					i = len(v)
				default:
					b.WriteByte(c)
				}
			}
			if !closed {
				return nil, fmt.Errorf("line %d: unterminated quote", n)
			}
			v = b.String()
		} else if i := strings.Index(v, " #"); i >= 0 {
			v = strings.TrimSpace(v[:i])
		} else if i := strings.Index(v, "\t#"); i >= 0 {
			v = strings.TrimSpace(v[:i])
		}
		m[k] = v
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return m, nil
}
