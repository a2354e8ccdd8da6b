package tui

import (
	"strings"

	"github.com/gdamore/tcell/v2"
	"github.com/rivo/tview"
)

// menuItem is one choice of a menu.
type menuItem struct {
	label string
	run   func()
}

// section is a titled group of choices ("" for none).
type section struct {
	title string
	items []menuItem
}

// selectMarker is drawn before the selected choice; also what tests and
// screen readers key on, since colours do not survive a text capture.
const selectMarker = "> "

// newMenu builds a menu: section titles are not selectable, the selected
// item is marked with selectMarker, Enter runs it.
func newMenu(sections []section) *tview.Table {
	t := tview.NewTable().SetSelectable(true, false)
	// No blank line at the top: the main menu just fits 80x24 with Exit.
	t.SetBorderPadding(0, 0, 2, 1)
	t.SetSelectedStyle(tcell.StyleDefault.Background(tcell.ColorTeal).Foreground(tcell.ColorBlack))
	var runs []func()
	row := 0
	for i, s := range sections {
		// A blank row between titled sections; an untitled one (the main
		// menu's Exit) follows without, so the menu fits 80x24.
		if i > 0 && s.title != "" {
			t.SetCell(row, 0, tview.NewTableCell("").SetSelectable(false))
			runs = append(runs, nil)
			row++
		}
		if s.title != "" {
			t.SetCell(row, 0, tview.NewTableCell(s.title).SetSelectable(false).
				SetTextColor(tcell.ColorYellow).SetAttributes(tcell.AttrBold))
			runs = append(runs, nil)
			row++
		}
		for _, it := range s.items {
			t.SetCell(row, 0, tview.NewTableCell("  "+tview.Escape(it.label)).SetReference(it.label).SetExpansion(1))
			runs = append(runs, it.run)
			row++
		}
	}
	mark := func(sel int) { markRow(t, sel) }
	t.SetSelectionChangedFunc(func(r, _ int) { mark(r) })
	t.SetSelectedFunc(func(r, _ int) {
		if r < len(runs) && runs[r] != nil {
			runs[r]()
		}
	})
	t.SetInputCapture(func(ev *tcell.EventKey) *tcell.EventKey {
		if ev.Key() != tcell.KeyRune || ev.Modifiers()&tcell.ModAlt != 0 {
			return ev
		}
		jumpTo(t, ev.Rune())
		return nil // letters never reach the table (it would take j/k/g/G as moves)
	})
	// Select the first selectable row.
	for r := range runs {
		if runs[r] != nil {
			t.Select(r, 0)
			mark(r)
			break
		}
	}
	return t
}

// jumpTo selects the next entry after the selected one (wrapping
// around) whose label starts with letter, ignoring case, as legacy menus
// did.
func jumpTo(t *tview.Table, letter rune) {
	want := strings.ToLower(string(letter))
	cur, _ := t.GetSelection()
	n := t.GetRowCount()
	for i := 1; i <= n; i++ {
		r := (cur + i) % n
		label, ok := t.GetCell(r, 0).GetReference().(string)
		if ok && strings.HasPrefix(strings.ToLower(label), want) {
			t.Select(r, 0)
			return
		}
	}
}

// mainMenu shows the legacy top menu, ordered for the user: office staff
// and syscom see the office entries first.
func (u *UI) mainMenu() {
	office := section{"Office Staff", []menuItem{
		{"New Member", u.officeOnly("New Member", "add members", u.newMember)},
		{"New Club Rep", u.officeOnly("New Club Rep", "add club reps", u.newClubRep)},
		{"Renew Membership", u.officeOnly("Renew Membership", "register terms", u.renewMember)},
		{"Renew Club Rep", u.officeOnly("Renew Club Rep", "register terms", u.renewClubRep)},
		{"New Club", u.officeOnly("New Club", "add clubs", u.newClub)},
		{"Reset Password", u.officeOnly("Reset Password", "reset passwords", u.resetPassword)},
		{"Library", u.libraryMenu},
	}}
	unrestricted := section{"Unrestricted", []menuItem{
		{"Display Member", u.displayMember},
		{"Search Members", u.searchMenu},
		{"Change Shell", u.changeShell},
		{"Create MySQL database", func() { u.createDatabase("mysql") }},
		{"Create PostgreSQL database", func() { u.createDatabase("postgresql") }},
	}}
	syscom := section{"Systems Committee", []menuItem{
		{"Manage Club or Group Members", u.manageGroup},
		{"Manage Positions", u.managePositions},
	}}
	exit := section{"", []menuItem{{"Exit", u.tv.Stop}}}
	var sections []section
	if u.groups["office"] || u.groups["syscom"] {
		sections = []section{office, unrestricted, syscom, exit}
	} else {
		sections = []section{unrestricted, office, syscom, exit}
	}
	m := newMenu(sections)
	u.push("Main Menu", m, m)
	u.setStatus("[gray]Arrows or a letter choose, Enter opens, Esc exits.[-]")
}

// officeOnly runs a wizard that only office staff and the systems
// committee may complete; anyone else is told so at once, not after
// filling it in (ceod and the directory refuse them anyway).
func (u *UI) officeOnly(title, what string, run func()) func() {
	return func() {
		if u.groups["office"] || u.groups["syscom"] {
			run()
			return
		}
		u.textWindow(title, "Only office staff and the systems committee may "+what+", and "+u.a.User()+
			" is in neither the office nor the syscom group.\n\nAsk office staff to do this for you.")
	}
}

// subMenu opens a menu window with a Back entry.
func (u *UI) subMenu(title string, items []menuItem) {
	items = append(items, menuItem{"Back", u.pop})
	m := newMenu([]section{{"", items}})
	u.push(title, m, m)
}

func (u *UI) searchMenu() {
	u.subMenu("Search", []menuItem{
		{"Members by term", u.searchByTerm},
		{"Members by name", u.searchByName},
		{"Members by group", u.searchByGroup},
	})
}

// markRow puts selectMarker before the label of row sel only, and
// scrolls a menu taller than its window so that the title of sel's
// section stays in view with it.
func markRow(t *tview.Table, sel int) {
	top := sel
	for top > 0 && t.GetCell(top-1, 0).GetReference() == nil && t.GetCell(top-1, 0).Text != "" {
		top--
	}
	if row, col := t.GetOffset(); row > top {
		t.SetOffset(top, col)
	}
	for r := 0; r < t.GetRowCount(); r++ {
		c := t.GetCell(r, 0)
		label, ok := c.GetReference().(string)
		if !ok {
			continue
		}
		if r == sel {
			c.SetText(selectMarker + tview.Escape(label))
		} else {
			c.SetText("  " + tview.Escape(label))
		}
	}
}
