package members

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/go-ldap/ldap/v3"

	"github.com/csclub/ceo/ops/directory"
)

// Group is one entry of the groups base.
type Group struct {
	Name    string
	GID     int
	Members []string // user names, from memberUid and uniqueMember, sorted
}

// GetGroup returns the group called name, or an error wrapping
// ErrNoSuchGroup.
func (d *Directory) GetGroup(ctx context.Context, name string) (*Group, error) {
	g, err := d.dir.LookupGroup(ctx, name)
	if errors.Is(err, directory.ErrNotFound) {
		return nil, fmt.Errorf("%w: %s", ErrNoSuchGroup, name)
	}
	if err != nil {
		return nil, fmt.Errorf("looking up group %s: %w", name, plain(err))
	}
	return &Group{Name: g.Name, GID: g.GID, Members: g.Members}, nil
}

// Groups lists the groups uid belongs to (by memberUid or uniqueMember).
func (d *Directory) Groups(ctx context.Context, uid string) ([]string, error) {
	gs, err := d.dir.GroupsOf(ctx, uid)
	if err != nil {
		return nil, fmt.Errorf("listing the groups of %s: %w", uid, plain(err))
	}
	return gs, nil
}

// uidsPerSearch bounds the names ByGroup asks for in one filter: a big
// group is read in a few searches, not one per member, and each filter
// stays a few kilobytes.
const uidsPerSearch = 200

// ByGroup lists the entries of the members of group, sorted by user
// name. Members without an entry (stale group members) are left out.
func (d *Directory) ByGroup(ctx context.Context, group string) ([]Member, error) {
	g, err := d.GetGroup(ctx, group)
	if err != nil {
		return nil, err
	}
	var out []Member
	for chunk := range slices.Chunk(g.Members, uidsPerSearch) {
		var f strings.Builder
		f.WriteString("(|")
		for _, u := range chunk {
			f.WriteString("(uid=" + ldap.EscapeFilter(u) + ")")
		}
		f.WriteString(")")
		ms, err := d.find(ctx, f.String())
		if err != nil {
			return nil, fmt.Errorf("listing the members of %s: %w", group, err)
		}
		out = append(out, ms...)
	}
	slices.SortFunc(out, func(a, b Member) int { return strings.Compare(a.UID, b.UID) })
	return out, nil
}
