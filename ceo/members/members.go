// Package members reads and edits the club's directory as the person
// using ceo: member entries under ldap_users_base (terms, non-member terms,
// positions, login shell, program) and groups under ldap_groups_base.
//
// Every edit is made on the caller's own GSSAPI-bound connection, so the
// directory's access rules decide what they may change (office registers
// terms, members change their own shell, syscom manages groups and
// positions); a refusal comes back as ErrPermission.
//
// Each call runs with the Directory's timeout and honours its context; a
// connection the server dropped is dialled again once.
package members

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/csclub/ceo/ceo/terms"
)

// Errors callers branch on. Each is wrapped with what was being done.
var (
	ErrNoSuchMember = errors.New("no such member")
	ErrNoSuchGroup  = errors.New("no such group")
	ErrPermission   = errors.New("permission denied by the directory")
	ErrUnavailable  = errors.New("the directory is not answering")
	ErrInvalid      = errors.New("invalid value")
)

// Member is one entry of the users base.
type Member struct {
	DN             string
	UID            string
	Name           string // cn
	Program        string
	Terms          []terms.Term // sorted
	NonMemberTerms []terms.Term // sorted
	Positions      []string
	Shell          string
	Home           string
	UIDNumber      int
	Club           bool // objectClass club rather than member
}

// Registered reports whether m holds t as a term or a non-member term.
func (m *Member) Registered(t terms.Term) bool {
	return terms.Contains(m.Terms, t) || terms.Contains(m.NonMemberTerms, t)
}

// LastTerm is the latest term or non-member term, and false if none.
func (m *Member) LastTerm() (terms.Term, bool) {
	return terms.Max(append(slices.Clone(m.Terms), m.NonMemberTerms...))
}

var memberAttrs = []string{"uid", "cn", "program", "term", "nonMemberTerm", "position",
	"loginShell", "homeDirectory", "uidNumber", "objectClass"}

// Dialer makes a fresh bound connection, used when the server dropped the
// previous one.
type Dialer func(ctx context.Context) (*ldap.Conn, error)

// Directory is the member directory seen through one user's connection.
// It is safe for concurrent use.
type Directory struct {
	usersBase, groupsBase string
	timeout               time.Duration
	dial                  Dialer

	mu   sync.Mutex
	conn *ldap.Conn
}

// Options tune New. The zero value is valid.
type Options struct {
	Timeout time.Duration // per call; 0 means 30s
	Redial  Dialer        // nil: a dropped connection stays an error
}

// New wraps a bound connection.
func New(conn *ldap.Conn, usersBase, groupsBase string, opts Options) *Directory {
	if opts.Timeout <= 0 {
		opts.Timeout = 30 * time.Second
	}
	return &Directory{usersBase: usersBase, groupsBase: groupsBase, timeout: opts.Timeout, dial: opts.Redial, conn: conn}
}

// Close closes the connection.
func (d *Directory) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.conn != nil {
		return d.conn.Close()
	}
	return nil
}

// UserDN is the DN of a user name.
func (d *Directory) UserDN(uid string) string {
	return "uid=" + ldap.EscapeDN(uid) + "," + d.usersBase
}

// GroupDN is the DN of a group name.
func (d *Directory) GroupDN(cn string) string {
	return "cn=" + ldap.EscapeDN(cn) + "," + d.groupsBase
}

func (d *Directory) current() *ldap.Conn {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.conn
}

// do runs fn on the connection off the caller's goroutine, bounded by
// the timeout and ctx, and redials once after a network error.
func (d *Directory) do(ctx context.Context, fn func(*ldap.Conn) error) error {
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	run := func(c *ldap.Conn) error {
		done := make(chan error, 1)
		go func() { done <- fn(c) }()
		select {
		case err := <-done:
			return err
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("%w (no answer in %v)", ErrUnavailable, d.timeout)
			}
			return ctx.Err()
		}
	}
	c := d.current()
	if c == nil && d.dial == nil {
		return fmt.Errorf("%w: not connected", ErrUnavailable)
	}
	var err error
	if c != nil {
		err = run(c)
		if !ldap.IsErrorWithCode(err, ldap.ErrorNetwork) || d.dial == nil {
			return err
		}
	}
	nc, derr := d.dial(ctx)
	if derr != nil {
		return fmt.Errorf("%w: %v", ErrUnavailable, derr)
	}
	d.mu.Lock()
	if d.conn != nil {
		d.conn.Close()
	}
	d.conn = nc
	d.mu.Unlock()
	return run(nc)
}

