package tui

import (
	"context"
	"fmt"
	"strings"

	"github.com/gdamore/tcell/v2"
	"github.com/rivo/tview"

	"github.com/csclub/ceo/ceo/uwdir"
)

// completeLimit is how many names one Tab fetches: enough to cycle
// through, few enough that a one-letter prefix stays one small answer.
const completeLimit = 20

// completer returns user names starting with prefix.
type completer func(ctx context.Context, prefix string) ([]string, error)

// members completes from the club's directory.
func (u *UI) members(ctx context.Context, prefix string) ([]string, error) {
	return u.a.Dir.CompleteUsers(ctx, prefix, completeLimit)
}

// university completes from the university directory (new members are
// not in the club's yet); nil if none is configured.
func (u *UI) university() completer {
	if u.cfg.SourceURL == "" || u.cfg.SourceURL == "none" {
		return nil
	}
	return func(ctx context.Context, prefix string) (uids []string, err error) {
		err = u.withUniversity(ctx, func(d *uwdir.Dir) error {
			uids, err = d.Complete(prefix, completeLimit)
			return err
		})
		return uids, err
	}
}

// withUniversity runs fn on a fresh anonymous connection to the
// university directory: lookups are rare, a connection per one is simpler
// than keeping one alive.
func (u *UI) withUniversity(ctx context.Context, fn func(d *uwdir.Dir) error) error {
	d, err := uwdir.Dial(ctx, u.cfg.SourceURL, u.cfg.SourceBase, u.cfg.RequestTimeout)
	if err != nil {
		return err
	}
	defer d.Close()
	return fn(d)
}

// formKeys gives form the legacy keys: Down and Up move to the next and
// previous field (Down from the last one to the buttons, Up from the
// buttons to the last field).
func (u *UI) formKeys(form *tview.Form) {
	form.SetInputCapture(func(ev *tcell.EventKey) *tcell.EventKey {
		switch ev.Key() {
		case tcell.KeyDown:
			u.moveFocus(form, 1)
		case tcell.KeyUp:
			u.moveFocus(form, -1)
		default:
			return ev
		}
		return nil
	})
}

// completion makes Tab in field, an item of form, complete a user name
// (the word after the last comma) from complete, and Tab again cycle
// through the matches. Tab moves on when the field is empty, nothing
// matches, the name is already the only match, or the directory cannot
// be asked.
func (u *UI) completion(form *tview.Form, field *tview.InputField, complete completer) {
	var matches []string // of the last completion, while cycling
	var next int
	var shown string // what the last completion put in the field
	field.SetInputCapture(func(ev *tcell.EventKey) *tcell.EventKey {
		if ev.Key() != tcell.KeyTab || complete == nil {
			return ev
		}
		text := field.GetText()
		head, word := splitLastWord(text)
		if len(matches) > 1 && text == shown {
			next = (next + 1) % len(matches)
			shown = head + matches[next]
			field.SetText(shown)
			u.setStatus(fmt.Sprintf("[gray]%s (%d of %d); Tab for the next[-]", tview.Escape(matches[next]), next+1, len(matches)))
			return nil
		}
		matches = nil
		if word == "" {
			return ev
		}
		var found []string
		u.work("Completing "+word, func(ctx context.Context) error {
			var err error
			found, err = complete(ctx, word)
			return err
		}, func(err error) {
			switch {
			case err != nil:
				// Completion is an aid: say why it failed, and go on.
				u.setStatus("[yellow]No completion: " + tview.Escape(firstParagraph(plain(err))) + "[-]")
				u.moveFocus(form, 1)
			case field.GetText() != text:
				// Changed meanwhile (cannot happen while keys wait): leave it.
			case len(found) == 0:
				u.setStatus("[gray]No user name starts with " + tview.Escape(word) + "[-]")
				u.moveFocus(form, 1)
			case len(found) == 1 && found[0] == word:
				u.moveFocus(form, 1)
			default:
				matches, next = found, 0
				shown = head + found[0]
				field.SetText(shown)
				if len(found) > 1 {
					more := ""
					if len(found) == completeLimit {
						more = " or more"
					}
					u.setStatus(fmt.Sprintf("[gray]%d%s names: %s; Tab for the next[-]", len(found), more, tview.Escape(strings.Join(found, " "))))
				}
			}
		})
		if u.busy != nil {
			u.busy.typeahead = true
		}
		return nil
	})
}

