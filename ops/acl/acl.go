// Package acl is ceod's one authorization point: the ACL file
// /etc/csc/ceod.acl, in the spirit of remctl's ACLs, says who may call
// each op and on which targets.
//
// One rule a line: OP WHO [TARGET...]. WHO is group:NAME (the caller is
// in group NAME), principal:NAME (the caller's principal, or its name in
// ceod's realm), self (the target is the caller), club-member (the
// target is a club and the caller is in its group) or any. Each TARGET
// must hold of the op's target: any, member (a member or club rep
// account), club (a club account or its group; for adduser, the kind of
// account asked for), group:NAME or
// !group:NAME (the target is, or is not, in group NAME). The first rule
// of the op that matches the caller and the target allows the request;
// none allows it: it is denied, and the denial names the rule that
// matched the caller but not the target, or the default.
//
// A directory failure is an error, never an implicit answer: callers
// fail closed.
package acl

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/csclub/ceo/ops/directory"
)

// File is the ACL file's name in ceod's configuration directory.
const File = "ceod.acl"

// Directory answers the questions rules ask; *directory.Client is one.
type Directory interface {
	InGroup(ctx context.Context, user, group string) (bool, error)
	LookupUser(ctx context.Context, name string) (*directory.User, error)
}

// Rule is one line of the file.
type Rule struct {
	Op      string
	Who     string
	Targets []string
	// Where is "ceod.acl:LINE".
	Where string
}

// String is the rule as written, with where it is.
func (r Rule) String() string {
	return r.Where + " (" + strings.Join(append([]string{r.Op, r.Who}, r.Targets...), " ") + ")"
}

// ACL is a parsed file.
type ACL struct {
	rules map[string][]Rule
}