// plain maps LDAP result codes to this package's errors.
func plain(err error) error {
	var le *ldap.Error
	if !errors.As(err, &le) {
		return err
	}
	switch le.ResultCode {
	case ldap.LDAPResultInsufficientAccessRights, ldap.LDAPResultStrongAuthRequired,
		ldap.LDAPResultConfidentialityRequired, ldap.LDAPResultUnwillingToPerform:
		return ErrPermission
	case ldap.ErrorNetwork:
		return fmt.Errorf("%w (%v)", ErrUnavailable, le.Err)
	case ldap.LDAPResultInvalidAttributeSyntax, ldap.LDAPResultConstraintViolation,
		ldap.LDAPResultObjectClassViolation, ldap.LDAPResultUndefinedAttributeType:
		return fmt.Errorf("%w (%v)", ErrInvalid, le.Err)
	}
	return err
}

func (d *Directory) search(ctx context.Context, base, filter string, attrs []string) ([]*ldap.Entry, error) {
	var res *ldap.SearchResult
	err := d.do(ctx, func(c *ldap.Conn) error {
		var err error
		res, err = c.Search(ldap.NewSearchRequest(base, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases,
			0, 0, false, filter, attrs, nil))
		return err
	})
	if err != nil {
		if ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
			return nil, nil
		}
		return nil, plain(err)
	}
	return res.Entries, nil
}

func (d *Directory) modify(ctx context.Context, req *ldap.ModifyRequest) error {
	return d.do(ctx, func(c *ldap.Conn) error { return c.Modify(req) })
}

func toMember(e *ldap.Entry) Member {
	m := Member{
		DN:        e.DN,
		UID:       e.GetAttributeValue("uid"),
		Name:      e.GetAttributeValue("cn"),
		Program:   e.GetAttributeValue("program"),
		Positions: e.GetAttributeValues("position"),
		Shell:     e.GetAttributeValue("loginShell"),
		Home:      e.GetAttributeValue("homeDirectory"),
	}
	m.UIDNumber, _ = strconv.Atoi(e.GetAttributeValue("uidNumber"))
	ts, _ := terms.ParseAll(e.GetAttributeValues("term"))
	m.Terms = terms.Sorted(ts)
	nts, _ := terms.ParseAll(e.GetAttributeValues("nonMemberTerm"))
	m.NonMemberTerms = terms.Sorted(nts)
	for _, oc := range e.GetAttributeValues("objectClass") {
		if strings.EqualFold(oc, "club") {
			m.Club = true
		}
	}
	return m
}

func toMembers(es []*ldap.Entry) []Member {
	out := make([]Member, 0, len(es))
	for _, e := range es {
		out = append(out, toMember(e))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].UID < out[j].UID })
	return out
}

// Get returns the entry of uid, or an error wrapping ErrNoSuchMember.
func (d *Directory) Get(ctx context.Context, uid string) (*Member, error) {
	if uid == "" {
		return nil, fmt.Errorf("looking up a member: %w: empty username", ErrInvalid)
	}
	es, err := d.search(ctx, d.usersBase, "(uid="+ldap.EscapeFilter(uid)+")", memberAttrs)
	if err != nil {
		return nil, fmt.Errorf("looking up %s: %w", uid, err)
	}
	if len(es) == 0 {
		return nil, fmt.Errorf("%w: %s", ErrNoSuchMember, uid)
	}
	m := toMember(es[0])
	return &m, nil
}

// ByTerm lists the members registered (term, not nonMemberTerm) for t,
// sorted by user name.
func (d *Directory) ByTerm(ctx context.Context, t terms.Term) ([]Member, error) {
	es, err := d.search(ctx, d.usersBase, "(&(objectClass=member)(term="+t.String()+"))", memberAttrs)
	if err != nil {
		return nil, fmt.Errorf("listing members of %s: %w", t, err)
	}
	return toMembers(es), nil
}

// ByName lists entries whose name contains every word of name (any case),
// or sounds like it (the legacy search was an approximate match).
func (d *Directory) ByName(ctx context.Context, name string) ([]Member, error) {
	words := strings.Fields(name)
	if len(words) == 0 {
		return nil, fmt.Errorf("searching by name: %w: empty name", ErrInvalid)
	}
	var f strings.Builder
	f.WriteString("(&(|(objectClass=member)(objectClass=club))(|(&")
	for _, w := range words {
		f.WriteString("(cn=*" + ldap.EscapeFilter(w) + "*)")
	}
	f.WriteString(")(cn~=" + ldap.EscapeFilter(strings.Join(words, " ")) + ")))")
	es, err := d.search(ctx, d.usersBase, f.String(), memberAttrs)
	if err != nil {
		return nil, fmt.Errorf("searching by name: %w", err)
	}
	return toMembers(es), nil
}

