package tui

import (
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
	t.SetBorderPadding(1, 0, 2, 1)
	t.SetSelectedStyle(tcell.StyleDefault.Background(tcell.ColorTeal).Foreground(tcell.ColorBlack))
	var runs []func()
	row := 0
	for i, s := range sections {
		if i > 0 {
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

// mainMenu shows the legacy top menu, ordered for the user: office staff
// and syscom see the office entries first.
func (u *UI) mainMenu() {
	office := section{"Office Staff", []menuItem{
		{"New Member", u.newMember},
		{"New Club Rep", u.newClubRep},
		{"Renew Membership", u.renewMember},
		{"Renew Club Rep", u.renewClubRep},
		{"New Club", u.newClub},
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
	u.setStatus("[gray]Arrows choose, Enter opens, Esc goes back.[-]")
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

// markRow puts selectMarker before the label of row sel only.
func markRow(t *tview.Table, sel int) {
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