// splitLastWord splits "a, b, c" into "a, b, " and "c".
func splitLastWord(s string) (head, word string) {
	i := strings.LastIndex(s, ",") + 1
	rest := s[i:]
	word = strings.TrimSpace(rest)
	return s[:i] + rest[:len(rest)-len(strings.TrimLeft(rest, " "))], word
}

// moveFocus moves the cursor delta fields on from the focused one of
// form: past the last field to the first button, from a button back to
// the last field, never before the first field.
func (u *UI) moveFocus(form *tview.Form, delta int) {
	i, b := form.GetFocusedItemIndex()
	n := form.GetFormItemCount()
	switch {
	case b >= 0 && delta < 0 && n > 0:
		i = n - 1
	case i >= 0 && i+delta >= 0 && i+delta <= n:
		i += delta
	default:
		return
	}
	form.SetFocus(i)
	u.tv.SetFocus(form)
}

// fitField is an input field that narrows to the width the form gives it
// (tview draws the whole field width even past the window's border).
type fitField struct {
	*tview.InputField
	width      int // wanted
	labelWidth int // the form's
}

func (f *fitField) SetFormAttributes(labelWidth int, labelColor, bgColor, fieldTextColor, fieldBgColor tcell.Color) tview.FormItem {
	f.labelWidth = labelWidth
	f.InputField.SetFormAttributes(labelWidth, labelColor, bgColor, fieldTextColor, fieldBgColor)
	return f
}

func (f *fitField) Draw(screen tcell.Screen) {
	_, _, w, _ := f.GetRect()
	label := f.labelWidth
	if label == 0 {
		label = tview.TaggedStringWidth(f.GetLabel())
	}
	f.SetFieldWidth(max(1, min(f.width, w-label)))
	f.InputField.Draw(screen)
}

// fillFromUniversity fills in name and program from the university
// directory when the cursor leaves user, as legacy did, without waiting
// for it: only fields that are empty, or still hold what the last fill
// put there, are changed.
func (u *UI) fillFromUniversity(user, name, program *tview.InputField) {
	if u.university() == nil {
		return
	}
	var asked, filledName, filledProgram string
	user.SetBlurFunc(func() {
		uid := strings.TrimSpace(user.GetText())
		if uid == "" || uid == asked {
			return
		}
		asked = uid
		go func() {
			p, ok, err := u.lookupUniversity(uid)
			u.tv.QueueUpdateDraw(func() {
				if strings.TrimSpace(user.GetText()) != uid {
					return // typed over meanwhile
				}
				set := func(f *tview.InputField, filled *string, v string) {
					if t := f.GetText(); (t == "" || t == *filled) && t != v {
						f.SetText(v)
						*filled = v
					}
				}
				// A note, not over a problem the status line shows.
				note := func(markup string) {
					if u.statusMsg == "" && u.busy == nil {
						u.setStatus(markup)
					}
				}
				switch {
				case err != nil:
					note("[yellow]" + tview.Escape(firstParagraph(plain(err))) + "[-]")
				case !ok:
					set(name, &filledName, "")
					set(program, &filledProgram, "")
				default:
					set(name, &filledName, p.Name)
					set(program, &filledProgram, p.Program)
					note("[gray]Name and program of " + tview.Escape(uid) + " from the university directory.[-]")
				}
			})
		}()
	})
}

func (u *UI) lookupUniversity(uid string) (p uwdir.Person, ok bool, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), u.cfg.RequestTimeout)
	defer cancel()
	err = u.withUniversity(ctx, func(d *uwdir.Dir) error {
		p, ok, err = d.Lookup(uid)
		return err
	})
	return p, ok, err
}
