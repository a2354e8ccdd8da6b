// Package directory is the LDAP access of the ceod ops: group membership
// for authorization, account lookups, the entries adduser creates (user,
// group, sudo role) and their removal, and a uid/gid allocator that never
// hands the same number out twice (see AllocateID).
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
	"net"
	"strconv"
	"strings"
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
		base, ok := commonSuffix(cfg.UsersBase, cfg.GroupsBase)
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

// UserDN is the DN of the user called name.
func (c *Client) UserDN(name string) string {
	return "uid=" + ldap.EscapeDN(name) + "," + c.cfg.UsersBase
}

// GroupDN is the DN of the group called name.
func (c *Client) GroupDN(name string) string {
	return "cn=" + ldap.EscapeDN(name) + "," + c.cfg.GroupsBase
}

// SudoRoleDN is the DN of the sudo role called cn (e.g. "%club").
func (c *Client) SudoRoleDN(cn string) string {
	return "cn=" + ldap.EscapeDN(cn) + "," + c.cfg.SudoBase
}

func (c *Client) dial(ctx context.Context) (*ldap.Conn, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("directory: connecting to %s: %w", c.cfg.URL, err)
	}
	conn, err := ldap.DialURL(c.cfg.URL, ldap.DialWithDialer(&net.Dialer{Timeout: c.cfg.DialTimeout}))
	if err != nil {
		return nil, fmt.Errorf("directory: connecting to %s: %w", c.cfg.URL, err)
	}
	conn.SetTimeout(c.cfg.Timeout)
	if c.cfg.Bind != nil {
		stop := context.AfterFunc(ctx, func() { conn.Close() })
		err := c.cfg.Bind(conn)
		if !stop() {
			err = ctx.Err()
		}
		if err != nil {
			conn.Close()
			return nil, fmt.Errorf("directory: binding to %s: %w", c.cfg.URL, err)
		}
	}
	return conn, nil
}

// get returns an idle connection (reused reports true) or a new one.
func (c *Client) get(ctx context.Context) (conn *ldap.Conn, reused bool, err error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, false, errors.New("directory: client closed")
	}
	for len(c.idle) > 0 {
		conn = c.idle[len(c.idle)-1]
		c.idle = c.idle[:len(c.idle)-1]
		if !conn.IsClosing() {
			c.mu.Unlock()
			return conn, true, nil
		}
		conn.Close()
	}
	c.mu.Unlock()
	conn, err = c.dial(ctx)
	return conn, false, err
}

// put returns a healthy connection to the pool or closes it.
func (c *Client) put(conn *ldap.Conn) {
	c.mu.Lock()
	if !c.closed && !conn.IsClosing() && len(c.idle) < c.cfg.MaxIdle {
		c.idle = append(c.idle, conn)
		conn = nil
	}
	c.mu.Unlock()
	if conn != nil {
		conn.Close()
	}
}

// do runs fn on a connection. ctx ending closes the connection, which
// makes fn's request fail at once. A read (retry true) that fails with a
// network error on a reused connection is tried again on a new one.
func (c *Client) do(ctx context.Context, retry bool, fn func(*ldap.Conn) error) error {
	for attempt := 0; ; attempt++ {
		conn, reused, err := c.get(ctx)
		if err != nil {
			return err
		}
		stop := context.AfterFunc(ctx, func() { conn.Close() })
		err = fn(conn)
		if !stop() {
			conn.Close()
			return fmt.Errorf("directory: %w", context.Cause(ctx))
		}
		if isNetworkError(err) || conn.IsClosing() {
			conn.Close()
			if retry && reused && attempt == 0 && isNetworkError(err) {
				c.log.Debug("directory: retrying on a new connection", "err", err)
				continue
			}
		} else {
			c.put(conn)
		}
		return err
	}
}

func isNetworkError(err error) bool {
	return err != nil && ldap.IsErrorAnyOf(err, ldap.ErrorNetwork, ldap.LDAPResultServerDown, ldap.LDAPResultUnavailable)
}

// search runs a search, paged so that server size limits do not cut it.
func (c *Client) search(ctx context.Context, req *ldap.SearchRequest) ([]*ldap.Entry, error) {
	var entries []*ldap.Entry
	err := c.do(ctx, true, func(conn *ldap.Conn) error {
		res, err := conn.SearchWithPaging(req, 500)
		if err != nil {
			return err
		}
		entries = res.Entries
		return nil
	})
	return entries, err
}

func subtree(base, filter string, attrs ...string) *ldap.SearchRequest {
	if len(attrs) == 0 {
		attrs = []string{"1.1"} // no attributes
	}
	return ldap.NewSearchRequest(base, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false, filter, attrs, nil)
}