// All lists every member (objectClass member).
func (d *Directory) All(ctx context.Context) ([]Member, error) {
	es, err := d.search(ctx, d.usersBase, "(objectClass=member)", memberAttrs)
	if err != nil {
		return nil, fmt.Errorf("listing members: %w", err)
	}
	return toMembers(es), nil
}

// NotRegistered lists the members registered (term or nonMemberTerm) for
// none of the terms in ts. If since is not empty, only those registered
// for at least one of since are listed; with since empty it is the legacy
// expired-accounts query (every member not registered for ts).
func (d *Directory) NotRegistered(ctx context.Context, ts []terms.Term, since []terms.Term) ([]Member, error) {
	var f strings.Builder
	f.WriteString("(&(objectClass=member)(!(|")
	for _, t := range ts {
		f.WriteString("(term=" + t.String() + ")(nonMemberTerm=" + t.String() + ")")
	}
	f.WriteString("))")
	if len(since) > 0 {
		f.WriteString("(|")
		for _, t := range since {
			f.WriteString("(term=" + t.String() + ")(nonMemberTerm=" + t.String() + ")")
		}
		f.WriteString(")")
	}
	f.WriteString(")")
	es, err := d.search(ctx, d.usersBase, f.String(), memberAttrs)
	if err != nil {
		return nil, fmt.Errorf("listing expired members: %w", err)
	}
	return toMembers(es), nil
}

// Group is one entry of the groups base.
type Group struct {
	Name    string
	GID     int
	Members []string // user names, from memberUid and uniqueMember, sorted
}

var groupAttrs = []string{"cn", "gidNumber", "memberUid", "uniqueMember"}

func (d *Directory) toGroup(e *ldap.Entry) Group {
	g := Group{Name: e.GetAttributeValue("cn")}
	g.GID, _ = strconv.Atoi(e.GetAttributeValue("gidNumber"))
	seen := map[string]bool{}
	for _, u := range e.GetAttributeValues("memberUid") {
		seen[u] = true
	}
	for _, dn := range e.GetAttributeValues("uniqueMember") {
		if u := uidOfDN(dn); u != "" {
			seen[u] = true
		}
	}
	for u := range seen {
		g.Members = append(g.Members, u)
	}
	sort.Strings(g.Members)
	return g
}

// uidOfDN returns NAME of uid=NAME,... or "".
func uidOfDN(dn string) string {
	p, err := ldap.ParseDN(dn)
	if err != nil || len(p.RDNs) == 0 {
		return ""
	}
	for _, a := range p.RDNs[0].Attributes {
		if strings.EqualFold(a.Type, "uid") {
			return a.Value
		}
	}
	return ""
}

// GetGroup returns the group called name, or an error wrapping
// ErrNoSuchGroup.
func (d *Directory) GetGroup(ctx context.Context, name string) (*Group, error) {
	es, err := d.search(ctx, d.groupsBase, "(&(objectClass=posixGroup)(cn="+ldap.EscapeFilter(name)+"))", groupAttrs)
	if err != nil {
		return nil, fmt.Errorf("looking up group %s: %w", name, err)
	}
	if len(es) == 0 {
		return nil, fmt.Errorf("%w: %s", ErrNoSuchGroup, name)
	}
	g := d.toGroup(es[0])
	return &g, nil
}

// Groups lists the groups uid belongs to (by memberUid or uniqueMember).
func (d *Directory) Groups(ctx context.Context, uid string) ([]string, error) {
	f := "(|(memberUid=" + ldap.EscapeFilter(uid) + ")(uniqueMember=" + ldap.EscapeFilter(d.UserDN(uid)) + "))"
	es, err := d.search(ctx, d.groupsBase, f, []string{"cn"})
	if err != nil {
		return nil, fmt.Errorf("listing the groups of %s: %w", uid, err)
	}
	var out []string
	for _, e := range es {
		out = append(out, e.GetAttributeValue("cn"))
	}
	sort.Strings(out)
	return out, nil
}

// ByGroup lists the entries of the members of group.
func (d *Directory) ByGroup(ctx context.Context, group string) ([]Member, error) {
	g, err := d.GetGroup(ctx, group)
	if err != nil {
		return nil, err
	}
	var out []Member
	for _, u := range g.Members {
		m, err := d.Get(ctx, u)
		if errors.Is(err, ErrNoSuchMember) {
			continue // a stale group member
		}
		if err != nil {
			return nil, err
		}
		out = append(out, *m)
	}
	return out, nil
}

