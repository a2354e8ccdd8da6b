// Package config reads what the ceo front end needs from a ceo
// configuration directory ($CEO_CONFIG_DIR, default /etc/csc):
// accounts.cf and library.cf (legacy files shared with ceod), and ceo.cf,
// an optional file of the front end's own settings.
//
// accounts.cf is read by ops/config, the parser ceod uses; the other
// files by ops/config/kv, the one "name = value" parser.
package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"time"

	opsconfig "github.com/csclub/ceo/ops/config"
	"github.com/csclub/ceo/ops/config/kv"
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

	// Accounts is accounts.cf exactly as ceod reads it (package
	// ops/config): one parser, one set of checks, one meaning of
	// every key. The fields below are the ones the front end uses.
	Accounts *opsconfig.Accounts

	LDAPURL         string // ldap_server_url
	UsersBase       string // ldap_users_base
	GroupsBase      string // ldap_groups_base
	Realm           string // krb5_realm
	UsernameRegex   *regexp.Regexp
	UsernamePattern string // username_regex as written, for messages
	MinPasswordLen  int
	ShellsFile      string
	MemberHome      string
	ClubHome        string
	ExpireHook      string // run as HOOK NAME ADDRESS by expiredaccounts --email
	ListDomain      string // mail domain of member addresses, for the forward check
	SourceURL       string // uwldap_server_url: the university directory ("none": not used)
	SourceBase      string // uwldap_base

	// library.cf
	LibraryConnect string // library_connect_string; "" if library.cf is absent
	// LibraryErr is why library.cf could not be read, typically
	// permission denied for a user outside the group it is shared with
	// (it may hold a password). Only the Library menu needs the file,
	// so the rest of the front end works without it.
	LibraryErr error

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

// DefaultListDomain is the mail domain when accounts.cf has no
// list_domain, as in the legacy front end.
const DefaultListDomain = "csclub.uwaterloo.ca"

// Load reads accounts.cf (required, with ceod's parser and checks),
// library.cf and ceo.cf (optional) from dir.
func Load(dir string) (*Config, error) {
	acc, err := opsconfig.LoadAccounts(dir)
	if err != nil {
		return nil, err
	}
	c := &Config{
		Dir:             dir,
		Accounts:        acc,
		LDAPURL:         acc.LDAPServerURL,
		UsersBase:       acc.LDAPUsersBase,
		GroupsBase:      acc.LDAPGroupsBase,
		Realm:           acc.KRB5Realm,
		UsernameRegex:   acc.UsernameRegex,
		UsernamePattern: acc.UsernamePattern,
		MinPasswordLen:  acc.MinPasswordLength,
		ShellsFile:      acc.ShellsFile,
		MemberHome:      acc.MemberHome,
		ClubHome:        acc.ClubHome,
		ExpireHook:      acc.ExpireHook,
		ListDomain:      acc.ListDomain,
		SourceURL:       DefaultSourceURL,
		SourceBase:      DefaultSourceBase,
		RequestTimeout:  DefaultRequestTimeout,
		LoanPeriod:      DefaultLoanPeriod,
	}
	if c.ShellsFile == "" {
		c.ShellsFile = "/etc/shells"
	}
	if c.ListDomain == "" {
		c.ListDomain = DefaultListDomain
	}
	if acc.UWLDAPServerURL != "" {
		c.SourceURL = acc.UWLDAPServerURL
	}
	if acc.UWLDAPBase != "" {
		c.SourceBase = acc.UWLDAPBase
	}

	lib, err := readFile(filepath.Join(dir, opsconfig.LibraryFile))
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		c.LibraryErr = err
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

// readFile parses one optional file with the shared kv parser.
func readFile(path string) (map[string]string, error) {
	m, err := kv.ReadFile(path)
	if _, ok := errors.AsType[*kv.SyntaxError](err); err != nil && !ok {
		return nil, fmt.Errorf("config: %w", err)
	}
	return m, err
}
