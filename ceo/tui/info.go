package tui

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/rivo/tview"

	"github.com/csclub/ceo/ceo/members"
	"github.com/csclub/ceo/ceo/remote"
	"github.com/csclub/ceo/ceo/terms"
)

// memberDetails is the text of the Member Details page.
func memberDetails(m *members.Member, groups []string) string {
	kind := "member"
	if m.Club {
		kind = "club"
	}
	lines := []string{
		"Name: " + m.Name,
		"User: " + m.UID,
		"Program: " + m.Program,
		"Shell: " + m.Shell,
		"Home: " + m.Home,
		"Account: " + kind,
		"",
		"Terms: " + termList(m.Terms),
	}
	if len(m.NonMemberTerms) > 0 {
		lines = append(lines, "Rep Terms: "+termList(m.NonMemberTerms))
	}
	if len(m.Positions) > 0 {
		lines = append(lines, "Positions: "+strings.Join(m.Positions, ", "))
	}
	if groups != nil {
		lines = append(lines, "Groups: "+strings.Join(groups, ", "))
	}
	return strings.Join(lines, "\n")
}

func (u *UI) displayMember() {
	var m *members.Member
	var groups []string
	w := u.newWizard("Display Member")
	up := w.page("Member Information", "")
	user := up.userInput("Username: ", u.a.User(), 20, u.members)
	up.onNext = func(proceed func()) {
		uid := strings.TrimSpace(user.GetText())
		u.lookup("Looking up "+uid, func(ctx context.Context) (err error) {
			m, groups, err = u.memberAndGroups(ctx, uid)
			return err
		}, members.ErrNoSuchMember, "Member not found", proceed)
	}
	dp := w.page("Member Details", "")
	dp.onShow = func() { dp.setText(memberDetails(m, groups)) }
	w.start()
}

// memberAndGroups reads a member and the groups they are in, for
// memberDetails.
func (u *UI) memberAndGroups(ctx context.Context, uid string) (*members.Member, []string, error) {
	m, err := u.a.Dir.Get(ctx, uid)
	if err != nil {
		return nil, nil, err
	}
	groups, err := u.a.Dir.Groups(ctx, uid)
	return m, groups, err
}

// showMember opens a window with a member's details.
func (u *UI) showMember(uid string) {
	var m *members.Member
	var groups []string
	u.work("Looking up "+uid, func(ctx context.Context) (err error) {
		m, groups, err = u.memberAndGroups(ctx, uid)
		return err
	}, u.orErrorStatus(func() {
		u.textWindow("Member Details", memberDetails(m, groups))
	}))
}

// textWindow shows text with a Close button.
func (u *UI) textWindow(title, text string) {
	tv := tview.NewTextView().SetWordWrap(true).SetText(text)
	tv.SetBorderPadding(1, 0, 1, 1)
	form := tview.NewForm().AddButton("Close", u.pop)
	form.SetBorderPadding(1, 0, 1, 1)
	flex := tview.NewFlex().SetDirection(tview.FlexRow).
		AddItem(tv, 1, 0, false).
		AddItem(form, 0, 1, true)
	fitText(flex, tv, func(width, height int) int { return max(min(wrappedHeight(text, width)+1, height-3), 1) })
	u.push(title, flex, form)
}

// memberRow is one line of a member list.
func memberRow(m members.Member) string {
	return fmt.Sprintf("%-12s %-30s %s", m.UID, trunc(m.Name, 30), trunc(m.Program, 28))
}

func trunc(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "~"
}

// memberList opens a window listing ms; Enter shows a member's details.
func (u *UI) memberList(title string, ms []members.Member) {
	if len(ms) == 0 {
		u.textWindow(title, "No members found.")
		return
	}
	items := make([]menuItem, 0, len(ms))
	for _, m := range ms {
		items = append(items, menuItem{memberRow(m), func() { u.showMember(m.UID) }})
	}
	header := fmt.Sprintf("  %-12s %-30s %s", "User", "Name", "Program")
	t := newMenu([]section{{header, items}})
	u.push(fmt.Sprintf("%s (%d)", title, len(ms)), t, t)
	u.setStatus("[gray]Enter shows a member, Esc returns to the menu.[-]")
}

// searchForm is one search wizard: a page with one field whose trimmed
// text parse turns into the search (or an error status), run on Search.
type searchForm struct {
	wizard, title, help, label, initial string
	width                               int
	search                              func(text string) (title string, fn func(context.Context) ([]members.Member, error), errStatus string)
}

func (u *UI) searchForm(f searchForm) {
	w := u.newWizard(f.wizard)
	p := w.page(f.title, f.help)
	field := p.input(f.label, f.initial, f.width)
	p.nextLabel = "Search"
	p.onNext = func(func()) {
		title, fn, bad := f.search(strings.TrimSpace(field.GetText()))
		if bad != "" {
			u.errorStatus(bad)
			return
		}
		u.searchWith(title, fn)
	}
	w.start()
}

func (u *UI) searchByTerm() {
	cur := u.a.Current().String()
	u.searchForm(searchForm{wizard: "By Term", title: "Terms Members", help: "Members registered for a term, e.g. " + cur + ".",
		label: "Term: ", initial: cur, width: 6,
		search: func(text string) (string, func(context.Context) ([]members.Member, error), string) {
			t, err := terms.Parse(text)
			if err != nil {
				return "", nil, "Invalid term"
			}
			return "Members in " + t.String(), func(ctx context.Context) ([]members.Member, error) { return u.a.Dir.ByTerm(ctx, t) }, ""
		}})
}

