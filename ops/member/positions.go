package member

import (
	"slices"
	"strings"
	"syscall"

	"github.com/go-ldap/ldap/v3"

	"github.com/csclub/ceo/ops"
	"github.com/csclub/ceo/wire/ceopb"
)

// Position is an office position.
type Position struct{ ID, Title string }

// Positions are the club's positions, in display order, as legacy.
var Positions = []Position{
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

// maxHolders bounds the holders of one position.
const maxHolders = 20

func (s *server) positions(r *req, in *ceopb.SetPosition) ops.Outcome {
	pos := in.GetPosition()
	if ok, o := s.allow(r, "positions", pos); !ok {
		return o
	}
	users := in.GetUsernames()
	r.attrs = append(r.attrs, attrStrings("users", users))
	if !slices.ContainsFunc(Positions, func(p Position) bool { return p.ID == pos }) {
		return r.fail(int32(syscall.EINVAL), "no such position: %q", pos)
	}
	if len(users) > maxHolders {
		return r.fail(int32(syscall.EINVAL), "more than %d holders", maxHolders)
	}
	for i, u := range users {
		if slices.Contains(users[:i], u) {
			return r.fail(int32(syscall.EINVAL), "user %s given twice", u)
		}
		if acc, o := s.lookup(r, u); acc == nil {
			return o
		}
	}
	holders, err := s.Dir.SearchUsers(r.ctx, "(position="+ldap.EscapeFilter(pos)+")")
	if err != nil {
		s.Log.Error("listing holders failed", "position", pos, "err", err)
		return r.fail(ops.ELDAP, "unable to list the holders of %s: directory error", pos)
	}
	var reqs, undo []*ldap.ModifyRequest
	change := func(uid string, add bool) {
		m, u := ldap.NewModifyRequest(s.Dir.UserDN(uid), nil), ldap.NewModifyRequest(s.Dir.UserDN(uid), nil)
		if add {
			m.Add("position", []string{pos})
			u.Delete("position", []string{pos})
		} else {
			m.Delete("position", []string{pos})
			u.Add("position", []string{pos})
		}
		reqs, undo = append(reqs, m), append(undo, u)
	}
	var old []string
	for _, h := range holders {
		old = append(old, h.Name)
		if !slices.Contains(users, h.Name) {
			change(h.Name, false)
		}
	}
	for _, u := range users {
		if !slices.Contains(old, u) {
			change(u, true)
		}
	}
	w, o := s.writer(r)
	if w == nil {
		return o
	}
	if o := s.modify(r, w, "setting position "+pos, reqs, undo); o != ops.OutcomeOK {
		return o
	}
	if len(users) == 0 {
		r.say(0, "%s is vacant", pos)
	} else {
		r.say(0, "%s is held by %s", pos, strings.Join(users, ", "))
	}
	return ops.OutcomeOK
}