// exists reports whether a search finds any entry.
func (c *Client) exists(ctx context.Context, what string, req *ldap.SearchRequest) (bool, error) {
	entries, err := c.search(ctx, req)
	if err != nil {
		return false, fmt.Errorf("directory: looking up %s: %w", what, err)
	}
	return len(entries) > 0, nil
}

// InGroup reports whether user is a member of group: the group cn=group
// under the groups base lists user as memberUid, or the user's DN as
// uniqueMember. A group that does not exist has no members.
func (c *Client) InGroup(ctx context.Context, user, group string) (bool, error) {
	if user == "" || group == "" {
		return false, nil
	}
	filter := fmt.Sprintf("(&(cn=%s)(|(memberUid=%s)(uniqueMember=%s)))",
		ldap.EscapeFilter(group), ldap.EscapeFilter(user), ldap.EscapeFilter(c.UserDN(user)))
	return c.exists(ctx, "membership of "+user+" in "+group, subtree(c.cfg.GroupsBase, filter))
}

// User is an account as stored under the users base.
type User struct {
	Name     string // uid
	DN       string
	RealName string // cn
	UID, GID int
	Home     string
	Shell    string
	Program  string // members only
	// Club is true for club accounts (objectClass club), false for
	// members and club reps (objectClass member).
	Club           bool
	Terms          []string // member terms, e.g. f2024
	NonMemberTerms []string
}

var userAttrs = []string{"uid", "cn", "uidNumber", "gidNumber", "homeDirectory", "loginShell", "program", "objectClass", "term", "nonMemberTerm"}

// LookupUser returns the account called name (a posixAccount with that
// uid under the users base), or an error wrapping ErrNotFound.
func (c *Client) LookupUser(ctx context.Context, name string) (*User, error) {
	filter := fmt.Sprintf("(&(objectClass=posixAccount)(uid=%s))", ldap.EscapeFilter(name))
	entries, err := c.search(ctx, subtree(c.cfg.UsersBase, filter, userAttrs...))
	if err != nil {
		return nil, fmt.Errorf("directory: looking up user %s: %w", name, err)
	}
	switch len(entries) {
	case 0:
		return nil, fmt.Errorf("directory: user %s: %w", name, ErrNotFound)
	case 1:
	default:
		return nil, fmt.Errorf("directory: user %s: %d entries have that uid", name, len(entries))
	}
	e := entries[0]
	u := &User{
		Name:           e.GetAttributeValue("uid"),
		DN:             e.DN,
		RealName:       e.GetAttributeValue("cn"),
		Home:           e.GetAttributeValue("homeDirectory"),
		Shell:          e.GetAttributeValue("loginShell"),
		Program:        e.GetAttributeValue("program"),
		Terms:          e.GetAttributeValues("term"),
		NonMemberTerms: e.GetAttributeValues("nonMemberTerm"),
	}
	for _, oc := range e.GetAttributeValues("objectClass") {
		if strings.EqualFold(oc, "club") {
			u.Club = true
		}
	}
	if u.UID, err = strconv.Atoi(e.GetAttributeValue("uidNumber")); err != nil {
		return nil, fmt.Errorf("directory: user %s: bad uidNumber %q", name, e.GetAttributeValue("uidNumber"))
	}
	if u.GID, err = strconv.Atoi(e.GetAttributeValue("gidNumber")); err != nil {
		return nil, fmt.Errorf("directory: user %s: bad gidNumber %q", name, e.GetAttributeValue("gidNumber"))
	}
	return u, nil
}

// UserExists reports whether any entry under the users base has uid
// name, posixAccount or not.
func (c *Client) UserExists(ctx context.Context, name string) (bool, error) {
	return c.exists(ctx, "user "+name, subtree(c.cfg.UsersBase, "(uid="+ldap.EscapeFilter(name)+")"))
}

// GroupExists reports whether any entry under the groups base has cn
// name, posixGroup or not.
func (c *Client) GroupExists(ctx context.Context, name string) (bool, error) {
	return c.exists(ctx, "group "+name, subtree(c.cfg.GroupsBase, "(cn="+ldap.EscapeFilter(name)+")"))
}

// SudoRoleExists reports whether the sudo role cn exists.
func (c *Client) SudoRoleExists(ctx context.Context, cn string) (bool, error) {
	return c.exists(ctx, "sudo role "+cn, subtree(c.cfg.SudoBase, "(cn="+ldap.EscapeFilter(cn)+")"))
}

// IDInUse reports whether id is the uidNumber or gidNumber of any entry
// under the base.
func (c *Client) IDInUse(ctx context.Context, id int) (bool, error) {
	n := strconv.Itoa(id)
	return c.exists(ctx, "id "+n, subtree(c.cfg.Base, "(|(uidNumber="+n+")(gidNumber="+n+"))"))
}

