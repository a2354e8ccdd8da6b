package tui

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/csclub/ceo/ceo/members"
	"github.com/csclub/ceo/ceo/remote"
	"github.com/csclub/ceo/ceo/terms"
)

// feePerTerm is the membership fee, in dollars (legacy front-end text).
const feePerTerm = 2

func fee(n int) string { return fmt.Sprintf("$%d.00", n*feePerTerm) }

func plural(n int, word string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, word)
	}
	return fmt.Sprintf("%d %ss", n, word)
}

const clubRepText = "This is for people who need access to a club account, but are not " +
	"currently interested in full CSC membership. Registering a user in this way grants one " +
	"term of free access to our machines, without any other membership privileges (they " +
	"can't vote, hold office, etc). If such a user later decides to join, use the Renew " +
	"Membership option."

// newAccount is the state of the New Member / New Club Rep / New Club
// wizards.
type newAccount struct {
	acc    remote.NewAccount
	nterms int
	steps  []remote.Status
	err    error // of adduser
	regErr error // of the term registration
	terms  []terms.Term
}

func (u *UI) newMember()  { u.accountWizard(remote.Member) }
func (u *UI) newClubRep() { u.accountWizard(remote.ClubRep) }
func (u *UI) newClub()    { u.accountWizard(remote.Club) }

