package acl_test

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/csclub/ceo/internal/opstest"
	"github.com/csclub/ceo/ops/acl"
	"github.com/csclub/ceo/ops/authz"
)

func directory() *opstest.Fake {
	f := &opstest.Fake{}
	for _, n := range []string{"office1", "syscom1", "regular1", "regular2"} {
		f.AddUser(authz.User{Name: n})
	}
	f.AddUser(authz.User{Name: "robots", Club: true})
	f.AddToGroup("office", "office1")
	f.AddToGroup("syscom", "syscom1")
	f.AddToGroup("robots", "regular2")
	return f
}

// The shipped defaults, as a table: the slapd semantics of the member
// ops, and every denial names its rule.
func TestDefault(t *testing.T) {
	a, err := acl.ParseDefault()
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		op, caller, target string
		allowed            bool
		msg                string
	}{
		{"renew", "office1", "regular1", true, "by ceod.acl:"},
		{"renew", "syscom1", "regular1", true, "(renew group:syscom)"},
		{"renew", "regular1", "regular1", false, "regular1 may not renew regular1: no rule of renew in ceod.acl allows it (default deny)"},
		{"group", "syscom1", "office", true, "(group group:syscom)"},
		{"group", "office1", "robots", true, "(group group:office club)"},
		{"group", "office1", "syscom", false, "(group group:office club): syscom is not a club account"},
		{"group", "regular2", "robots", true, "(group club-member)"},
		{"group", "regular1", "robots", false, "default deny"},
		{"positions", "office1", "president", true, "(positions group:office)"},
		{"positions", "regular1", "president", false, "default deny"},
		{"shell", "regular1", "regular1", true, "(shell self)"},
		{"shell", "regular1", "regular2", false, "default deny"},
		{"shell", "syscom1", "regular2", true, "(shell group:syscom)"},
		{"passwd", "office1", "regular1", true, "(passwd group:office member !group:syscom)"},
		{"passwd", "office1", "syscom1", false, "denied by ceod.acl:"},
		{"passwd", "office1", "robots", false, "robots is not a member account"},
		{"passwd", "syscom1", "syscom1", true, "(passwd group:syscom)"},
		{"passwd", "regular1", "regular1", false, "default deny"},
		{"deluser", "syscom1", "regular1", true, "(deluser group:syscom)"},
		{"deluser", "office1", "regular1", false, "default deny"},
		{"nosuchop", "syscom1", "regular1", false, "no rule of nosuchop"},
	}
	for _, tc := range cases {
		d, err := a.Check(t.Context(), directory(), acl.Request{Op: tc.op, Caller: tc.caller, Principal: tc.caller + "@R", Target: tc.target})
		if err != nil {
			t.Fatal(err)
		}
		if d.Allowed != tc.allowed || !strings.Contains(d.Message, tc.msg) {
			t.Errorf("%s %s->%s: allowed=%v %q, want %v containing %q", tc.op, tc.caller, tc.target, d.Allowed, d.Message, tc.allowed, tc.msg)
		}
		if !d.Allowed && tc.msg != "default deny" && !strings.Contains(d.Message, "ceod.acl") {
			t.Errorf("denial names no rule: %q", d.Message)
		}
	}
}

func TestPrincipalAndAny(t *testing.T) {
	a, err := acl.Parse("t.acl", strings.NewReader("x principal:bot/cron@R\ny any group:office\n"))
	if err != nil {
		t.Fatal(err)
	}
	d, _ := a.Check(t.Context(), directory(), acl.Request{Op: "x", Caller: "bot/cron@R", Principal: "bot/cron@R", Target: "regular1"})
	if !d.Allowed {
		t.Errorf("principal rule: %q", d.Message)
	}
	d, _ = a.Check(t.Context(), directory(), acl.Request{Op: "y", Caller: "regular1", Target: "regular1"})
	if d.Allowed || !strings.Contains(d.Message, "denied by t.acl:2 (y any group:office): regular1 is not in group office") {
		t.Errorf("target rule: %v %q", d.Allowed, d.Message)
	}
}

func TestParseErrors(t *testing.T) {
	for _, bad := range []string{"renew\n", "renew wizard\n", "renew group:\n", "renew any group:a,b\n", "re;new any\n", "renew any member extra!\n"} {
		if _, err := acl.Parse("t.acl", strings.NewReader(bad)); err == nil || !strings.Contains(err.Error(), "t.acl:1") {
			t.Errorf("%q: err %v, want one naming t.acl:1", bad, err)
		}
	}
}

func TestDirectoryErrorFailsClosed(t *testing.T) {
	a, _ := acl.ParseDefault()
	outage := errors.New("ldap down")
	d, err := a.Check(t.Context(), &opstest.Fake{Err: outage}, acl.Request{Op: "passwd", Caller: "office1", Target: "regular1"})
	if !errors.Is(err, outage) || d.Allowed {
		t.Errorf("got %v %v, want the outage and no", d, err)
	}
}

// debian/conf/ceod.acl is the embedded default.
func TestShippedFileIsDefault(t *testing.T) {
	b, err := os.ReadFile("../../debian/conf/ceod.acl")
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != acl.Default {
		t.Error("debian/conf/ceod.acl differs from ops/acl/ceod.acl")
	}
}

// For adduser the targets member and club test the kind asked for: the
// account does not exist yet.
func TestKind(t *testing.T) {
	a, err := acl.Parse("t.acl", strings.NewReader("adduser group:office member\nadduser group:syscom\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		caller, kind string
		allowed      bool
		msg          string
	}{
		{"office1", acl.KindMember, true, "(adduser group:office member)"},
		{"office1", acl.KindClubRep, true, "(adduser group:office member)"},
		{"office1", acl.KindClub, false, "denied by t.acl:1 (adduser group:office member): newclub is a club account, not a member account"},
		{"syscom1", acl.KindClub, true, "(adduser group:syscom)"},
	} {
		d, err := a.Check(t.Context(), directory(), acl.Request{Op: "adduser", Caller: tc.caller, Target: "newclub", Kind: tc.kind})
		if err != nil {
			t.Fatal(err)
		}
		if d.Allowed != tc.allowed || !strings.Contains(d.Message, tc.msg) {
			t.Errorf("%s %s: %v %q, want %v containing %q", tc.caller, tc.kind, d.Allowed, d.Message, tc.allowed, tc.msg)
		}
	}
}

// Require names the served ops without a rule.
func TestRequire(t *testing.T) {
	a, err := acl.Parse("t.acl", strings.NewReader("mail self\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Require("/etc/csc/ceod.acl", "mail"); err != nil {
		t.Error(err)
	}
	err = a.Require("/etc/csc/ceod.acl", "mail", "adduser", "mysql")
	if err == nil || !strings.Contains(err.Error(), "/etc/csc/ceod.acl has no rule for adduser, mysql, which this host serves") {
		t.Errorf("err %v", err)
	}
	d, _ := acl.ParseDefault()
	if err := d.Require(acl.File, "adduser", "mail", "mysql", "postgresql", "mailman", "renew", "group", "positions", "shell", "passwd", "deluser"); err != nil {
		t.Errorf("the shipped file: %v", err)
	}
}
