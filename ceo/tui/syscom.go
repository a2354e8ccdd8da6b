package tui

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/rivo/tview"

	"github.com/csclub/ceo/ceo/members"
	"github.com/csclub/ceo/ceo/remote"
)

func (u *UI) manageGroup() {
	var g *members.Group
	w := u.newWizard("Manage Club or Group Members")
	w.page("Managing Club or Group", "Adding a member to a club will also grant them access to the club's files "+
		"and allow them to become_club.\n\nceod makes the changes, as its ACL allows: the systems committee for any group, "+
		"office staff for a club's group, a club's members for their club.")
	p := w.page("Club or Group Information", "")
	group := p.input("Club or Group: ", "", 30)
	p.nextLabel = "Open"
	p.onNext = func(func()) {
		name := strings.TrimSpace(group.GetText())
		if name == "" {
			u.errorStatus("Invalid group")
			return
		}
		u.lookup("Looking up group "+name, func(ctx context.Context) error {
			var err error
			g, err = u.a.Dir.GetGroup(ctx, name)
			return err
		}, members.ErrNoSuchGroup, "Group not found", func() {
			u.pop()
			u.groupWindow(g)
		})
	}
	w.start()
}

// groupWindow lists a group's members and adds or removes one.
func (u *UI) groupWindow(g *members.Group) {
	text := tview.NewTextView().SetWordWrap(true)
	text.SetBorderPadding(1, 0, 1, 1)
	form := tview.NewForm()
	form.SetBorderPadding(1, 0, 1, 1)
	user := tview.NewInputField().SetLabel("Username: ")
	form.AddFormItem(&fitField{InputField: user, width: 20})
	u.formKeys(form)
	u.completion(form, user, u.members)
	flex := tview.NewFlex().SetDirection(tview.FlexRow)
	var body string
	fitText(flex, text, func(width, height int) int { return max(min(wrappedHeight(body, width)+1, height-5), 1) })
	show := func() {
		body = fmt.Sprintf("Members of %s (%d): %s", g.Name, len(g.Members), strings.Join(g.Members, ", "))
		if len(g.Members) == 0 {
			body = "The group " + g.Name + " has no members."
		}
		text.SetText(body)
	}
	// The next name is typed where the last one was.
	refocus := func() {
		form.SetFocus(0)
		u.tv.SetFocus(form)
	}
	change := func(add bool) {
		uid := strings.TrimSpace(user.GetText())
		if uid == "" {
			refocus()
			u.errorStatus("Type a user name first")
			return
		}
		verb, done := "Adding "+uid+" to "+g.Name, "Added "+uid+" to "+g.Name
		if !add {
			verb, done = "Removing "+uid+" from "+g.Name, "Removed "+uid+" from "+g.Name
		}
		var ng *members.Group
		var res []remote.Status
		u.work(verb, func(ctx context.Context) error {
			// ceod's group op: ceod.acl decides, ceod writes, with the
			// cascades (office brings cdrom, audio, ...).
			var err error
			if res, err = u.a.Remote.ChangeGroup(ctx, g.Name, add, []string{uid}); err != nil {
				return err
			}
			ng, err = u.a.Dir.GetGroup(ctx, g.Name)
			return err
		}, func(err error) {
			refocus()
			if err != nil {
				u.errorStatus(plain(err))
				return
			}
			*g = *ng
			user.SetText("")
			show()
			u.setStatus("[green]" + tview.Escape(done+cascadeNote(res)) + "[-]")
		})
	}
	form.AddButton("Add", func() { change(true) })
	form.AddButton("Remove", func() { change(false) })
	form.AddButton("Close", u.pop)
	flex.AddItem(text, 2, 0, false).AddItem(form, 0, 1, true)
	show()
	u.push("Manage "+g.Name, flex, form)
}

// cascadeNote tells which other groups a change brought along: ceod's
// messages after the first, one per group changed.
func cascadeNote(res []remote.Status) string {
	if len(res) < 2 {
		return ""
	}
	var more []string
	for _, st := range res[1:] {
		more = append(more, st.Message)
	}
	return " (" + strings.Join(more, "; ") + ")"
}

func (u *UI) managePositions() {
	var held map[string][]string
	u.work("Reading positions", func(ctx context.Context) error {
		var err error
		held, err = u.a.Dir.HoldersOf(ctx)
		return err
	}, u.orErrorStatus(func() {
		u.positionsWizard(held)
	}))
}

func (u *UI) positionsWizard(held map[string][]string) {
	want := map[string][]string{}
	var failed []string
	w := u.newWizard("Manage Positions")
	w.page("Managing Positions", "Enter a username for each position. If a position is held by multiple people, "+
		"enter a comma-separated list of usernames. If a position is held by nobody leave the username blank.")
	p := w.page("Positions", "")
	fields := map[string]*tview.InputField{}
	for _, pos := range members.Positions {
		fields[pos.ID] = p.userInput(pos.Title+": ", strings.Join(held[pos.ID], ","), 30, u.members)
	}
	p.nextLabel = "Save"
	p.onNext = func(proceed func()) {
		var all []string
		where := map[string]string{} // a user name's first position, for the error
		for _, pos := range members.Positions {
			var uids []string
			for _, x := range strings.Split(fields[pos.ID].GetText(), ",") {
				if x = strings.TrimSpace(x); x != "" {
					uids = append(uids, x)
					if where[x] == "" {
						where[x] = pos.Title
					}
				}
			}
			slices.Sort(uids)
			want[pos.ID] = slices.Compact(uids)
			all = append(all, want[pos.ID]...)
		}
		slices.Sort(all)
		all = slices.Compact(all)
		var bad string
		u.work("Saving positions", func(ctx context.Context) error {
			for _, uid := range all {
				if _, err := u.a.Dir.Get(ctx, uid); errors.Is(err, members.ErrNoSuchMember) {
					bad = uid
					return nil
				} else if err != nil {
					return err
				}
			}
			failed = nil
			for _, pos := range members.Positions {
				if slices.Equal(want[pos.ID], held[pos.ID]) {
					continue
				}
				// ceod's positions op: ceod.acl decides, ceod writes.
				if _, err := u.a.Remote.SetPosition(ctx, pos.ID, want[pos.ID]); err != nil {
					failed = append(failed, pos.Title+": "+firstParagraph(plain(err)))
				}
			}
			return nil
		}, func(err error) {
			switch {
			case err != nil:
				u.errorStatus(plain(err))
			case bad != "":
				u.errorStatus(where[bad] + ": there is no member " + bad + ". Nothing was saved.")
			default:
				proceed()
			}
		})
	}
	ep := w.page("", "")
	ep.noBack = true
	ep.onShow = func() {
		if len(failed) > 0 {
			ep.setHeading("Some Positions Not Updated")
			ep.setText("These positions were left as they were:\n\n" + strings.Join(failed, "\n") +
				"\n\nThe other changes were saved.")
			u.errorStatus("Some positions were not updated")
			return
		}
		ep.setHeading("Positions Updated")
		ep.setText("Congratulations, positions have been updated. You should rebuild the website in order to update the Positions page.")
		u.setStatus("[green]Positions updated[-]")
	}
	w.start()
}

// firstParagraph drops the hint plain adds after a blank line.
func firstParagraph(s string) string {
	first, _, _ := strings.Cut(s, "\n\n")
	return first
}
