package member

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"syscall"

	"github.com/go-ldap/ldap/v3"

	"github.com/csclub/ceo/ops"
	"github.com/csclub/ceo/ops/directory"
	"github.com/csclub/ceo/wire/ceopb"
)

// maxGroupUsers bounds one request: a screenful of names.
const maxGroupUsers = 100

func (s *server) group(r *req, in *ceopb.GroupChange) ops.Outcome {
	group := in.GetGroup()
	if ok, o := s.allow(r, "group", group); !ok {
		return o
	}
	add := in.GetAction() == ceopb.GroupChange_ADD
	users := in.GetUsernames()
	r.attrs = append(r.attrs, slog.Bool("add", add), attrStrings("users", users))
	if a := in.GetAction(); a != ceopb.GroupChange_ADD && a != ceopb.GroupChange_REMOVE {
		return r.fail(int32(syscall.EINVAL), "invalid action %d", a)
	}
	if !userName.MatchString(group) {
		return r.fail(int32(syscall.EINVAL), "invalid group name %q", group)
	}
	if len(users) == 0 || len(users) > maxGroupUsers {
		return r.fail(int32(syscall.EINVAL), "give between 1 and %d users", maxGroupUsers)
	}
	for i, u := range users {
		if slices.Contains(users[:i], u) {
			return r.fail(int32(syscall.EINVAL), "user %s given twice", u)
		}
		if !add {
			if !userName.MatchString(u) {
				return r.fail(int32(syscall.EINVAL), "invalid user name %q", u)
			}
			continue
		}
		if acc, o := s.lookup(r, u); acc == nil {
			return o
		}
	}
	var reqs, undo []*ldap.ModifyRequest
	var names []string
	for i, ch := range s.Cascades.Plan(group, add) {
		m, u, err := s.membership(r, ch.Group, users, add)
		switch {
		case errors.Is(err, directory.ErrNotFound) && i > 0:
			s.Log.Warn("cascade group does not exist", "group", ch.Group)
			continue
		case errors.Is(err, directory.ErrNotFound):
			return r.fail(int32(syscall.ENOENT), "no such group: %s", group)
		case err != nil:
			s.Log.Error("reading group failed", "group", ch.Group, "err", err)
			return r.fail(ops.ELDAP, "unable to read group %s: directory error", ch.Group)
		}
		if i == 0 {
			if bad := missing(m, users); len(bad) > 0 {
				if add {
					return r.fail(int32(syscall.EEXIST), "already in %s: %s", group, strings.Join(bad, ", "))
				}
				return r.fail(int32(syscall.ENOENT), "not in %s: %s", group, strings.Join(bad, ", "))
			}
		}
		if len(m.Changes) > 0 {
			reqs, undo, names = append(reqs, m), append(undo, u), append(names, ch.Group)
		}
	}
	w, o := s.writer(r)
	if w == nil {
		return o
	}
	verb := "added to"
	if !add {
		verb = "removed from"
	}
	if o := s.modify(r, w, "changing the members of "+group, reqs, undo); o != ops.OutcomeOK {
		return o
	}
	for i, m := range reqs {
		r.say(0, "%s %s: %s", verb, names[i], strings.Join(changedUsers(m), ", "))
	}
	return ops.OutcomeOK
}

// membership returns the modify that adds users to group (or removes
// them), touching only values that are (or are not) there, and its undo.
func (s *server) membership(r *req, group string, users []string, add bool) (m, undo *ldap.ModifyRequest, err error) {
	dn := s.Dir.GroupDN(group)
	e, err := s.Dir.Read(r.ctx, dn, "memberUid", "uniqueMember")
	if err != nil {
		return nil, nil, err
	}
	if e == nil {
		return nil, nil, fmt.Errorf("group %s: %w", group, directory.ErrNotFound)
	}
	m, undo = ldap.NewModifyRequest(dn, nil), ldap.NewModifyRequest(dn, nil)
	uids := e.GetAttributeValues("memberUid")
	dns := e.GetAttributeValues("uniqueMember")
	for _, u := range users {
		hasUID := slices.Contains(uids, u)
		var have []string
		for _, d := range dns {
			if directory.UIDOfDN(d) == u {
				have = append(have, d)
			}
		}
		switch {
		case add:
			if !hasUID {
				m.Add("memberUid", []string{u})
				undo.Delete("memberUid", []string{u})
			}
			if len(have) == 0 {
				m.Add("uniqueMember", []string{s.Dir.UserDN(u)})
				undo.Delete("uniqueMember", []string{s.Dir.UserDN(u)})
			}
		default:
			if hasUID {
				m.Delete("memberUid", []string{u})
				undo.Add("memberUid", []string{u})
			}
			if len(have) > 0 {
				m.Delete("uniqueMember", have)
				undo.Add("uniqueMember", have)
			}
		}
	}
	return m, undo, nil
}

// missing returns the users the primary group's change does not touch:
// on add, those already members by both attributes (one missing is
// repaired); on remove, those that are not members at all.
func missing(m *ldap.ModifyRequest, users []string) []string {
	changed := changedUsers(m)
	var out []string
	for _, u := range users {
		if !slices.Contains(changed, u) {
			out = append(out, u)
		}
	}
	return out
}

// changedUsers lists the users m's changes name, in order.
func changedUsers(m *ldap.ModifyRequest) []string {
	var out []string
	for _, c := range m.Changes {
		for _, v := range c.Modification.Vals {
			u := v
			if c.Modification.Type == "uniqueMember" {
				u = directory.UIDOfDN(v)
			}
			if !slices.Contains(out, u) {
				out = append(out, u)
			}
		}
	}
	return out
}