func (u *UI) accountWizard(kind remote.Kind) {
	st := &newAccount{acc: remote.NewAccount{Kind: kind}, nterms: 1}
	title := map[remote.Kind]string{remote.Member: "New Member", remote.ClubRep: "New Club Rep Account", remote.Club: "New Club Account"}[kind]
	w := u.newWizard(title)

	switch kind {
	case remote.Member:
		w.page("Joining the Computer Science Club",
			"CSC membership is $2.00 per term. Please ensure the fee is deposited into the safe before continuing.")
	case remote.ClubRep:
		w.page("Club Rep Account", clubRepText)
	case remote.Club:
		w.page("Club Accounts", "We provide other UW clubs accounts for email and web hosting, free of charge. "+
			"Like members, clubs get web hosting at http://csclub.uwaterloo.ca/~clubid/. We can also arrange for "+
			"uwaterloo.ca subdomains; please instruct the club representative to contact the systems committee "+
			"for more information. Club accounts do not have passwords, and exist primarily to own club data.")
	}

	// Who.
	var user, name, program, email interface{ GetText() string }
	if kind == remote.Club {
		p := w.page("Club Information", "")
		user = p.input("Username: ", "", 20)
		name = p.input("Club Name: ", "", 40)
		p.onNext = func(proceed func()) {
			st.acc.Username, st.acc.Name = strings.TrimSpace(user.GetText()), strings.TrimSpace(name.GetText())
			u.checkNewAccount(st.acc, proceed)
		}
	} else {
		p := w.page("Member Information", "Notes:\n- Make sure to check ID (watcard, drivers license)\n"+
			"- Make sure to use UW userids for current students")
		uf := p.userInput("Username: ", "", 20, u.university())
		nf := p.input("Full name: ", "", 40)
		pf := p.input("Program of Study: ", "", 40)
		u.fillFromUniversity(uf, nf, pf)
		user, name, program = uf, nf, pf
		email = p.input("Email: ", "", 40)
		p.onNext = func(proceed func()) {
			st.acc.Username = strings.TrimSpace(user.GetText())
			st.acc.Name = strings.TrimSpace(name.GetText())
			st.acc.Program = strings.TrimSpace(program.GetText())
			st.acc.Email = strings.ToLower(strings.TrimSpace(email.GetText()))
			u.checkNewAccount(st.acc, proceed)
		}

		// How many terms.
		cur := u.a.Current()
		tp := w.page("Number of Terms", "")
		count := tp.input("Count: ", "1", 4)
		describe := func() {
			n, err := strconv.Atoi(strings.TrimSpace(count.GetText()))
			if err != nil || n < 1 {
				tp.setText("The account will be registered for this many consecutive terms, starting with the current term (" + cur.String() + ").")
				return
			}
			ts := terms.Interval(cur, n)
			text := fmt.Sprintf("The account will be registered for this many consecutive terms, starting with the current term.\n\nTerms: %s", strings.Join(terms.Strings(ts), ", "))
			if kind == remote.Member {
				text += fmt.Sprintf("\nFee: %s x $2.00 = %s. Please ensure the fee is deposited into the safe.", plural(n, "term"), fee(n))
			} else {
				text += "\nClub reps are not charged."
			}
			tp.setText(text)
		}
		count.SetChangedFunc(func(string) { u.clearStatus(); describe() })
		tp.onShow = describe
		tp.onNext = func(proceed func()) {
			n, err := strconv.Atoi(strings.TrimSpace(count.GetText()))
			switch {
			case err != nil:
				u.errorStatus("Count must be a number")
			case n < 1:
				u.errorStatus("Registering for zero terms?")
			case n > 12:
				u.errorStatus("Register at most 12 terms at a time")
			default:
				st.nterms = n
				proceed()
			}
		}

		w.page("Machine Usage Policy", "Ensure the new member has signed the Machine Usage Policy. "+
			"Accounts of users who have not signed will be suspended if discovered.")

		pp := w.page("Member Password", "")
		pair := pp.passwordPair()
		pp.onShow = pair.clear
		pp.onNext = func(proceed func()) {
			if pw, ok := pair.check(false); ok {
				st.acc.Password = pw
				proceed()
			}
		}
	}

	// Confirm, then do it.
	cp := w.page("Ready to Add", "")
	cp.nextLabel = "Add"
	cp.onShow = func() {
		lines := []string{"Username: " + st.acc.Username, "Name: " + st.acc.Name}
		if kind != remote.Club {
			lines = append(lines, "Program: "+st.acc.Program, "Email: "+st.acc.Email)
			ts := terms.Interval(u.a.Current(), st.nterms)
			line := "Terms: " + strings.Join(terms.Strings(ts), ", ")
			if kind == remote.Member {
				line += " (fee " + fee(st.nterms) + ")"
			} else {
				line += " (as a club rep)"
			}
			lines = append(lines, line)
		}
		cp.setText(strings.Join(lines, "\n") + "\n\nChoose Add to create the account.")
	}
	cp.onNext = func(proceed func()) {
		u.work("Adding "+st.acc.Username, func(ctx context.Context) error {
			st.steps, st.err = u.a.Remote.AddUser(ctx, st.acc)
			if st.err != nil || kind == remote.Club {
				return nil
			}
			st.terms = terms.Interval(u.a.Current(), st.nterms)
			// ceod's renew op registers them (the front end writes nothing).
			_, st.regErr = u.a.Remote.Renew(ctx, st.acc.Username, terms.Strings(st.terms), kind == remote.ClubRep)
			return nil
		}, func(error) { proceed() })
	}

	ep := w.page("", "")
	ep.noBack = true
	ep.onShow = func() {
		st.acc.Password = ""
		var msgs []string
		for _, s := range st.steps {
			msgs = append(msgs, s.Message)
		}
		switch {
		case st.err != nil:
			ep.setHeading("Failures Occurred Adding User")
			var oe *remote.OpError
			problem := plain(st.err)
			if errors.As(st.err, &oe) {
				problem = strings.Join(msgs, "\n")
			}
			ep.setText("The error was:\n\n" + problem + "\n\nThe account may be partially added and you may or may not be able to log in. " +
				"Or perhaps you are not office staff. If this was not expected please contact systems committee.")
			u.errorStatus("Adding " + st.acc.Username + " failed")
		case st.regErr != nil:
			ep.setHeading("User Added, Registration Failed")
			ep.setText(strings.Join(msgs, "\n") + "\n\nThe account was created, but registering it for " +
				strings.Join(terms.Strings(st.terms), ", ") + " failed:\n\n" + plain(st.regErr) +
				"\n\nUse Renew Membership to register it.")
			u.errorStatus("Registration failed")
		default:
			ep.setHeading("User Added")
			text := strings.Join(msgs, "\n")
			if len(st.terms) > 0 {
				text += "\n\nRegistered for: " + strings.Join(terms.Strings(st.terms), ", ") + "."
			}
			ep.setText(text + fmt.Sprintf("\n\nCongratulations, %s has been added successfully. "+
				"You should also rebuild the website in order to update the memberlist.", st.acc.Username))
			u.setStatus("[green]Added " + st.acc.Username + "[-]")
		}
	}
	w.start()
}