// usedIDs returns every uidNumber and gidNumber in [lo, hi] under the
// base. (uidNumber has no ORDERING rule in nis.schema, so the range is
// filtered here, not by the server.)
func (c *Client) usedIDs(ctx context.Context, lo, hi int) (map[int]bool, error) {
	entries, err := c.search(ctx, subtree(c.cfg.Base, "(|(uidNumber=*)(gidNumber=*))", "uidNumber", "gidNumber"))
	if err != nil {
		return nil, fmt.Errorf("directory: listing used ids: %w", err)
	}
	used := map[int]bool{}
	for _, e := range entries {
		for _, a := range []string{"uidNumber", "gidNumber"} {
			for _, v := range e.GetAttributeValues(a) {
				if n, err := strconv.Atoi(v); err == nil && n >= lo && n <= hi {
					used[n] = true
				}
			}
		}
	}
	return used, nil
}

// add adds an entry, mapping "already exists" to ErrExists.
func (c *Client) add(ctx context.Context, req *ldap.AddRequest) error {
	err := c.do(ctx, false, func(conn *ldap.Conn) error { return conn.Add(req) })
	switch {
	case err == nil:
		return nil
	case ldap.IsErrorWithCode(err, ldap.LDAPResultEntryAlreadyExists):
		return fmt.Errorf("directory: adding %s: %w (%w)", req.DN, ErrExists, err)
	default:
		return fmt.Errorf("directory: adding %s: %w", req.DN, err)
	}
}

// Delete removes the entry dn (it must have no children), mapping "no
// such object" to ErrNotFound.
func (c *Client) Delete(ctx context.Context, dn string) error {
	err := c.do(ctx, false, func(conn *ldap.Conn) error { return conn.Del(ldap.NewDelRequest(dn, nil)) })
	switch {
	case err == nil:
		return nil
	case ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject):
		return fmt.Errorf("directory: deleting %s: %w (%w)", dn, ErrNotFound, err)
	default:
		return fmt.Errorf("directory: deleting %s: %w", dn, err)
	}
}

// AddUser adds the account u under the users base, as the legacy adduser
// does: objectClass top, account, posixAccount, shadowAccount and member
// (or club when u.Club); cn, uid, loginShell, uidNumber, gidNumber,
// homeDirectory and program if set. u.DN is filled in.
func (c *Client) AddUser(ctx context.Context, u *User) error {
	kind := "member"
	if u.Club {
		kind = "club"
	}
	u.DN = c.UserDN(u.Name)
	req := ldap.NewAddRequest(u.DN, nil)
	req.Attribute("objectClass", []string{"top", "account", "posixAccount", "shadowAccount", kind})
	req.Attribute("cn", []string{u.RealName})
	req.Attribute("uid", []string{u.Name})
	req.Attribute("loginShell", []string{u.Shell})
	req.Attribute("uidNumber", []string{strconv.Itoa(u.UID)})
	req.Attribute("gidNumber", []string{strconv.Itoa(u.GID)})
	req.Attribute("homeDirectory", []string{u.Home})
	if u.Program != "" {
		req.Attribute("program", []string{u.Program})
	}
	if len(u.Terms) > 0 {
		req.Attribute("term", u.Terms)
	}
	if len(u.NonMemberTerms) > 0 {
		req.Attribute("nonMemberTerm", u.NonMemberTerms)
	}
	return c.add(ctx, req)
}

// DeleteUser removes the user entry called name.
func (c *Client) DeleteUser(ctx context.Context, name string) error {
	return c.Delete(ctx, c.UserDN(name))
}

// DeleteUserWithID removes the user entry called name only if its
// uidNumber is id, so that undoing a write whose outcome was unknown
// cannot remove an account another request made meanwhile. An entry
// with another number, or none, gives ErrNotFound.
func (c *Client) DeleteUserWithID(ctx context.Context, name string, id int) error {
	return c.deleteIf(ctx, c.UserDN(name), "uidNumber", id)
}

// DeleteGroupWithID is DeleteUserWithID for the group called name and
// its gidNumber.
func (c *Client) DeleteGroupWithID(ctx context.Context, name string, id int) error {
	return c.deleteIf(ctx, c.GroupDN(name), "gidNumber", id)
}