// AddTerms registers uid for ts (attribute term), skipping terms already
// there, as the legacy register did.
func (d *Directory) AddTerms(ctx context.Context, uid string, ts []terms.Term) error {
	return d.addTerms(ctx, uid, ts, "term")
}

// AddNonMemberTerms registers uid as a club rep for ts (nonMemberTerm),
// skipping terms already held as either kind.
func (d *Directory) AddNonMemberTerms(ctx context.Context, uid string, ts []terms.Term) error {
	return d.addTerms(ctx, uid, ts, "nonMemberTerm")
}

func (d *Directory) addTerms(ctx context.Context, uid string, ts []terms.Term, attr string) error {
	what := "registering " + uid
	m, err := d.Get(ctx, uid)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	var add []string
	for _, t := range terms.Sorted(ts) {
		if terms.Contains(m.Terms, t) || (attr == "nonMemberTerm" && terms.Contains(m.NonMemberTerms, t)) {
			continue
		}
		add = append(add, t.String())
	}
	if len(add) == 0 {
		return nil
	}
	req := ldap.NewModifyRequest(m.DN, nil)
	req.Add(attr, add)
	if err := d.modify(ctx, req); err != nil {
		return fmt.Errorf("%s for %s: %w", what, strings.Join(add, ", "), plain(err))
	}
	return nil
}

// Shells reads the shells a member may choose from shells_file: absolute
// paths, no comments, executable on this host (as legacy).
func Shells(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the list of shells: %w", err)
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || l[0] != '/' || strings.Contains(l, "#") {
			continue
		}
		if st, err := os.Stat(l); err != nil || st.IsDir() || st.Mode().Perm()&0o111 == 0 {
			continue
		}
		out = append(out, l)
	}
	return out, nil
}

// SetShell sets uid's login shell; shell must be one of allowed.
func (d *Directory) SetShell(ctx context.Context, uid, shell string, allowed []string) error {
	if !slices.Contains(allowed, shell) {
		return fmt.Errorf("changing the shell of %s: %w: %s is not an allowed shell", uid, ErrInvalid, shell)
	}
	req := ldap.NewModifyRequest(d.UserDN(uid), nil)
	req.Replace("loginShell", []string{shell})
	if err := d.modify(ctx, req); err != nil {
		if ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
			return fmt.Errorf("changing the shell of %s: %w", uid, ErrNoSuchMember)
		}
		return fmt.Errorf("changing the shell of %s: %w", uid, plain(err))
	}
	return nil
}

// SetProgram replaces uid's program; "" removes it.
func (d *Directory) SetProgram(ctx context.Context, uid, program string) error {
	req := ldap.NewModifyRequest(d.UserDN(uid), nil)
	if program == "" {
		req.Delete("program", nil)
	} else {
		req.Replace("program", []string{program})
	}
	if err := d.modify(ctx, req); err != nil && !ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchAttribute) {
		return fmt.Errorf("changing the program of %s: %w", uid, plain(err))
	}
	return nil
}

// AddGroupMember adds uid to group (uniqueMember and memberUid).
func (d *Directory) AddGroupMember(ctx context.Context, group, uid string) error {
	return d.changeGroup(ctx, group, uid, true)
}

// RemoveGroupMember removes uid from group.
func (d *Directory) RemoveGroupMember(ctx context.Context, group, uid string) error {
	return d.changeGroup(ctx, group, uid, false)
}

func (d *Directory) changeGroup(ctx context.Context, group, uid string, add bool) error {
	verb := "adding " + uid + " to " + group
	if !add {
		verb = "removing " + uid + " from " + group
	}
	g, err := d.GetGroup(ctx, group)
	if err != nil {
		return fmt.Errorf("%s: %w", verb, err)
	}
	if add {
		if _, err := d.Get(ctx, uid); err != nil {
			return fmt.Errorf("%s: %w", verb, err)
		}
	}
	// Read the raw values so we touch only what is there.
	es, err := d.search(ctx, d.GroupDN(g.Name), "(objectClass=*)", []string{"memberUid", "uniqueMember"})
	if err != nil || len(es) == 0 {
		return fmt.Errorf("%s: %w", verb, ErrNoSuchGroup)
	}
	hasUID := slices.Contains(es[0].GetAttributeValues("memberUid"), uid)
	var dns []string
	for _, dn := range es[0].GetAttributeValues("uniqueMember") {
		if uidOfDN(dn) == uid {
			dns = append(dns, dn)
		}
	}
	req := ldap.NewModifyRequest(d.GroupDN(g.Name), nil)
	switch {
	case add && hasUID && len(dns) > 0:
		return fmt.Errorf("%s: %s is already a member", verb, uid)
	case add:
		if !hasUID {
			req.Add("memberUid", []string{uid})
		}
		if len(dns) == 0 {
			req.Add("uniqueMember", []string{d.UserDN(uid)})
		}
	case !hasUID && len(dns) == 0:
		return fmt.Errorf("%s: %s is not a member", verb, uid)
	default:
		if hasUID {
			req.Delete("memberUid", []string{uid})
		}
		if len(dns) > 0 {
			req.Delete("uniqueMember", dns)
		}
	}
	if err := d.modify(ctx, req); err != nil {
		return fmt.Errorf("%s: %w", verb, plain(err))
	}
	return nil
}

