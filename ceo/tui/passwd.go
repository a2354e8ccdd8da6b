package tui

import (
	"context"
	"fmt"

	"github.com/rivo/tview"

	"github.com/csclub/ceo/ceo/members"
)

// passwordPair is a password typed twice, masked.
type passwordPair struct {
	p         *wpage
	pw, again *tview.InputField
}

// passwordPair adds the two fields to the page.
func (p *wpage) passwordPair() *passwordPair {
	return &passwordPair{p: p, pw: p.password("Password: "), again: p.password("Re-enter: ")}
}

// clear empties both fields.
func (pp *passwordPair) clear() {
	pp.pw.SetText("")
	pp.again.SetText("")
}

// check returns the password if both fields match and it is long enough
// (or both are empty and emptyOK); otherwise it empties them, puts the
// cursor in the first and shows the problem.
func (pp *passwordPair) check(emptyOK bool) (string, bool) {
	u := pp.p.w.u
	problem := ""
	switch pw := pp.pw.GetText(); {
	case pw != pp.again.GetText():
		problem = "Passwords do not match"
	case pw == "" && emptyOK:
		return "", true
	case len(pw) < u.cfg.MinPasswordLen:
		problem = fmt.Sprintf("Password is too short (at least %d characters)", u.cfg.MinPasswordLen)
	default:
		return pw, true
	}
	pp.clear()
	pp.p.form.SetFocus(0)
	u.tv.SetFocus(pp.p.form)
	u.errorStatus(problem)
	return "", false
}

// resetPassword is the Reset Password wizard: a member, then a new
// password typed twice or a random one (shown once), optionally to be
// changed at next login, set by ceod's passwd op (ceod.acl decides:
// syscom anyone's, office staff members' not in syscom).
func (u *UI) resetPassword() {
	var (
		m          *members.Member
		password   string // typed; "" for a random one
		needChange bool
		random     bool
		got        string // the random password ceod set
		result     error
	)
	w := u.newWizard("Reset Password")
	w.page("Resetting a Password", "Sets a member's Kerberos password, through ceod. Check the member's ID first. "+
		"Office staff may reset the passwords of members who are not in the systems committee; "+
		"the systems committee anyone's.")
	up := w.page("Member Information", "")
	user := up.userInput("Username: ", "", 20, u.members)
	up.onNext = func(proceed func()) { u.lookupMember(user.GetText(), &m, proceed) }

	pp := w.page("New Password", "Type the new password twice, or leave both fields empty for a random password, "+
		"shown once on the last page.")
	pair := pp.passwordPair()
	change := tview.NewCheckbox().SetLabel("Require a change at next login: ")
	pp.form.AddFormItem(change)
	pp.onShow = func() { pair.clear(); password = "" }
	pp.onNext = func(proceed func()) {
		var ok bool
		if password, ok = pair.check(true); ok {
			random, needChange = password == "", change.IsChecked()
			pair.clear()
			proceed()
		}
	}

	cp := w.page("Confirm Reset", "")
	cp.nextLabel = "Reset"
	cp.onShow = func() {
		how := "to the password you typed"
		if random {
			how = "to a random password"
		}
		text := fmt.Sprintf("Reset the password of %s (%s) %s.", m.UID, m.Name, how)
		if needChange {
			text += "\n\n" + m.UID + " must change it at next login."
		}
		cp.setText(text)
	}
	cp.onNext = func(proceed func()) {
		u.work("Resetting the password of "+m.UID, func(ctx context.Context) error {
			var pw string
			pw, _, result = u.a.Remote.ResetPassword(ctx, m.UID, password, needChange)
			if random {
				got = pw
			}
			password = ""
			return nil
		}, func(error) { proceed() })
	}

	w.resultPage(&result, "Failed to Reset Password", "The password was not changed", func(err error) string {
		return fmt.Sprintf("The password of %s is unchanged. The error was:\n\n%s", m.UID, plain(err))
	}, func(ep *wpage) {
		ep.setHeading("Password Reset")
		text := "The password of " + m.UID + " has been reset."
		if random {
			text = "The new password of " + m.UID + " is:\n\n    " + got + "\n\nIt is shown only this once: give it to the member now."
		}
		if needChange {
			text += "\n\nThey must change it at next login."
		}
		ep.setText(text)
		u.setStatus("[green]Password of " + tview.Escape(m.UID) + " reset[-]")
	})
	w.start()
}
