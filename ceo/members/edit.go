package members

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/go-ldap/ldap/v3"

	"github.com/csclub/ceo/ceo/terms"
	"github.com/csclub/ceo/ops/directory"
	"github.com/csclub/ceo/ops/member"
)

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
	if err := d.dir.Modify(ctx, req); err != nil {
		return fmt.Errorf("%s for %s: %w", what, strings.Join(add, ", "), plain(err))
	}
	return nil
}

// Shells reads the shells a member may choose from shells_file (see
// ops/member.Shells, which ceod's shell op checks against).
func Shells(path string) ([]string, error) { return member.Shells(path) }

// SetShell sets uid's login shell; shell must be one of allowed.
func (d *Directory) SetShell(ctx context.Context, uid, shell string, allowed []string) error {
	if !slices.Contains(allowed, shell) {
		return fmt.Errorf("changing the shell of %s: %w: %s is not an allowed shell", uid, ErrInvalid, shell)
	}
	req := ldap.NewModifyRequest(d.UserDN(uid), nil)
	req.Replace("loginShell", []string{shell})
	if err := d.dir.Modify(ctx, req); err != nil {
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
	if err := d.dir.Modify(ctx, req); err != nil && !ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchAttribute) {
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
	e, err := d.dir.Read(ctx, d.GroupDN(g.Name), "memberUid", "uniqueMember")
	if err != nil {
		return fmt.Errorf("%s: %w", verb, ErrNoSuchGroup)
	}
	hasUID := slices.Contains(e.GetAttributeValues("memberUid"), uid)
	var dns []string
	for _, dn := range e.GetAttributeValues("uniqueMember") {
		if directory.UIDOfDN(dn) == uid {
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
	if err := d.dir.Modify(ctx, req); err != nil {
		return fmt.Errorf("%s: %w", verb, plain(err))
	}
	return nil
}

// Positions are the club's positions, in display order (ceod's
// positions op accepts these).
var Positions = member.Positions

// HoldersOf maps each position to the sorted user names holding it.
func (d *Directory) HoldersOf(ctx context.Context) (map[string][]string, error) {
	ms, err := d.find(ctx, "(position=*)")
	if err != nil {
		return nil, fmt.Errorf("listing positions: %w", err)
	}
	out := map[string][]string{}
	for _, m := range ms {
		for _, p := range m.Positions {
			out[p] = append(out[p], m.UID)
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
	ms, err := d.find(ctx, "(&"+memberClass+"(position="+ldap.EscapeFilter(position)+"))")
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	old := map[string]bool{}
	for _, m := range ms {
		old[m.UID] = true
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
		if err := d.dir.Modify(ctx, req); err != nil {
			return fmt.Errorf("%s: removing it from %s: %w", what, u, plain(err))
		}
	}
	for _, u := range add {
		req := ldap.NewModifyRequest(d.UserDN(u), nil)
		req.Add("position", []string{position})
		if err := d.dir.Modify(ctx, req); err != nil {
			return fmt.Errorf("%s: giving it to %s: %w", what, u, plain(err))
		}
	}
	return nil
}
