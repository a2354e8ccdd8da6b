// Package members reads and edits the club's directory as the person
// using ceo: member entries under ldap_users_base (terms, non-member terms,
// positions, login shell, program) and groups under ldap_groups_base.
//
// It is built on ops/directory, which owns the DNs, object classes,
// attribute lists and the pooled, reconnecting connection; this package
// adds the front end's queries and edits. Every edit is made on the
// caller's own GSSAPI-bound connections, so the directory's access rules
// decide what they may change (office registers terms, members change
// their own shell, syscom manages groups and positions); a refusal comes
// back as ErrPermission. Every listing is a paged search.
package members

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/go-ldap/ldap/v3"

	"github.com/csclub/ceo/ceo/terms"
	"github.com/csclub/ceo/ops/directory"
)

// Errors callers branch on. Each is wrapped with what was being done.
var (
	ErrNoSuchMember = errors.New("no such member")
	ErrNoSuchGroup  = errors.New("no such group")
	ErrPermission   = errors.New("permission denied by the directory")
	ErrUnavailable  = directory.ErrUnavailable
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

// Directory is the member directory seen through one user's
// connections. It is safe for concurrent use.
type Directory struct {
	dir *directory.Client
}

// New wraps a directory client bound as the person using ceo.
func New(c *directory.Client) *Directory { return &Directory{dir: c} }

// Dial connects to the directory cfg describes (cfg.Bind authenticates
// as the person using ceo) and checks the connection once.
func Dial(ctx context.Context, cfg directory.Config) (*Directory, error) {
	c, err := directory.Dial(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return New(c), nil
}

// Close closes the connections.
func (d *Directory) Close() error { return d.dir.Close() }

// UserDN is the DN of a user name.
func (d *Directory) UserDN(uid string) string { return d.dir.UserDN(uid) }

// GroupDN is the DN of a group name.
func (d *Directory) GroupDN(cn string) string { return d.dir.GroupDN(cn) }

// plain maps LDAP result codes to this package's errors.
func plain(err error) error {
	var le *ldap.Error
	if !errors.As(err, &le) || errors.Is(err, ErrUnavailable) || errors.Is(err, directory.ErrLimit) {
		return err
	}
	switch le.ResultCode {
	case ldap.LDAPResultInsufficientAccessRights, ldap.LDAPResultStrongAuthRequired,
		ldap.LDAPResultConfidentialityRequired, ldap.LDAPResultUnwillingToPerform:
		return ErrPermission
	case ldap.LDAPResultInvalidAttributeSyntax, ldap.LDAPResultConstraintViolation,
		ldap.LDAPResultObjectClassViolation, ldap.LDAPResultUndefinedAttributeType:
		return fmt.Errorf("%w (%v)", ErrInvalid, le.Err)
	}
	return err
}

func toMember(u *directory.User) Member {
	m := Member{
		DN:        u.DN,
		UID:       u.Name,
		Name:      u.RealName,
		Program:   u.Program,
		Positions: u.Positions,
		Shell:     u.Shell,
		Home:      u.Home,
		UIDNumber: u.UID,
		Club:      u.Club,
	}
	ts, _ := terms.ParseAll(u.Terms)
	m.Terms = terms.Sorted(ts)
	nts, _ := terms.ParseAll(u.NonMemberTerms)
	m.NonMemberTerms = terms.Sorted(nts)
	return m
}

// find lists the users matching filter, sorted by user name.
func (d *Directory) find(ctx context.Context, filter string) ([]Member, error) {
	us, err := d.dir.SearchUsers(ctx, filter)
	if err != nil {
		return nil, plain(err)
	}
	out := make([]Member, 0, len(us))
	for _, u := range us {
		out = append(out, toMember(u))
	}
	slices.SortFunc(out, func(a, b Member) int { return strings.Compare(a.UID, b.UID) })
	return out, nil
}

// Get returns the entry of uid, or an error wrapping ErrNoSuchMember.
func (d *Directory) Get(ctx context.Context, uid string) (*Member, error) {
	if uid == "" {
		return nil, fmt.Errorf("looking up a member: %w: empty username", ErrInvalid)
	}
	ms, err := d.find(ctx, "(uid="+ldap.EscapeFilter(uid)+")")
	if err != nil {
		return nil, fmt.Errorf("looking up %s: %w", uid, err)
	}
	if len(ms) == 0 {
		return nil, fmt.Errorf("%w: %s", ErrNoSuchMember, uid)
	}
	return &ms[0], nil
}

// memberClass is the filter of member entries (members and club reps).
const memberClass = "(objectClass=" + directory.ClassMember + ")"

// ByTerm lists the members registered (term, not nonMemberTerm) for t,
// sorted by user name.
func (d *Directory) ByTerm(ctx context.Context, t terms.Term) ([]Member, error) {
	ms, err := d.find(ctx, "(&"+memberClass+"(term="+t.String()+"))")
	if err != nil {
		return nil, fmt.Errorf("listing members of %s: %w", t, err)
	}
	return ms, nil
}

// ByName lists entries whose name contains every word of name (any case),
// or sounds like it (the legacy search was an approximate match).
func (d *Directory) ByName(ctx context.Context, name string) ([]Member, error) {
	words := strings.Fields(name)
	if len(words) == 0 {
		return nil, fmt.Errorf("searching by name: %w: empty name", ErrInvalid)
	}
	var f strings.Builder
	f.WriteString("(&(|" + memberClass + "(objectClass=" + directory.ClassClub + "))(|(&")
	for _, w := range words {
		f.WriteString("(cn=*" + ldap.EscapeFilter(w) + "*)")
	}
	f.WriteString(")(cn~=" + ldap.EscapeFilter(strings.Join(words, " ")) + ")))")
	ms, err := d.find(ctx, f.String())
	if err != nil {
		return nil, fmt.Errorf("searching by name: %w", err)
	}
	return ms, nil
}

// All lists every member (objectClass member).
func (d *Directory) All(ctx context.Context) ([]Member, error) {
	ms, err := d.find(ctx, memberClass)
	if err != nil {
		return nil, fmt.Errorf("listing members: %w", err)
	}
	return ms, nil
}

// NotRegistered lists the members registered (term or nonMemberTerm) for
// none of the terms in ts. If since is not empty, only those registered
// for at least one of since are listed; with since empty it is the legacy
// expired-accounts query (every member not registered for ts).
func (d *Directory) NotRegistered(ctx context.Context, ts []terms.Term, since []terms.Term) ([]Member, error) {
	var f strings.Builder
	f.WriteString("(&" + memberClass + "(!(|")
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
	ms, err := d.find(ctx, f.String())
	if err != nil {
		return nil, fmt.Errorf("listing expired members: %w", err)
	}
	return ms, nil
}