// checkNewAccount checks the fields locally, then that the name is free
// in the directory, and calls proceed.
func (u *UI) checkNewAccount(acc remote.NewAccount, proceed func()) {
	probe := acc
	probe.Password = strings.Repeat("x", u.cfg.MinPasswordLen) // checked on its own page
	if acc.Kind == remote.Club {
		probe.Password = ""
	}
	if msg := u.a.CheckAccount(probe); msg != "" {
		u.errorStatus(msg)
		return
	}
	var taken bool
	u.work("Checking that "+acc.Username+" is free", func(ctx context.Context) error {
		_, err := u.a.Dir.Get(ctx, acc.Username)
		if err == nil {
			taken = true
			return nil
		}
		if errors.Is(err, members.ErrNoSuchMember) {
			return nil
		}
		return err
	}, func(err error) {
		switch {
		case err != nil:
			u.errorStatus(plain(err))
		case taken:
			u.errorStatus("Username " + acc.Username + " is already taken")
		default:
			proceed()
		}
	})
}

// renewal is the state of the Renew wizards.
type renewal struct {
	uid        string
	m          *members.Member
	oldForward string
	newForward string
	start      terms.Term
	terms      []terms.Term
	err        error
}

func (u *UI) renewMember()  { u.renewWizard(false) }
func (u *UI) renewClubRep() { u.renewWizard(true) }

