package member

import (
	"regexp"
	"slices"
	"strings"
	"syscall"

	"github.com/go-ldap/ldap/v3"

	"github.com/csclub/ceo/ops"
	"github.com/csclub/ceo/wire/ceopb"
)

// termRE is a term: season (w, s, f) and year.
var termRE = regexp.MustCompile(`^[wsf][0-9]{4}$`)

// maxTerms bounds one renewal: a member pays for a few terms at once.
const maxTerms = 12

func (s *server) renew(r *req, in *ceopb.Renew) ops.Outcome {
	name := in.GetUsername()
	if ok, o := s.allow(r, "renew", name); !ok {
		return o
	}
	ts := in.GetTerms()
	r.attrs = append(r.attrs, attrStrings("terms", ts), attrBool("club_rep", in.GetClubRep()))
	if len(ts) == 0 || len(ts) > maxTerms {
		return r.fail(int32(syscall.EINVAL), "give between 1 and %d terms", maxTerms)
	}
	for i, t := range ts {
		if !termRE.MatchString(t) {
			return r.fail(int32(syscall.EINVAL), "invalid term %q (e.g. f2026)", t)
		}
		if slices.Contains(ts[:i], t) {
			return r.fail(int32(syscall.EINVAL), "term %s given twice", t)
		}
	}
	u, o := s.lookup(r, name)
	if u == nil {
		return o
	}
	if u.Club {
		return r.fail(int32(syscall.EINVAL), "%s is a club account", name)
	}
	attr, held := "term", u.Terms
	if in.GetClubRep() {
		attr, held = "nonMemberTerm", append(slices.Clone(u.Terms), u.NonMemberTerms...)
	}
	var dup []string
	for _, t := range ts {
		if slices.Contains(held, t) {
			dup = append(dup, t)
		}
	}
	if len(dup) > 0 {
		return r.fail(int32(syscall.EEXIST), "%s already holds %s", name, strings.Join(dup, ", "))
	}
	w, o := s.writer(r)
	if w == nil {
		return o
	}
	m := ldap.NewModifyRequest(u.DN, nil)
	m.Add(attr, ts)
	if o := s.modify(r, w, "registering "+name, []*ldap.ModifyRequest{m}, nil); o != ops.OutcomeOK {
		return o
	}
	r.say(0, "registered %s for %s", name, strings.Join(ts, ", "))
	return ops.OutcomeOK
}