func (u *UI) searchByName() {
	u.searchForm(searchForm{wizard: "By Name", title: "Members by Name", help: "Every word must appear in the name.",
		label: "Name: ", width: 40,
		search: func(n string) (string, func(context.Context) ([]members.Member, error), string) {
			if n == "" {
				return "", nil, "Invalid name"
			}
			return "Members named " + n, func(ctx context.Context) ([]members.Member, error) { return u.a.Dir.ByName(ctx, n) }, ""
		}})
}

func (u *UI) searchByGroup() {
	u.searchForm(searchForm{wizard: "By Group", title: "Members by Group",
		label: "Group: ", width: 30,
		search: func(g string) (string, func(context.Context) ([]members.Member, error), string) {
			if g == "" {
				return "", nil, "Invalid group"
			}
			return "Members of " + g, func(ctx context.Context) ([]members.Member, error) { return u.a.Dir.ByGroup(ctx, g) }, ""
		}})
}

// searchWith runs a search and replaces the search window with the list.
func (u *UI) searchWith(title string, search func(ctx context.Context) ([]members.Member, error)) {
	var ms []members.Member
	u.work("Searching", func(ctx context.Context) error {
		var err error
		ms, err = search(ctx)
		return err
	}, u.orErrorStatus(func() {
		u.pop()
		u.memberList(title, ms)
	}))
}

func (u *UI) changeShell() {
	var m *members.Member
	var shell string
	var shells []string
	var result error
	w := u.newWizard("Change Shell")
	w.page("Changing Login Shell", "You can change your shell here. Request more shells by emailing systems-committee.")
	up := w.page("Member Information", "")
	user := up.userInput("Username: ", u.a.User(), 20, u.members)
	up.onNext = func(proceed func()) {
		var err error
		if shells, err = members.Shells(u.cfg.ShellsFile); err != nil {
			u.errorStatus(plain(err))
			return
		}
		if len(shells) == 0 {
			u.errorStatus("No shells are available (" + u.cfg.ShellsFile + ")")
			return
		}
		u.lookupMember(user.GetText(), &m, proceed)
	}
	sp := w.page("Choose a Shell", "")
	sp.nextLabel = "Change"
	sp.onShow = func() {
		sp.setText("Current shell of " + m.UID + ": " + m.Shell)
		cur := slices.Index(shells, m.Shell)
		sp.setChoices(shells, max(cur, 0), func(i int) { shell = shells[i] })
		w.focus()
	}
	sp.onNext = func(proceed func()) {
		u.work("Changing the shell of "+m.UID, func(ctx context.Context) error {
			// ceod checks ceod.acl and writes the directory itself.
			_, result = u.a.Remote.SetShell(ctx, m.UID, shell)
			return nil
		}, func(error) { proceed() })
	}
	w.resultPage(&result, "Failed to Change Shell", "The shell was not changed", func(err error) string {
		return fmt.Sprintf("Perhaps you don't have permission to change %s's shell? The error was:\n\n%s", m.UID, plain(err))
	}, func(ep *wpage) {
		ep.setHeading("Login Shell Changed")
		ep.setText(fmt.Sprintf("The shell for %s has been changed to %s.", m.UID, shell))
		u.setStatus("[green]Shell changed[-]")
	})
	w.start()
}

func (u *UI) createDatabase(kind string) {
	title := map[string]string{remote.MySQL: "MySQL", remote.PostgreSQL: "PostgreSQL"}[kind]
	var (
		m    *members.Member
		path string
		pw   string
		err  error
		werr error
	)
	w := u.newWizard("Create " + title + " Database")
	p := w.page(title+" Database", "Creates the "+title+" database USERNAME for USERNAME (or resets its password) "+
		"and writes the connection details, password included, to ~USERNAME/"+remote.InfoFile(kind)+
		". You may do this for yourself, for a club whose group you are in, or (systems committee) for anyone.")
	user := p.userInput("Username: ", u.a.User(), 20, u.members)
	p.nextLabel = "Create"
	p.onNext = func(proceed func()) {
		uid := strings.TrimSpace(user.GetText())
		u.lookupMember(uid, &m, func() {
			u.work("Creating the "+title+" database "+uid, func(ctx context.Context) error {
				pw, err = u.a.Remote.CreateDatabase(ctx, kind, uid)
				if err == nil {
					path, werr = remote.WriteInfo(m.Home, kind, uid, pw)
				}
				return nil
			}, func(error) { proceed() })
		})
	}
	ep := w.page("", "")
	ep.noBack = true
	ep.onShow = func() {
		defer func() { pw = "" }()
		if err != nil {
			ep.setHeading("Failed to Create the Database")
			ep.setText("We failed to create the database. The error was:\n\n" + plain(err))
			u.errorStatus("The database was not created")
			return
		}
		ep.setHeading(title + " Database Created")
		info := fmt.Sprintf("Connection Information:\n\nDatabase: %s\nUsername: %s\nHostname: localhost\n", m.UID, m.UID)
		if werr != nil {
			ep.setText(info + "Password: " + pw + "\n\nAn error occurred writing the settings file: " + plain(werr) +
				"\nWrite the password down now: it is not stored anywhere else.")
			u.errorStatus("The settings file was not written")
			return
		}
		ep.setText(info + "\nSettings written to " + path + ".")
		u.setStatus("[green]Database created[-]")
	}
	w.start()
}
