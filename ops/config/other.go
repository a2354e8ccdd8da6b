package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/csclub/ceo/ops/config/kv"
)

// File names of the other legacy configuration files.
const (
	MySQLFile      = "mysql.cf"
	MailmanFile    = "mailman.cf"
	LibraryFile    = "library.cf"
	PostgreSQLFile = "postgresql.cf" // ours: the legacy system had no PostgreSQL op
)

// MySQL holds mysql.cf: the MariaDB/MySQL administrator ceod acts as,
// and where the server is.
type MySQL struct {
	AdminUsername string
	AdminPassword string
	// Host and Port (mysql_host, mysql_port; ours) select TCP; with Host
	// empty, the unix socket Socket (mysql_socket; ours, "" for the
	// driver's default) is used. Port 0 means 3306.
	Host   string
	Port   int
	Socket string
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

// LoadMySQL reads dir/mysql.cf: mysql_admin_username and
// mysql_admin_password (both required), and the optional mysql_host,
// mysql_port and mysql_socket.
func LoadMySQL(dir string) (*MySQL, error) {
	f, err := readFile(dir, MySQLFile)
	if err != nil {
		return nil, err
	}
	m := &MySQL{AdminUsername: f.kv["mysql_admin_username"], AdminPassword: f.kv["mysql_admin_password"]}
	for _, k := range []string{"mysql_admin_username", "mysql_admin_password"} {
		if f.kv[k] == "" {
			return nil, f.errorf(k, "required")
		}
	}
	m.Host, m.Socket = f.kv["mysql_host"], f.kv["mysql_socket"]
	if p := f.kv["mysql_port"]; p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return nil, f.errorf("mysql_port", "want a port number, got %q", p)
		}
		m.Port = n
	}
	if m.Socket != "" && !filepath.IsAbs(m.Socket) {
		return nil, f.errorf("mysql_socket", "want an absolute path, got %q", m.Socket)
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
	// The Mailman 3 REST API (ours): APIURL (mailman_api_url, e.g.
	// http://localhost:8001), its admin user and password
	// (mailman_api_user, mailman_api_password), and ListID
	// (mailman_list_id), which overrides the list id MembersList implies.
	APIURL      string
	APIUser     string
	APIPassword string
	ListID      string
}

// LogValue keeps the API password out of logs.
func (m Mailman) LogValue() slog.Value {
	return slog.GroupValue(slog.String("members_list", m.MembersList), slog.String("list_domain", m.ListDomain),
		slog.String("mailman_api_url", redactURL(m.APIURL)), slog.String("mailman_api_user", m.APIUser))
}

// String keeps the API password out of %v and %s.
func (m Mailman) String() string {
	return fmt.Sprintf("{MembersList:%s ListDomain:%s APIURL:%s APIUser:%s APIPassword:REDACTED ListID:%s}",
		m.MembersList, m.ListDomain, redactURL(m.APIURL), m.APIUser, m.ListID)
}

// GoString keeps the API password out of %#v.
func (m Mailman) GoString() string { return "config.Mailman" + m.String() }

// Disabled reports whether subscriptions are turned off.
func (m *Mailman) Disabled() bool { return m.MembersList == "" || m.MembersList == "none" }

var listName = regexp.MustCompile(`^[a-z0-9][-a-z0-9_.]*$`)
var domainName = regexp.MustCompile(`^[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?(\.[A-Za-z0-9]([-A-Za-z0-9]*[A-Za-z0-9])?)*$`)

