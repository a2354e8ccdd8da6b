package config

import (
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"
	"regexp"
)

// File names of the other legacy configuration files.
const (
	MySQLFile   = "mysql.cf"
	MailmanFile = "mailman.cf"
	LibraryFile = "library.cf"
)

// MySQL holds mysql.cf: the MariaDB/MySQL administrator ceod acts as.
type MySQL struct {
	AdminUsername string
	AdminPassword string
}

// LogValue keeps the password out of logs.
func (m MySQL) LogValue() slog.Value {
	return slog.GroupValue(slog.String("admin_username", m.AdminUsername), slog.String("admin_password", "REDACTED"))
}

// String keeps the password out of %v and %s.
func (m MySQL) String() string {
	return fmt.Sprintf("{AdminUsername:%s AdminPassword:REDACTED}", m.AdminUsername)
}

// GoString keeps the password out of %#v.
func (m MySQL) GoString() string { return "config.MySQL" + m.String() }

// LoadMySQL reads dir/mysql.cf (keys mysql_admin_username and
// mysql_admin_password, both required).
func LoadMySQL(dir string) (*MySQL, error) {
	path := filepath.Join(dir, MySQLFile)
	kv, err := readKV(path)
	if err != nil {
		return nil, err
	}
	m := &MySQL{AdminUsername: kv["mysql_admin_username"], AdminPassword: kv["mysql_admin_password"]}
	if m.AdminUsername == "" {
		return nil, fmt.Errorf("config: %s: mysql_admin_username: required", path)
	}
	if m.AdminPassword == "" {
		return nil, fmt.Errorf("config: %s: mysql_admin_password: required", path)
	}
	return m, nil
}

// Mailman holds mailman.cf.
type Mailman struct {
	// MembersList is the list new members are subscribed to; "none" (or
	// empty) disables subscriptions, as in the legacy op.
	MembersList string
	// ListDomain is the domain of subscribed addresses (USER@ListDomain).
	ListDomain string
}

// Disabled reports whether subscriptions are turned off.
func (m *Mailman) Disabled() bool { return m.MembersList == "" || m.MembersList == "none" }

var listName = regexp.MustCompile(`^[a-z0-9][-a-z0-9_.]*$`)
var domainName = regexp.MustCompile(`^[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?(\.[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?)*$`)

// LoadMailman reads dir/mailman.cf (members_list, list_domain). The
// domain is required unless the list is "none".
func LoadMailman(dir string) (*Mailman, error) {
	path := filepath.Join(dir, MailmanFile)
	kv, err := readKV(path)
	if err != nil {
		return nil, err
	}
	m := &Mailman{MembersList: kv["members_list"], ListDomain: kv["list_domain"]}
	if m.Disabled() {
		return m, nil
	}
	if !listName.MatchString(m.MembersList) {
		return nil, fmt.Errorf("config: %s: members_list: invalid list name %q", path, m.MembersList)
	}
	if !domainName.MatchString(m.ListDomain) {
		return nil, fmt.Errorf("config: %s: list_domain: invalid domain %q", path, m.ListDomain)
	}
	return m, nil
}

// Library holds library.cf.
type Library struct {
	// ConnectString is a PostgreSQL URL (postgres:// or postgresql://).
	// It may hold a password: never log it whole.
	ConnectString string
}

// LogValue logs the connection string with any password removed.
func (l Library) LogValue() slog.Value {
	return slog.StringValue(redactURL(l.ConnectString))
}

// String keeps the password out of %v and %s.
func (l Library) String() string { return "{ConnectString:" + redactURL(l.ConnectString) + "}" }

// GoString keeps the password out of %#v.
func (l Library) GoString() string { return "config.Library" + l.String() }

func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "REDACTED"
	}
	return u.Redacted()
}

// LoadLibrary reads dir/library.cf (library_connect_string, required).
func LoadLibrary(dir string) (*Library, error) {
	path := filepath.Join(dir, LibraryFile)
	kv, err := readKV(path)
	if err != nil {
		return nil, err
	}
	s := kv["library_connect_string"]
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return nil, fmt.Errorf("config: %s: library_connect_string: want a postgres:// URL", path)
	}
	return &Library{ConnectString: s}, nil
}
