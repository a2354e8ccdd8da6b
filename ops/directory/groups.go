package directory

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"

	"github.com/go-ldap/ldap/v3"
)

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

// GroupExists reports whether any entry under the groups base has cn
// name, posixGroup or not.
func (c *Client) GroupExists(ctx context.Context, name string) (bool, error) {
	return c.exists(ctx, "group "+name, subtree(c.cfg.GroupsBase, "(cn="+ldap.EscapeFilter(name)+")"))
}

// Group is a group under the groups base.
type Group struct {
	Name    string
	GID     int
	Members []string // user names, stored as memberUid and uniqueMember
}

// LookupGroup returns the posixGroup called name, with the members it
// lists by memberUid or uniqueMember (merged, sorted), or an error
// wrapping ErrNotFound.
func (c *Client) LookupGroup(ctx context.Context, name string) (*Group, error) {
	filter := fmt.Sprintf("(&(objectClass=%s)(cn=%s))", ClassGroup, ldap.EscapeFilter(name))
	entries, err := c.Search(ctx, c.cfg.GroupsBase, filter, GroupAttrs()...)
	if err != nil {
		return nil, fmt.Errorf("directory: looking up group %s: %w", name, err)
	}
	if len(entries) == 0 {
		return nil, fmt.Errorf("directory: group %s: %w", name, ErrNotFound)
	}
	e := entries[0]
	g := &Group{Name: e.GetAttributeValue("cn")}
	g.GID, _ = strconv.Atoi(e.GetAttributeValue("gidNumber"))
	seen := map[string]bool{}
	for _, u := range e.GetAttributeValues("memberUid") {
		seen[u] = true
	}
	for _, dn := range e.GetAttributeValues("uniqueMember") {
		if u := UIDOfDN(dn); u != "" {
			seen[u] = true
		}
	}
	g.Members = slices.Sorted(maps.Keys(seen))
	return g, nil
}

// GroupsOf returns the names of the groups that list user by memberUid
// or uniqueMember, sorted.
func (c *Client) GroupsOf(ctx context.Context, user string) ([]string, error) {
	filter := "(|(memberUid=" + ldap.EscapeFilter(user) + ")(uniqueMember=" + ldap.EscapeFilter(c.UserDN(user)) + "))"
	entries, err := c.Search(ctx, c.cfg.GroupsBase, filter, "cn")
	if err != nil {
		return nil, fmt.Errorf("directory: listing the groups of %s: %w", user, err)
	}
	out := make([]string, 0, len(entries))
	for _, e := range entries {
		out = append(out, e.GetAttributeValue("cn"))
	}
	slices.Sort(out)
	return out, nil
}

// AddGroup adds g as the legacy adduser does: objectClass top, group,
// posixGroup; cn, gidNumber; and each member as memberUid and as
// uniqueMember (the user's DN).
func (c *Client) AddGroup(ctx context.Context, g *Group) error {
	req := ldap.NewAddRequest(c.GroupDN(g.Name), nil)
	req.Attribute("objectClass", groupClasses())
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

// DeleteGroupWithID is DeleteUserWithID for the group called name and
// its gidNumber.
func (c *Client) DeleteGroupWithID(ctx context.Context, name string, id int) error {
	return c.deleteIf(ctx, c.GroupDN(name), "gidNumber", id)
}