// deleteIf deletes dn if its attr equals id. Once the entry is known to
// carry id nobody else can create that DN, so compare-then-delete is safe.
func (c *Client) deleteIf(ctx context.Context, dn, attr string, id int) error {
	var same bool
	err := c.do(ctx, true, func(conn *ldap.Conn) error {
		var err error
		same, err = conn.Compare(dn, attr, strconv.Itoa(id))
		return err
	})
	switch {
	case ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject):
		return fmt.Errorf("directory: deleting %s: %w (%w)", dn, ErrNotFound, err)
	case err != nil:
		return fmt.Errorf("directory: comparing %s of %s: %w", attr, dn, err)
	case !same:
		return fmt.Errorf("directory: deleting %s: %w (its %s is not %d)", dn, ErrNotFound, attr, id)
	}
	return c.Delete(ctx, dn)
}

// Group is a group under the groups base.
type Group struct {
	Name    string
	GID     int
	Members []string // user names, stored as memberUid and uniqueMember
}

// AddGroup adds g as the legacy adduser does: objectClass top, group,
// posixGroup; cn, gidNumber; and each member as memberUid and as
// uniqueMember (the user's DN).
func (c *Client) AddGroup(ctx context.Context, g *Group) error {
	req := ldap.NewAddRequest(c.GroupDN(g.Name), nil)
	req.Attribute("objectClass", []string{"top", "group", "posixGroup"})
	req.Attribute("cn", []string{g.Name})
	req.Attribute("gidNumber", []string{strconv.Itoa(g.GID)})
	if len(g.Members) > 0 {
		dns := make([]string, len(g.Members))
		for i, m := range g.Members {
			dns[i] = c.UserDN(m)
		}
		req.Attribute("memberUid", g.Members)
		req.Attribute("uniqueMember", dns)
	}
	return c.add(ctx, req)
}

// DeleteGroup removes the group called name.
func (c *Client) DeleteGroup(ctx context.Context, name string) error {
	return c.Delete(ctx, c.GroupDN(name))
}

// SudoRole is a sudoRole entry under the sudo base.
type SudoRole struct {
	CN         string // e.g. "%club"
	Users      []string
	Hosts      []string
	Commands   []string
	Options    []string
	RunAsUsers []string
}

// ClubSudoRole is the role the legacy adduser gives a club: members of
// the club's group may run anything as the club without a password.
func ClubSudoRole(club string) *SudoRole {
	return &SudoRole{
		CN:         "%" + club,
		Users:      []string{"%" + club},
		Hosts:      []string{"ALL"},
		Commands:   []string{"ALL"},
		Options:    []string{"!authenticate"},
		RunAsUsers: []string{club},
	}
}

// AddSudoRole adds r under the sudo base.
func (c *Client) AddSudoRole(ctx context.Context, r *SudoRole) error {
	req := ldap.NewAddRequest(c.SudoRoleDN(r.CN), nil)
	req.Attribute("objectClass", []string{"top", "sudoRole"})
	req.Attribute("cn", []string{r.CN})
	for _, a := range []struct {
		name string
		vals []string
	}{{"sudoUser", r.Users}, {"sudoHost", r.Hosts}, {"sudoCommand", r.Commands}, {"sudoOption", r.Options}, {"sudoRunAsUser", r.RunAsUsers}} {
		if len(a.vals) > 0 {
			req.Attribute(a.name, a.vals)
		}
	}
	return c.add(ctx, req)
}

// DeleteSudoRole removes the sudo role cn.
func (c *Client) DeleteSudoRole(ctx context.Context, cn string) error {
	return c.Delete(ctx, c.SudoRoleDN(cn))
}

// commonSuffix returns the longest common suffix of two DNs, RDN by RDN,
// compared case-insensitively, spelled as in a.
func commonSuffix(a, b string) (string, bool) {
	da, err1 := ldap.ParseDN(a)
	db, err2 := ldap.ParseDN(b)
	if err1 != nil || err2 != nil {
		return "", false
	}
	i, j, n := len(da.RDNs)-1, len(db.RDNs)-1, 0
	for i >= 0 && j >= 0 && da.RDNs[i].EqualFold(db.RDNs[j]) {
		i, j, n = i-1, j-1, n+1
	}
	if n == 0 {
		return "", false
	}
	parts := make([]string, 0, n)
	for _, r := range da.RDNs[len(da.RDNs)-n:] {
		parts = append(parts, r.String())
	}
	return strings.Join(parts, ","), true
}

// IsRefusal reports whether err carries the server's answer refusing a
// request (an LDAP result code), which means the request changed nothing.
// Other errors (connection lost, cancelled) leave it unknown whether a
// write was applied.
func IsRefusal(err error) bool {
	var le *ldap.Error
	// Codes from 200 up are go-ldap's own (network, decoding...), not
	// the server's.
	return errors.As(err, &le) && le.ResultCode != 0 && le.ResultCode < 200
}
