package directory

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/go-ldap/ldap/v3"
)

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
	Positions      []string // club positions held, e.g. president
}

// decodeUser reads an entry fetched with UserAttrs. A uidNumber or
// gidNumber that is not a number is an error, reported together with
// the rest of the user so that listings can keep it.
func decodeUser(e *ldap.Entry) (*User, error) {
	u := &User{
		Name:           e.GetAttributeValue("uid"),
		DN:             e.DN,
		RealName:       e.GetAttributeValue("cn"),
		Home:           e.GetAttributeValue("homeDirectory"),
		Shell:          e.GetAttributeValue("loginShell"),
		Program:        e.GetAttributeValue("program"),
		Terms:          e.GetAttributeValues("term"),
		NonMemberTerms: e.GetAttributeValues("nonMemberTerm"),
		Positions:      e.GetAttributeValues("position"),
	}
	for _, oc := range e.GetAttributeValues("objectClass") {
		if strings.EqualFold(oc, ClassClub) {
			u.Club = true
		}
	}
	var err error
	if u.UID, err = strconv.Atoi(e.GetAttributeValue("uidNumber")); err != nil {
		return u, fmt.Errorf("directory: user %s: bad uidNumber %q", u.Name, e.GetAttributeValue("uidNumber"))
	}
	if u.GID, err = strconv.Atoi(e.GetAttributeValue("gidNumber")); err != nil {
		return u, fmt.Errorf("directory: user %s: bad gidNumber %q", u.Name, e.GetAttributeValue("gidNumber"))
	}
	return u, nil
}

// LookupUser returns the account called name (a posixAccount with that
// uid under the users base), or an error wrapping ErrNotFound.
func (c *Client) LookupUser(ctx context.Context, name string) (*User, error) {
	filter := fmt.Sprintf("(&(objectClass=%s)(uid=%s))", ClassAccount, ldap.EscapeFilter(name))
	entries, err := c.search(ctx, subtree(c.cfg.UsersBase, filter, UserAttrs()...))
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
	return decodeUser(entries[0])
}

// SearchUsers returns the entries under the users base that match
// filter, in the server's order, read with paged searches. Entries whose
// numbers do not parse are kept with zero numbers: one bad entry must
// not hide the others from a listing.
func (c *Client) SearchUsers(ctx context.Context, filter string) ([]*User, error) {
	entries, err := c.Search(ctx, c.cfg.UsersBase, filter, UserAttrs()...)
	if err != nil {
		return nil, err
	}
	out := make([]*User, 0, len(entries))
	for _, e := range entries {
		u, err := decodeUser(e)
		if err != nil {
			c.log.Debug("directory: listing users", "err", err)
		}
		out = append(out, u)
	}
	return out, nil
}

// MaxCompletions bounds CompleteUsers: a prefix of one letter matches
// thousands of names, and no one reads more than a screenful.
const MaxCompletions = 1000

// CompleteUsers returns up to limit user names (of accounts under the
// users base) that start with prefix, sorted; limit <= 0 or above
// MaxCompletions means MaxCompletions. The search is paged and asks the
// server for no more than limit entries, so it stays fast in a directory
// of any size (slapd needs "index uid eq,sub" for the prefix).
func (c *Client) CompleteUsers(ctx context.Context, prefix string, limit int) ([]string, error) {
	if limit <= 0 || limit > MaxCompletions {
		limit = MaxCompletions
	}
	filter := fmt.Sprintf("(&(objectClass=%s)(uid=%s*))", ClassAccount, ldap.EscapeFilter(prefix))
	if prefix == "" {
		filter = "(&(objectClass=" + ClassAccount + ")(uid=*))"
	}
	req := subtree(c.cfg.UsersBase, filter, "uid")
	req.SizeLimit = limit
	entries, err := c.search(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("directory: completing user names: %w", err)
	}
	out := make([]string, 0, len(entries))
	for _, e := range entries {
		out = append(out, e.GetAttributeValue("uid"))
	}
	slices.Sort(out)
	return out, nil
}

// UserExists reports whether any entry under the users base has uid
// name, posixAccount or not.
func (c *Client) UserExists(ctx context.Context, name string) (bool, error) {
	return c.exists(ctx, "user "+name, subtree(c.cfg.UsersBase, "(uid="+ldap.EscapeFilter(name)+")"))
}

// AddUser adds the account u under the users base, as the legacy adduser
// does: objectClass top, account, posixAccount, shadowAccount and member
// (or club when u.Club); cn, uid, loginShell, uidNumber, gidNumber,
// homeDirectory and program if set. u.DN is filled in.
func (c *Client) AddUser(ctx context.Context, u *User) error {
	u.DN = c.UserDN(u.Name)
	req := ldap.NewAddRequest(u.DN, nil)
	req.Attribute("objectClass", userClasses(u.Club))
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
