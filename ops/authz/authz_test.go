package authz_test

import (
	"errors"
	"strings"
	"syscall"
	"testing"

	"github.com/csclub/ceo/internal/opstest"
	"github.com/csclub/ceo/ops"
	"github.com/csclub/ceo/ops/acl"
	"github.com/csclub/ceo/ops/authz"
)

// directory: office1 (office), syscom1 (syscom), both1 (office and
// syscom), regular1 and regular2 (neither), club "robots" with member
// regular2, club "quiet" with no members.
func directory() *opstest.Fake {
	f := &opstest.Fake{}
	for _, n := range []string{"office1", "syscom1", "both1", "regular1", "regular2"} {
		f.AddUser(authz.User{Name: n})
	}
	f.AddUser(authz.User{Name: "robots", Club: true})
	f.AddUser(authz.User{Name: "quiet", Club: true})
	f.AddToGroup("office", "office1", "both1")
	f.AddToGroup("syscom", "syscom1", "both1")
	f.AddToGroup("robots", "regular2")
	return f
}

type tcase struct {
	caller, target string
	allowed        bool
	// rule is the rule that decided, as "OP WHO [TARGET...]", or
	// "default" for the default denial.
	rule string
}

// check runs the legacy truth table of op against the shipped ceod.acl.
func check(t *testing.T, op, kind string, cases []tcase) {
	t.Helper()
	a := authz.Authorizer{ACL: opstest.DefaultACL(t), Dir: directory()}
	for _, tc := range cases {
		t.Run(tc.caller+"->"+tc.target, func(t *testing.T) {
			d, err := a.Check(t.Context(), op, ops.CallerOf(tc.caller+"@CSCLUB.INTERNAL"), tc.target, kind)
			if err != nil {
				t.Fatal(err)
			}
			if d.Allowed != tc.allowed {
				t.Errorf("allowed=%v %q, want %v", d.Allowed, d.Message, tc.allowed)
			}
			wantStatus := int32(0)
			if !tc.allowed {
				wantStatus = int32(syscall.EPERM)
			}
			if d.Status != wantStatus {
				t.Errorf("status %d, want %d", d.Status, wantStatus)
			}
			if tc.rule == "default" {
				if d.Rule != "" || !strings.Contains(d.Message, "no rule of "+op+" in ceod.acl allows it (default deny)") {
					t.Errorf("got %q (rule %q), want the default denial", d.Message, d.Rule)
				}
				return
			}
			if want := "(" + tc.rule + ")"; !strings.Contains(d.Rule, want) || !strings.Contains(d.Message, "ceod.acl:") || !strings.Contains(d.Message, want) {
				t.Errorf("got %q (rule %q), want it to name %s", d.Message, d.Rule, want)
			}
		})
	}
}

// The legacy rule of op-mail.c: oneself; office or syscom anyone's, but
// only syscom a syscom member's.
func TestUpdateMail(t *testing.T) {
	check(t, "mail", "", []tcase{
		{"regular1", "regular1", true, "mail self"},
		{"regular1", "regular2", false, "default"},
		{"regular1", "office1", false, "default"},
		{"regular1", "syscom1", false, "default"},
		{"office1", "regular1", true, "mail group:office !group:syscom"},
		{"office1", "office1", true, "mail self"},
		{"office1", "syscom1", false, "mail group:office !group:syscom"},
		{"office1", "both1", false, "mail group:office !group:syscom"},
		{"syscom1", "regular1", true, "mail group:syscom"},
		{"syscom1", "both1", true, "mail group:syscom"},
		{"syscom1", "syscom1", true, "mail self"},
		{"both1", "syscom1", true, "mail group:syscom"},
		{"syscom1", "nosuchuser", true, "mail group:syscom"},
		{"regular1/admin", "regular1", false, "default"},
	})
}

// The legacy rule of op-mysql (as documented): oneself; a club for its
// members; anyone for syscom.
func TestCreateDatabase(t *testing.T) {
	for _, op := range []string{"mysql", "postgresql"} {
		t.Run(op, func(t *testing.T) {
			check(t, op, "", []tcase{
				{"regular1", "regular1", true, op + " self"},
				{"regular1", "regular2", false, "default"},
				{"office1", "regular1", false, "default"},
				{"syscom1", "regular1", true, op + " group:syscom"},
				{"syscom1", "nosuchuser", true, op + " group:syscom"},
				{"regular1", "nosuchuser", false, "default"},
				{"regular2", "robots", true, op + " club-member"},
				{"regular1", "robots", false, "default"},
				{"office1", "robots", false, "default"},
				{"syscom1", "robots", true, op + " group:syscom"},
				{"syscom1", "quiet", true, op + " group:syscom"},
				// A member's personal group does not make them a club.
				{"regular2", "regular1", false, "default"},
			})
		})
	}
}

// The legacy rule of op-mailman: oneself, office or syscom.
func TestSubscribe(t *testing.T) {
	check(t, "mailman", "", []tcase{
		{"regular1", "regular1", true, "mailman self"},
		{"regular1", "regular2", false, "default"},
		{"office1", "regular1", true, "mailman group:office"},
		{"syscom1", "regular1", true, "mailman group:syscom"},
		{"office1", "syscom1", true, "mailman group:office"},
	})
}

// The legacy rule of adduser: office or syscom, whatever the kind.
func TestAddUser(t *testing.T) {
	for _, kind := range []string{acl.KindMember, acl.KindClubRep, acl.KindClub, ""} {
		t.Run(kind, func(t *testing.T) {
			check(t, "adduser", kind, []tcase{
				{"office1", "newbie", true, "adduser group:office"},
				{"syscom1", "newbie", true, "adduser group:syscom"},
				{"both1", "newbie", true, "adduser group:office"},
				{"regular1", "newbie", false, "default"},
				{"regular1", "regular1", false, "default"},
			})
		})
	}
}

// A directory outage is an ELDAP refusal and an error, never a decision.
func TestDirectoryErrorFailsClosed(t *testing.T) {
	outage := errors.New("ldap down")
	a := authz.Authorizer{ACL: opstest.DefaultACL(t), Dir: &opstest.Fake{Err: outage}}
	for _, op := range []string{"adduser", "mail", "mysql", "postgresql", "mailman"} {
		d, err := a.Check(t.Context(), op, ops.CallerOf("office1@R"), "regular1", "")
		if !errors.Is(err, outage) {
			t.Errorf("%s: err %v, want the outage", op, err)
		}
		if d.Allowed || d.Status != ops.ELDAP || d.Message != "unable to check authorization for office1: directory error" {
			t.Errorf("%s: %+v during an outage", op, d)
		}
	}
}
