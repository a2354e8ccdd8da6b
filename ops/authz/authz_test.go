package authz_test

import (
	"context"
	"errors"
	"syscall"
	"testing"

	"github.com/csclub/ceo/internal/opstest"
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
	message        string
}

func check(t *testing.T, cases []tcase, rule func(ctx context.Context, d authz.Directory, caller, target string) (authz.Decision, error)) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.caller+"->"+tc.target, func(t *testing.T) {
			d, err := rule(t.Context(), directory(), tc.caller, tc.target)
			if err != nil {
				t.Fatal(err)
			}
			if d.Allowed != tc.allowed || d.Message != tc.message {
				t.Errorf("got allowed=%v %q, want allowed=%v %q", d.Allowed, d.Message, tc.allowed, tc.message)
			}
			wantStatus := int32(0)
			if !tc.allowed {
				wantStatus = int32(syscall.EPERM)
			}
			if d.Status != wantStatus {
				t.Errorf("status %d, want %d", d.Status, wantStatus)
			}
		})
	}
}

func TestUpdateMail(t *testing.T) {
	check(t, []tcase{
		{"regular1", "regular1", true, "regular1 may update mail for regular1"},
		{"regular1", "regular2", false, "regular1 not authorized to update mail"},
		{"regular1", "office1", false, "regular1 not authorized to update mail"},
		{"regular1", "syscom1", false, "regular1 not authorized to update mail"},
		{"office1", "regular1", true, "office1 may update mail for regular1"},
		{"office1", "office1", true, "office1 may update mail for office1"},
		{"office1", "syscom1", false, "denied, recipient is on systems committee"},
		{"office1", "both1", false, "denied, recipient is on systems committee"},
		{"syscom1", "regular1", true, "syscom1 may update mail for regular1"},
		{"syscom1", "both1", true, "syscom1 may update mail for both1"},
		{"syscom1", "syscom1", true, "syscom1 may update mail for syscom1"},
		{"both1", "syscom1", true, "both1 may update mail for syscom1"},
		{"syscom1", "nosuchuser", true, "syscom1 may update mail for nosuchuser"},
		{"regular1/admin", "regular1", false, "regular1/admin not authorized to update mail"},
	}, authz.UpdateMail)
}

func TestCreateDatabase(t *testing.T) {
	check(t, []tcase{
		{"regular1", "regular1", true, "user regular1 creating database for self"},
		{"regular1", "regular2", false, "denied, you may not create databases for other members"},
		{"office1", "regular1", false, "denied, you may not create databases for other members"},
		{"syscom1", "regular1", true, "user syscom1 is on systems committee"},
		{"syscom1", "nosuchuser", true, "user syscom1 is on systems committee"},
		{"regular1", "nosuchuser", false, "denied, you may not create databases for other members"},
		{"regular2", "robots", true, "user regular2 is in club group robots"},
		{"regular1", "robots", false, "denied, user regular1 is not in club group robots"},
		{"office1", "robots", false, "denied, user office1 is not in club group robots"},
		{"syscom1", "robots", true, "user syscom1 is on systems committee"},
		{"syscom1", "quiet", true, "user syscom1 is on systems committee"},
		// A member's personal group does not make them a club.
		{"regular2", "regular1", false, "denied, you may not create databases for other members"},
	}, authz.CreateDatabase)
}

func TestSubscribe(t *testing.T) {
	rule := func(ctx context.Context, d authz.Directory, caller, target string) (authz.Decision, error) {
		return authz.Subscribe(ctx, d, caller, target, "members")
	}
	check(t, []tcase{
		{"regular1", "regular1", true, "user regular1 subscribing self"},
		{"regular1", "regular2", false, "Access denied: user 'regular1' cannot subscribe users to members"},
		{"office1", "regular1", true, "user office1 is in group office"},
		{"syscom1", "regular1", true, "user syscom1 is in group syscom"},
		{"office1", "syscom1", true, "user office1 is in group office"},
	}, rule)
}

// A directory outage is an error, never an implicit decision.
func TestDirectoryErrorFailsClosed(t *testing.T) {
	outage := errors.New("ldap down")
	rules := map[string]func() (authz.Decision, error){
		"mail": func() (authz.Decision, error) {
			return authz.UpdateMail(t.Context(), &opstest.Fake{Err: outage}, "office1", "regular1")
		},
		"database": func() (authz.Decision, error) {
			return authz.CreateDatabase(t.Context(), &opstest.Fake{Err: outage}, "syscom1", "regular1")
		},
		"subscribe": func() (authz.Decision, error) {
			return authz.Subscribe(t.Context(), &opstest.Fake{Err: outage}, "office1", "regular1", "members")
		},
	}
	for name, f := range rules {
		d, err := f()
		if !errors.Is(err, outage) {
			t.Errorf("%s: err %v, want the outage", name, err)
		}
		if d.Allowed {
			t.Errorf("%s: allowed during an outage", name)
		}
	}
}