// Positions are the club's positions, in display order, as legacy.
var Positions = []struct{ ID, Title string }{
	{"president", "President"},
	{"vice-president", "Vice-president"},
	{"treasurer", "Treasurer"},
	{"secretary", "Secretary"},
	{"sysadmin", "System Administrator"},
	{"cro", "Chief Returning Officer"},
	{"librarian", "Librarian"},
	{"imapd", "Imapd"},
	{"webmaster", "Web Master"},
	{"offsck", "Office Manager"},
}

// HoldersOf maps each position to the sorted user names holding it.
func (d *Directory) HoldersOf(ctx context.Context) (map[string][]string, error) {
	es, err := d.search(ctx, d.usersBase, "(position=*)", []string{"uid", "position"})
	if err != nil {
		return nil, fmt.Errorf("listing positions: %w", err)
	}
	out := map[string][]string{}
	for _, e := range es {
		for _, p := range e.GetAttributeValues("position") {
			out[p] = append(out[p], e.GetAttributeValue("uid"))
		}
	}
	for _, v := range out {
		sort.Strings(v)
	}
	return out, nil
}

// SetPosition makes uids the holders of position: it removes the
// position from those who hold it and are not in uids and adds it to
// the others. Every uid must exist.
func (d *Directory) SetPosition(ctx context.Context, position string, uids []string) error {
	what := "setting position " + position
	es, err := d.search(ctx, d.usersBase, "(&(objectClass=member)(position="+ldap.EscapeFilter(position)+"))", []string{"uid"})
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	old := map[string]bool{}
	for _, e := range es {
		old[e.GetAttributeValue("uid")] = true
	}
	want := map[string]bool{}
	for _, u := range uids {
		if u = strings.TrimSpace(u); u != "" {
			want[u] = true
		}
	}
	var add, del []string
	for u := range want {
		if !old[u] {
			if _, err := d.Get(ctx, u); err != nil {
				return fmt.Errorf("%s: %w", what, err)
			}
			add = append(add, u)
		}
	}
	for u := range old {
		if !want[u] {
			del = append(del, u)
		}
	}
	sort.Strings(add)
	sort.Strings(del)
	for _, u := range del {
		req := ldap.NewModifyRequest(d.UserDN(u), nil)
		req.Delete("position", []string{position})
		if err := d.modify(ctx, req); err != nil {
			return fmt.Errorf("%s: removing it from %s: %w", what, u, plain(err))
		}
	}
	for _, u := range add {
		req := ldap.NewModifyRequest(d.UserDN(u), nil)
		req.Add("position", []string{position})
		if err := d.modify(ctx, req); err != nil {
			return fmt.Errorf("%s: giving it to %s: %w", what, u, plain(err))
		}
	}
	return nil
}

// Forward reads the mail forward in m's ~/.forward: its single address,
// or "" if there is none, it cannot be read, or it is not one address
// (the legacy front end then left it alone).
func Forward(m *Member) string {
	if m.Home == "" {
		return ""
	}
	b, err := os.ReadFile(filepath.Join(m.Home, ".forward"))
	if err != nil {
		return ""
	}
	s := strings.TrimSpace(string(b))
	if CheckForward(s) != nil {
		return ""
	}
	return s
}

// CheckForward checks a mail forward as the legacy front end did: one
// address, user@host, without the characters .forward treats specially.
// The mail op checks again on the server.
func CheckForward(addr string) error {
	if addr == "" {
		return nil
	}
	if strings.ContainsAny(addr, " \t\r\n") {
		return fmt.Errorf("%w: a forwarding address cannot contain spaces", ErrInvalid)
	}
	for _, c := range []string{`"`, "'", ",", "|", "$", "/", "#", ":"} {
		if strings.Contains(addr, c) {
			return fmt.Errorf("%w: invalid character in address: %s", ErrInvalid, c)
		}
	}
	at := strings.LastIndexByte(addr, '@')
	if at <= 0 || at == len(addr)-1 {
		return fmt.Errorf("%w: invalid email address", ErrInvalid)
	}
	return nil
}