var name = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.@/-]*$`)

// Load reads path.
func Load(path string) (*ACL, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("acl: %w", err)
	}
	defer f.Close()
	return Parse(filepath.Base(path), f)
}

// Parse reads rules from r; file names them in errors and denials.
func Parse(file string, r io.Reader) (*ACL, error) {
	a := &ACL{rules: map[string][]Rule{}}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		where := fmt.Sprintf("%s:%d", file, n)
		if len(f) < 2 {
			return nil, fmt.Errorf("acl: %s: want OP WHO [TARGET...]", where)
		}
		rule := Rule{Op: f[0], Who: f[1], Targets: f[2:], Where: where}
		if !name.MatchString(rule.Op) {
			return nil, fmt.Errorf("acl: %s: invalid op name %q", where, rule.Op)
		}
		if err := checkWho(rule.Who); err != nil {
			return nil, fmt.Errorf("acl: %s: %w", where, err)
		}
		for _, t := range rule.Targets {
			if err := checkTarget(t); err != nil {
				return nil, fmt.Errorf("acl: %s: %w", where, err)
			}
		}
		a.rules[rule.Op] = append(a.rules[rule.Op], rule)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("acl: reading %s: %w", file, err)
	}
	return a, nil
}

func checkWho(w string) error {
	switch w {
	case "self", "club-member", "any":
		return nil
	}
	if k, v, ok := strings.Cut(w, ":"); ok && (k == "group" || k == "principal") && name.MatchString(v) {
		return nil
	}
	return fmt.Errorf("invalid WHO %q (group:NAME, principal:NAME, self, club-member or any)", w)
}

func checkTarget(t string) error {
	switch t {
	case "any", "member", "club":
		return nil
	}
	if v, ok := strings.CutPrefix(strings.TrimPrefix(t, "!"), "group:"); ok && name.MatchString(v) {
		return nil
	}
	return fmt.Errorf("invalid TARGET %q (any, member, club, group:NAME or !group:NAME)", t)
}

// Ops lists the ops that have rules, sorted.
func (a *ACL) Ops() []string {
	var out []string
	for op := range a.rules {
		out = append(out, op)
	}
	slices.Sort(out)
	return out
}

// Rules returns op's rules in order.
func (a *ACL) Rules(op string) []Rule { return a.rules[op] }

// Decision is the answer to one request.
type Decision struct {
	Allowed bool
	// Rule is the rule that decided, "" for the default denial.
	Rule string
	// Message says why, naming the rule; safe to send to the client.
	Message string
}

// Request is what is checked: Caller is the caller's name in ceod's
// realm (or the whole principal from another realm, which matches no
// account or group), Principal the full principal, Target the account or
// group the op acts on.
type Request struct {
	Op, Caller, Principal, Target string
	// Kind, if set, is the kind of account the op is to make (adduser:
	// KindMember, KindClubRep or KindClub): the targets member and club
	// test it, as the target has no account yet.
	Kind string
}

// The kinds of account adduser makes (Request.Kind).
const (
	KindMember  = "member"
	KindClubRep = "club-rep"
	KindClub    = "club"
)

// Require returns an error naming the ops, of those given, that have no
// rule: ceod serves them, and a missing line would deny them to
// everyone without a word (ceod -check and ceod's start refuse it).
func (a *ACL) Require(file string, ops ...string) error {
	var missing []string
	for _, op := range ops {
		if len(a.rules[op]) == 0 {
			missing = append(missing, op)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("acl: %s has no rule for %s, which this host serves (see the shipped ceod.acl for the defaults)", file, strings.Join(missing, ", "))
	}
	return nil
}

// Check decides req.
func (a *ACL) Check(ctx context.Context, dir Directory, req Request) (Decision, error) {
	e := &eval{ctx: ctx, dir: dir, req: req, groups: map[[2]string]bool{}}
	var near *Rule
	for i, r := range a.rules[req.Op] {
		ok, err := e.who(r.Who)
		if err != nil || !ok {
			if err != nil {
				return Decision{}, err
			}
			continue
		}
		why, err := e.targets(r.Targets)
		if err != nil {
			return Decision{}, err
		}
		if why == "" {
			return Decision{Allowed: true, Rule: r.String(), Message: fmt.Sprintf("%s allowed to %s %s by %s", req.Caller, req.Op, req.Target, r)}, nil
		}
		if near == nil {
			near = &a.rules[req.Op][i]
			e.why = why
		}
	}
	if near != nil {
		return Decision{Rule: near.String(), Message: fmt.Sprintf("%s may not %s %s: denied by %s: %s", req.Caller, req.Op, req.Target, near, e.why)}, nil
	}
	return Decision{Message: fmt.Sprintf("%s may not %s %s: no rule of %s in %s allows it (default deny)", req.Caller, req.Op, req.Target, req.Op, File)}, nil
}

type eval struct {
	ctx    context.Context
	dir    Directory
	req    Request
	groups map[[2]string]bool
	target *directory.User
	looked bool
	why    string
}

func (e *eval) inGroup(user, group string) (bool, error) {
	k := [2]string{user, group}
	if v, ok := e.groups[k]; ok {
		return v, nil
	}
	v, err := e.dir.InGroup(e.ctx, user, group)
	if err != nil {
		return false, fmt.Errorf("acl: is %s in group %s: %w", user, group, err)
	}
	e.groups[k] = v
	return v, nil
}

// account returns the target's account, nil if there is none.
func (e *eval) account() (*directory.User, error) {
	if !e.looked {
		u, err := e.dir.LookupUser(e.ctx, e.req.Target)
		switch {
		case errors.Is(err, directory.ErrNotFound):
		case err != nil:
			return nil, fmt.Errorf("acl: looking up %s: %w", e.req.Target, err)
		default:
			e.target = u
		}
		e.looked = true
	}
	return e.target, nil
}

func (e *eval) who(w string) (bool, error) {
	switch w {
	case "any":
		return true, nil
	case "self":
		return e.req.Caller == e.req.Target, nil
	case "club-member":
		u, err := e.account()
		if err != nil || u == nil || !u.Club {
			return false, err
		}
		return e.inGroup(e.req.Caller, e.req.Target)
	}
	k, v, _ := strings.Cut(w, ":")
	if k == "principal" {
		return e.req.Principal == v || e.req.Caller == v, nil
	}
	return e.inGroup(e.req.Caller, v)
}

// targets returns "" if every target holds, else why one does not.
func (e *eval) targets(ts []string) (string, error) {
	for _, t := range ts {
		switch t {
		case "any":
			continue
		case "member", "club":
			if k := e.req.Kind; k != "" {
				if (k == KindClub) != (t == "club") {
					return fmt.Sprintf("%s is a %s account, not a %s account", e.req.Target, k, t), nil
				}
				continue
			}
			u, err := e.account()
			if err != nil {
				return "", err
			}
			if u == nil || u.Club != (t == "club") {
				return fmt.Sprintf("%s is not a %s account", e.req.Target, t), nil
			}
			continue
		}
		neg := strings.HasPrefix(t, "!")
		g := strings.TrimPrefix(strings.TrimPrefix(t, "!"), "group:")
		in, err := e.inGroup(e.req.Target, g)
		if err != nil {
			return "", err
		}
		if in == neg {
			if neg {
				return fmt.Sprintf("%s is in group %s", e.req.Target, g), nil
			}
			return fmt.Sprintf("%s is not in group %s", e.req.Target, g), nil
		}
	}
	return "", nil
}