// LoadMailman reads dir/mailman.cf: members_list and list_domain
// (legacy, required unless the list is "none"), and the optional
// mailman_api_url, mailman_api_user, mailman_api_password,
// mailman_list_id and mailman_config. The REST settings left out come from
// the [webservice] section of Mailman 3's configuration (mailman_config,
// default /etc/mailman3/mailman.cfg), else Mailman's defaults
// (http://localhost:8001, restadmin/restpass): a legacy mailman.cf works
// as it is.
func LoadMailman(dir string) (*Mailman, error) {
	f, err := readFile(dir, MailmanFile)
	if err != nil {
		return nil, err
	}
	kv := f.kv
	m := &Mailman{MembersList: kv["members_list"], ListDomain: kv["list_domain"],
		APIURL: kv["mailman_api_url"], APIUser: kv["mailman_api_user"], APIPassword: kv["mailman_api_password"], ListID: kv["mailman_list_id"]}
	if m.Disabled() {
		return m, nil
	}
	// A legacy mailman.cf has only members_list and list_domain: the REST
	// settings then come from Mailman 3's own configuration.
	core := kv["mailman_config"]
	if core == "" {
		core = DefaultMailman3Config
	}
	if err := m.mailman3WebService(core); err != nil {
		return nil, err
	}
	if !listName.MatchString(m.MembersList) {
		return nil, f.errorf("members_list", "invalid list name %q", m.MembersList)
	}
	if !domainName.MatchString(m.ListDomain) {
		return nil, f.errorf("list_domain", "invalid domain %q", m.ListDomain)
	}
	if u, err := url.Parse(m.APIURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, f.errorf("mailman_api_url", "want an http:// or https:// URL (Mailman's REST API, e.g. http://localhost:8001)")
	}
	if m.APIUser == "" || m.APIPassword == "" {
		return nil, f.errorf("mailman_api_user and mailman_api_password", "required (Mailman's [webservice] admin_user and admin_pass)")
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
	_, s, err := readPostgresURL(dir, LibraryFile, "library_connect_string")
	if err != nil {
		return nil, err
	}
	return &Library{ConnectString: s}, nil
}

// PostgreSQL holds postgresql.cf, our file for the postgresql op.
type PostgreSQL struct {
	// AdminURL is the admin role's postgres:// URL
	// (postgresql_admin_url). It holds a password: never log it whole.
	AdminURL string
	// LockDatabases (postgresql_lock_databases, space-separated) are the
	// databases the op revokes CONNECT on from PUBLIC.
	LockDatabases []string
}

// LogValue logs the URL with its password removed.
func (p PostgreSQL) LogValue() slog.Value {
	return slog.GroupValue(slog.String("postgresql_admin_url", redactURL(p.AdminURL)),
		slog.Any("postgresql_lock_databases", p.LockDatabases))
}

// String keeps the password out of %v and %s.
func (p PostgreSQL) String() string {
	return fmt.Sprintf("{AdminURL:%s LockDatabases:%v}", redactURL(p.AdminURL), p.LockDatabases)
}

// GoString keeps the password out of %#v.
func (p PostgreSQL) GoString() string { return "config.PostgreSQL" + p.String() }

// LoadPostgreSQL reads dir/postgresql.cf: postgresql_admin_url
// (required) and postgresql_lock_databases (optional).
func LoadPostgreSQL(dir string) (*PostgreSQL, error) {
	f, s, err := readPostgresURL(dir, PostgreSQLFile, "postgresql_admin_url")
	if err != nil {
		return nil, err
	}
	p := &PostgreSQL{AdminURL: s, LockDatabases: strings.Fields(f.kv["postgresql_lock_databases"])}
	for _, db := range p.LockDatabases {
		if !dbName.MatchString(db) {
			return nil, f.errorf("postgresql_lock_databases", "invalid database name %q", db)
		}
	}
	return p, nil
}

var dbName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_$-]*$`)

// file is one configuration file, read.
type file struct {
	path string
	kv   map[string]string
}

// readFile reads dir/name; a syntax error names the file and line.
func readFile(dir, name string) (*file, error) {
	path := filepath.Join(dir, name)
	m, err := kv.ReadFile(path)
	if _, ok := errors.AsType[*SyntaxError](err); ok {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return &file{path: path, kv: m}, nil
}

// errorf is an error about the value of key (or keys).
func (f *file) errorf(key, format string, args ...any) error {
	return fmt.Errorf("config: %s: %s: "+format, append([]any{f.path, key}, args...)...)
}

// readPostgresURL reads dir/name and its key, a postgres:// or
// postgresql:// URL. The error does not quote the URL: it may hold a
// password.
func readPostgresURL(dir, name, key string) (*file, string, error) {
	f, err := readFile(dir, name)
	if err != nil {
		return nil, "", err
	}
	s := f.kv[key]
	if u, err := url.Parse(s); err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return nil, "", f.errorf(key, "want a postgres:// URL")
	}
	return f, s, nil
}