func (u *UI) renewWizard(clubRep bool) {
	st := &renewal{}
	title := "Renew Membership"
	if clubRep {
		title = "Renew Club Rep Account"
	}
	w := u.newWizard(title)
	if clubRep {
		w.page("Renewing Club User Account", "In order for clubs to maintain websites hosted by the Computer Science Club, "+
			"they need access to our machines. We grant accounts to club users at no charge in order to provide this access. "+
			"Registering a user in this way grants one term of free access to our machines, without any other membership "+
			"privileges (they can't vote, hold office, etc). If such a user decides to join, use the Renew Membership option.")
	} else {
		w.page("Renewing Membership", "CSC membership is $2.00 per term. You may pre-register for future terms if desired.")
	}

	up := w.page("Member Information", "")
	user := up.userInput("Username: ", "", 20, u.members)
	up.onNext = func(proceed func()) { u.lookupMember(user.GetText(), &st.m, proceed) }

	// Mail forward, showing the current one.
	ep := w.page("Mail Forwarding", "")
	email := ep.input("Email: ", "", 50)
	ep.onShow = func() {
		st.uid = st.m.UID
		st.oldForward = members.Forward(st.m)
		current := "Current forward: " + st.oldForward
		if st.oldForward == "" {
			current = "Current forward: none (or ~/.forward could not be read, or is not a single address)"
		}
		ep.setText("Please ensure the forwarding address for your CSC email is up to date. You may leave this blank " +
			"if you do not want your CSC email forwarded, and intend to log in regularly to check it.\n\n" +
			current + "\n\nWarning: Changing this overwrites ~/.forward")
		email.SetText(st.oldForward)
	}
	ep.onNext = func(proceed func()) {
		fwd := strings.ToLower(strings.TrimSpace(email.GetText()))
		if err := members.CheckForward(fwd); err != nil {
			u.errorStatus(strings.TrimPrefix(err.Error(), members.ErrInvalid.Error()+": "))
			return
		}
		if fwd == st.uid+"@"+u.cfg.ListDomain {
			u.errorStatus("You cannot forward your address to itself. Leave it blank to disable forwarding.")
			return
		}
		st.newForward = fwd
		proceed()
	}

	dp := w.page("Mail Forwarding", "")
	dp.onShow = func() {
		switch {
		case st.oldForward == st.newForward && st.oldForward != "":
			dp.setText("You have chosen to leave your forwarding address as " + st.oldForward +
				". Make sure to check this email for updates from the CSC.")
		case st.oldForward == st.newForward:
			dp.setText("You have chosen not to set a forwarding address. Please check your CSC email regularly " +
				"(via IMAP, POP, or locally) for updates from the CSC.\n\nNote: If you do have a ~/.forward, we were " +
				"not able to read it or it was not a single email address. Do not worry, we have left it as is.")
		default:
			dp.setText("Updating the forwarding address...")
			u.work("Setting the mail forward of "+st.uid, func(ctx context.Context) error {
				return u.a.Remote.SetForward(ctx, st.uid, st.newForward)
			}, func(err error) {
				switch {
				case err != nil:
					dp.setText("Errors occurred updating your forwarding address:\n\n" + plain(err))
				case st.newForward != "":
					st.oldForward = st.newForward
					dp.setText(fmt.Sprintf("Your email forwarding address has been successfully set to %s. Test it out by "+
						"emailing %s@%s and making sure you receive it at your forwarding address.", st.newForward, st.uid, u.cfg.ListDomain))
				default:
					st.oldForward = ""
					dp.setText("Your email forwarding address has been successfully cleared. Please check your CSC email " +
						"regularly (via IMAP, POP, or locally) for updates from the CSC.")
				}
			})
		}
	}

	tp := w.page("Terms to Register", "")
	start := tp.input("Start: ", "", 6)
	count := tp.input("Count: ", "1", 4)
	tp.onShow = func() {
		held := st.m.Terms
		if clubRep {
			held = append(append([]terms.Term{}, st.m.Terms...), st.m.NonMemberTerms...)
		}
		text := "Already registered: " + termList(st.m.Terms)
		if len(st.m.NonMemberTerms) > 0 {
			text += "\nAs a club rep: " + termList(st.m.NonMemberTerms)
		}
		tp.setText(text + "\n\nThe current term is " + u.a.Current().String() + ".")
		start.SetText(terms.NextUnregistered(held, u.a.Current()).String())
		count.SetText("1")
	}
	tp.onNext = func(proceed func()) {
		t, err := terms.Parse(strings.TrimSpace(start.GetText()))
		if err != nil {
			u.errorStatus("Invalid start term")
			return
		}
		n, err := strconv.Atoi(strings.TrimSpace(count.GetText()))
		if err != nil || n < 1 {
			u.errorStatus("Registering for zero terms?")
			return
		}
		if n > 12 {
			u.errorStatus("Register at most 12 terms at a time")
			return
		}
		ts := terms.Interval(t, n)
		for _, x := range ts {
			if terms.Contains(st.m.Terms, x) || (clubRep && terms.Contains(st.m.NonMemberTerms, x)) {
				u.errorStatus("Already registered for " + x.String())
				return
			}
		}
		st.terms = ts
		proceed()
	}

	register := func(proceed func()) {
		u.work("Registering "+st.uid, func(ctx context.Context) error {
			// ceod's renew op: ceod.acl decides, ceod writes.
			_, st.err = u.a.Remote.Renew(ctx, st.uid, terms.Strings(st.terms), clubRep)
			return nil
		}, func(error) { proceed() })
	}
	if clubRep {
		cp := w.page("Confirm Registration", "")
		cp.nextLabel = "Register"
		cp.onShow = func() {
			cp.setText("Register " + st.uid + " as a club rep for " + plural(len(st.terms), "term") + ": " +
				termList(st.terms) + ". Club reps are not charged.")
		}
		cp.onNext = register
	} else {
		pay := w.page("Membership Fee", "")
		pay.nextLabel = "Register"
		pay.onShow = func() {
			pay.setText(fmt.Sprintf("You are registering for %s (%s), and owe the Computer Science Club %s in membership fees. "+
				"Please deposit the money in the safe before continuing.", plural(len(st.terms), "term"), termList(st.terms), fee(len(st.terms))))
		}
		pay.onNext = register
	}

	end := w.page("", "")
	end.noBack = true
	end.onShow = func() {
		who := "member"
		if clubRep {
			who = "club user"
		}
		if st.err != nil {
			end.setHeading("Failed to Register")
			end.setText("You may refund any fees paid or retry. The error was:\n\n" + plain(st.err))
			u.errorStatus("Registration failed")
			return
		}
		end.setHeading("Registration Succeeded")
		end.setText(fmt.Sprintf("The %s has been registered for the following terms: %s.", who, termList(st.terms)))
		u.setStatus("[green]Registered " + st.uid + "[-]")
	}
	w.start()
}

func termList(ts []terms.Term) string {
	if len(ts) == 0 {
		return "none"
	}
	return strings.Join(terms.Strings(ts), ", ")
}

// lookupMember reads uid into *dst and calls proceed, or shows
// "Member not found".
func (u *UI) lookupMember(uid string, dst **members.Member, proceed func()) {
	uid = strings.TrimSpace(uid)
	if uid == "" {
		u.errorStatus("Member not found")
		return
	}
	var m *members.Member
	u.lookup("Looking up "+uid, func(ctx context.Context) error {
		var err error
		m, err = u.a.Dir.Get(ctx, uid)
		return err
	}, members.ErrNoSuchMember, "Member not found", func() {
		*dst = m
		proceed()
	})
}
