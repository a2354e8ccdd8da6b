// Package directory is the one owner of the club's LDAP directory: its
// DNs, object classes and attribute lists (dn.go), and a pooled,
// reconnecting client (pool.go) used by ceod's ops (group membership for
// authorization, account lookups, the entries adduser creates and their
// removal, a uid/gid allocator that never hands the same number out
// twice, ids.go) and by the front end (ceo/members builds on it, bound as
// the person using ceo).
//
// Every search that can return more than one entry is paged (RFC 2696,
// PageSize per page; search.go), so slapd's size limit for unpaged
// searches never cuts a listing short; a search the server's limits stop
// anyway fails with a *LimitError naming the limit and its slapd
// setting.
//
// The package knows nothing about Kerberos: the SASL GSSAPI bind is
// injected as a BindFunc (ceod builds one with GSSAPIBind in gssapi.go;
// tests may use a simple bind). Every value put into a DN is escaped with
// ldap.EscapeDN and every value put into a filter with ldap.EscapeFilter.
//
// A Client keeps a few bound connections for reuse; each call takes one,
// closes it if ctx ends while the request is in flight (go-ldap has no
// context support), and drops it on a network error. A read that fails
// on a reused connection because the server had closed it is retried once
// on a fresh connection; writes are never retried, because a write whose
// reply was lost may have been applied.
package directory

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/csclub/ceo/ops/config"
)

// Sentinel errors, wrapped together with the underlying LDAP error.
var (
	// ErrNotFound: the entry asked for does not exist.
	ErrNotFound = errors.New("directory: no such entry")
	// ErrExists: an add found an entry of that DN already there.
	ErrExists = errors.New("directory: entry already exists")
	// ErrUnavailable: the server could not be reached, or stopped
	// answering (connection lost, timed out).
	ErrUnavailable = errors.New("the directory is not answering")
	// ErrRangeExhausted: every number of an id range is in use.
	ErrRangeExhausted = errors.New("directory: id range exhausted")
)

// BindFunc authenticates a fresh connection, for example with
// conn.GSSAPIBind. It is called once per new connection.
type BindFunc func(conn *ldap.Conn) error

// Defaults of Config's zero values.
const (
	DefaultTimeout     = 30 * time.Second
	DefaultDialTimeout = 10 * time.Second
	DefaultMaxIdle     = 4
)

// Config configures a Client.
type Config struct {
	// URL is the server, ldap://host:port (or ldaps://, ldapi://).
	URL string
	// Bind authenticates each new connection; nil leaves it anonymous,
	// which is enough for reads on most directories.
	Bind BindFunc
	// UsersBase, GroupsBase and SudoBase hold users (uid=NAME),
	// groups (cn=NAME) and sudo roles (cn=ROLE).
	UsersBase, GroupsBase, SudoBase string
	// Base is searched when checking that an id is unused anywhere.
	// Empty means the longest common suffix of UsersBase and GroupsBase.
	Base string
	// CounterBase holds the id counter entries. Empty means Base.
	CounterBase string
	// Timeout bounds each LDAP request; zero means DefaultTimeout.
	Timeout time.Duration
	// DialTimeout bounds connecting; zero means DefaultDialTimeout.
	DialTimeout time.Duration
	// MaxIdle is the number of idle connections kept; zero means
	// DefaultMaxIdle, negative keeps none.
	MaxIdle int
	// Log receives connection diagnostics; nil discards them.
	Log *slog.Logger
}

// FromAccounts returns the Config for the directory described by
// accounts.cf (and the ldap_base extension), with bind as authentication.
func FromAccounts(a *config.Accounts, bind BindFunc) Config {
	return Config{
		URL:        a.LDAPServerURL,
		Bind:       bind,
		UsersBase:  a.LDAPUsersBase,
		GroupsBase: a.LDAPGroupsBase,
		SudoBase:   a.LDAPSudoBase,
		Base:       a.LDAPBase,
	}
}

// Client is a pool of bound connections to one directory. It is safe for
// concurrent use.
type Client struct {
	cfg Config
	log *slog.Logger

	mu     sync.Mutex
	idle   []*ldap.Conn
	closed bool
}

// New checks cfg and returns a Client that connects on first use.
func New(cfg Config) (*Client, error) {
	if cfg.URL == "" {
		return nil, errors.New("directory: no server URL")
	}
	for _, b := range []struct{ name, dn string }{{"users base", cfg.UsersBase}, {"groups base", cfg.GroupsBase}} {
		if _, err := ldap.ParseDN(b.dn); err != nil || b.dn == "" {
			return nil, fmt.Errorf("directory: invalid %s %q", b.name, b.dn)
		}
	}
	if cfg.Base == "" {
		base, ok := config.CommonSuffix(cfg.UsersBase, cfg.GroupsBase)
		if !ok {
			return nil, fmt.Errorf("directory: users base %q and groups base %q share no suffix; set Base", cfg.UsersBase, cfg.GroupsBase)
		}
		cfg.Base = base
	}
	if cfg.CounterBase == "" {
		cfg.CounterBase = cfg.Base
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = DefaultDialTimeout
	}
	if cfg.MaxIdle == 0 {
		cfg.MaxIdle = DefaultMaxIdle
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Client{cfg: cfg, log: log}, nil
}

// Dial is New followed by one connection and bind, so that a wrong URL or
// credentials show up at once. The connection is kept for reuse.
func Dial(ctx context.Context, cfg Config) (*Client, error) {
	c, err := New(cfg)
	if err != nil {
		return nil, err
	}
	conn, err := c.dial(ctx)
	if err != nil {
		return nil, err
	}
	c.put(conn)
	return c, nil
}

// WithBind returns a new Client on c's configuration whose connections
// bind with bind (e.g. DelegatedBind: writes as the caller).
func (c *Client) WithBind(bind BindFunc) (*Client, error) {
	cfg := c.cfg
	cfg.Bind = bind
	return New(cfg)
}

// Close closes the idle connections; connections in use are closed when
// their call returns. Calls after Close fail.
func (c *Client) Close() error {
	c.mu.Lock()
	idle := c.idle
	c.idle, c.closed = nil, true
	c.mu.Unlock()
	for _, conn := range idle {
		conn.Close()
	}
	return nil
}
