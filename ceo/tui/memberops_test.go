package tui_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/csclub/ceo/ceo/internal/ceotest"
	"github.com/csclub/ceo/internal/ceodtest/daemontest"
	"github.com/csclub/ceo/ops/kadmin"
)

// openWizard chooses entry on the main menu, waits for the wizard's
// intro (intro) and goes on; if value is not "", it types it into the
// next page's first field, labelled field, and presses Enter.
func (tm *terminal) openWizard(entry, intro, field, value string) {
	tm.t.Helper()
	tm.fromMenu(entry)
	tm.waitFor(intro)
	tm.keys("Enter")
	if value == "" {
		return
	}
	tm.waitFor(field)
	tm.reenter(value)
}

// TestResetPassword: Reset Password as office staff and syscom through
// ceod's passwd op, in the strict realm (office1 and syscom1 may not
// write the directory or Kerberos themselves): a typed password (after
// a mismatch and a short one are refused on the page), then kinit works
// with it and not with the old one; a random one shown once, with a
// change required at next login (the KDC says it has expired); office1
// on a syscom member: refused, the ACL rule named, nothing changed; a
// password longer than kadmin takes: ceod's EINVAL, nothing changed.
func TestResetPassword(t *testing.T) {
	r := ceotest.Setup(t)
	daemontest.Start(t, r, daemontest.Options{}).RequireServed(t, "passwd")
	admin := ceotest.Admin(t, r)
	const old = "old-password-1"
	for i, uid := range []string{"pwtui1", "pwtui2", "pwtui3"} {
		ceotest.AddEntry(t, r, admin, ceotest.Entry{UID: uid, Name: "Pass Word", UIDNumber: 26401 + i, Terms: []string{current().String()}})
		r.AddPrincipal(t, uid, old)
	}

	for _, c := range []struct {
		name, as, uid string
		typed         string // "": a random one
		pageChecks    bool   // try a mismatch and a short one first
		needChange    bool
		refused       []string // on the result page, if refused
		still         string   // the password that still works, if refused
	}{
		{name: "typed", as: "office1", uid: "pwtui1", typed: "brand-new-pw-7", pageChecks: true},
		{name: "random", as: "syscom1", uid: "pwtui2", needChange: true},
		{name: "syscom member", as: "office1", uid: "syscom1", typed: "x-stolen-pw-1", still: r.Users["syscom1"].Password,
			refused: []string{"Failed to Reset Password", "office1 may not passwd syscom1: denied by ceod.acl:", "syscom1 is in group syscom"}},
		{name: "too long", as: "syscom1", uid: "pwtui3", typed: strings.Repeat("p", kadmin.MaxPasswordLen+1), still: old,
			refused: []string{"Failed to Reset Password", "password longer than 512 bytes"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			tm := startAs(t, r, c.as)
			tm.openWizard("Reset Password", "Resetting a Password", "Username:", c.uid)
			tm.waitFor("New Password", "leave both fields empty for a random password")
			if c.pageChecks {
				tm.typeText(c.typed)
				tm.keys("Tab")
				tm.enter(c.typed + "x")
				tm.waitFor("Passwords do not match")
				tm.typeText("abc")
				tm.keys("Tab")
				tm.enter("abc")
				tm.waitFor("Password is too short")
			}
			if c.typed != "" {
				tm.typeText(c.typed)
				tm.keys("Tab")
				tm.typeText(c.typed)
				tm.keys("Tab") // to the check box
			} else {
				tm.keys("Tab", "Tab")
			}
			if c.needChange {
				tm.keys("Space")
				tm.waitFor("Require a change at next login: X")
			}
			tm.keys("Tab", "Enter") // Next
			how := "to the password you typed"
			if c.typed == "" {
				how = "to a random password"
			}
			s := tm.waitFor("Confirm Reset", "Reset the password of "+c.uid, how)
			if c.typed != "" && strings.Contains(s, c.typed) {
				t.Fatal("the typed password is on the screen")
			}
			tm.keys("Enter") // Reset
			if c.refused != nil {
				s := tm.waitFor(c.refused...)
				capture(t, "reset-password-refused", s)
				r.Kinit(t, c.uid, c.still) // unchanged
				return
			}
			newPW := c.typed
			if c.typed == "" {
				s := tm.waitFor("Password Reset", "The new password of "+c.uid+" is:", "shown only this once")
				capture(t, "reset-password-random", s)
				lines := strings.Split(s, "\n")
				i := slices.IndexFunc(lines, func(l string) bool { return strings.Contains(l, "The new password of") })
				newPW = strings.Trim(strings.TrimSpace(lines[i+2]), "║ ")
				if newPW == "" || strings.Contains(newPW, " ") {
					t.Fatalf("no password on the screen:\n%s", s)
				}
			} else {
				tm.waitFor("Password Reset", "The password of "+c.uid+" has been reset.")
			}
			if err := r.TryKinit(t, c.uid, old); err == nil {
				t.Errorf("the old password of %s still works", c.uid)
			}
			if !c.needChange {
				r.Kinit(t, c.uid, newPW)
				return
			}
			tm.waitFor("They must change it at next login.")
			if got := r.GetPrinc(t, c.uid); !strings.Contains(got, "REQUIRES_PWCHANGE") {
				t.Errorf("no REQUIRES_PWCHANGE:\n%s", got)
			}
			// The KDC takes the new password, and says it has expired.
			if err := r.TryKinit(t, c.uid, newPW); err == nil || !strings.Contains(err.Error(), "expired") {
				t.Errorf("kinit with the new password: %v, want it expired", err)
			}
		})
	}
}

// TestGroupAsOffice: office staff manage a club's group through ceod's
// group op with no LDAP write rights (strict realm), and are refused
// syscom with the ACL's words; the directory has the one change only.
func TestGroupAsOffice(t *testing.T) {
	r := ceotest.Setup(t)
	daemontest.Start(t, r, daemontest.Options{}).RequireServed(t, "group")
	admin := ceotest.Admin(t, r)
	ceotest.AddEntry(t, r, admin, ceotest.Entry{UID: "offclub", Name: "Office Club", UIDNumber: 30611, Club: true})

	tm := startAs(t, r, "office1")
	manage := func(group string) {
		tm.openWizard("Manage Club or Group Members", "Managing Club or Group", "Club or Group:", group)
		tm.waitFor("Manage " + group)
	}
	manage("offclub")
	tm.typeText("regular1")
	tm.keys("Tab", "Enter") // Add
	tm.waitFor("Members of offclub (1): regular1", "Added regular1 to offclub")
	if got := ceotest.Attr(t, admin, r.GroupDN("offclub"), "memberUid"); !slices.Equal(got, []string{"regular1"}) {
		t.Fatalf("offclub memberUid = %v", got)
	}
	tm.escape()
	manage("syscom")
	tm.typeText("regular1")
	tm.keys("Tab", "Enter")
	s := tm.waitFor("office1 may not group syscom", "ceod.acl")
	if strings.Contains(s, "goroutine") || strings.Contains(s, ".go:") {
		t.Errorf("a stack trace on screen:\n%s", s)
	}
	if got := ceotest.Attr(t, admin, r.GroupDN("syscom"), "memberUid"); slices.Contains(got, "regular1") {
		t.Fatalf("regular1 was added to syscom: %v", got)
	}
}
