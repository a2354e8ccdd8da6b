package tui

import (
	"strconv"

	"github.com/gdamore/tcell/v2"
	"github.com/rivo/tview"
)

// wizard is a legacy-style sequence of pages in one window: Next checks
// the page and moves on, Back returns, Cancel (or Esc) closes it. The last
// page has Done instead.
type wizard struct {
	u     *UI
	title string
	pages []*wpage
	cur   int
	box   *tview.Pages
	depth int // stack depth of the wizard's window
}

// wpage is one page: a heading and text, then form fields and buttons.
type wpage struct {
	w       *wizard
	heading string
	body    string
	text    *tview.TextView
	list    *tview.Table // optional choice list between text and form
	form    *tview.Form
	flex    *tview.Flex
	inputs  []*tview.InputField

	// onShow runs each time the page is shown (fill in fields, start
	// work whose result the page displays).
	onShow func()
	// onNext checks the page; it calls proceed to move on, or shows a
	// problem with errorStatus and returns. nil always proceeds.
	onNext func(proceed func())
	// noBack hides Back (pages after an action that must not be redone).
	noBack bool
	// nextLabel replaces "Next" (e.g. "Add").
	nextLabel string
}

func (u *UI) newWizard(title string) *wizard {
	return &wizard{u: u, title: title, box: tview.NewPages()}
}

// page adds a page with a heading and a paragraph.
func (w *wizard) page(heading, body string) *wpage {
	p := &wpage{w: w, heading: heading, body: body,
		text: tview.NewTextView().SetDynamicColors(true).SetWordWrap(true),
		form: tview.NewForm()}
	p.text.SetBorderPadding(1, 0, 1, 1)
	p.form.SetItemPadding(0)
	p.form.SetBorderPadding(1, 0, 1, 1)
	w.u.formKeys(p.form)
	p.flex = tview.NewFlex().SetDirection(tview.FlexRow)
	p.flex.AddItem(p.text, 0, 0, false)
	p.flex.AddItem(p.form, 0, 1, true)
	fitText(p.flex, p.text, p.textRows)
	p.setText(body)
	w.pages = append(w.pages, p)
	return p
}

// resultPage adds a wizard's last page, with no way back, reporting the
// work of the page before it: if *result is an error, failHeading with
// failText(err) and, unless failStatus is "", failStatus in the status
// line; otherwise success fills the page in.
func (w *wizard) resultPage(result *error, failHeading, failStatus string, failText func(error) string, success func(p *wpage)) *wpage {
	p := w.page("", "")
	p.noBack = true
	p.onShow = func() {
		if err := *result; err != nil {
			p.setHeading(failHeading)
			p.setText(failText(err))
			if failStatus != "" {
				w.u.errorStatus(failStatus)
			}
			return
		}
		success(p)
	}
	return p
}

// setText replaces the paragraph (markup escaped) and resizes for it.
func (p *wpage) setText(body string) {
	p.body = body
	full := "[::b]" + tview.Escape(p.heading) + "[::-]"
	if body != "" {
		full += "\n\n" + tview.Escape(body)
	}
	p.text.SetText(full)
}

// textRows is the height of the heading and paragraph at width, but no
// more than leaves room for the list and the form below it in height
// rows (the text is cut instead, at its end).
func (p *wpage) textRows(width, height int) int {
	h := wrappedHeight(p.heading, width) + 1 // top padding
	if p.body != "" {
		h += 1 + wrappedHeight(p.body, width)
	}
	below := 1 + p.form.GetFormItemCount() + 2 // padding, fields, a blank line and the buttons
	if p.list != nil {
		below += min(p.list.GetRowCount(), 15) + 1
	}
	return max(min(h, height-below), 2)
}

// input adds a text field; Enter in the last field means Next.
func (p *wpage) input(label, value string, width int) *tview.InputField {
	f := tview.NewInputField().SetLabel(label).SetText(value)
	p.addField(f, width)
	return f
}

// userInput adds a field for a user name: Tab completes it from
// complete (u.members, or nil for none).
func (p *wpage) userInput(label, value string, width int, complete completer) *tview.InputField {
	f := p.input(label, value, width)
	p.w.u.completion(p.form, f, complete)
	return f
}

// password adds a field that shows '*' for each character.
func (p *wpage) password(label string) *tview.InputField {
	f := tview.NewInputField().SetLabel(label).SetMaskCharacter('*')
	p.addField(f, 30)
	return f
}

func (p *wpage) addField(f *tview.InputField, width int) {
	// Typing is fixing: the last problem shown no longer applies.
	f.SetChangedFunc(func(string) { p.w.u.clearStatus() })
	p.form.AddFormItem(&fitField{InputField: f, width: width})
	p.inputs = append(p.inputs, f)
	for i, in := range p.inputs {
		in.SetDoneFunc(nil)
		if i == len(p.inputs)-1 {
			in.SetDoneFunc(func(k tcell.Key) {
				if k != tcell.KeyEnter {
					return
				}
				// After the form has moved its own focus on to the
				// buttons: keep the cursor in the field (where a
				// problem is fixed), then go on.
				go p.w.u.tv.QueueUpdateDraw(func() {
					p.form.SetFocus(i)
					p.w.u.tv.SetFocus(p.form)
					p.w.next()
				})
			})
		}
	}
}

// setChoices shows a list to pick one option from, between the text and
// the buttons; Enter picks and moves on. It may be called again (from
// onShow) to replace the options.
func (p *wpage) setChoices(options []string, selected int, pick func(i int)) {
	var items []menuItem
	for i, o := range options {
		items = append(items, menuItem{o, func() { pick(i); p.w.next() }})
	}
	if len(items) == 0 {
		items = []menuItem{{"(none)", func() {}}}
	}
	p.list = newMenu([]section{{"", items}})
	p.list.SetBorderPadding(1, 0, 2, 1)
	if selected > 0 && selected < len(options) {
		p.list.Select(selected, 0)
	}
	if len(options) > 0 {
		r, _ := p.list.GetSelection()
		pick(r)
	}
	p.list.SetSelectionChangedFunc(func(r, _ int) {
		markRow(p.list, r)
		if r < len(options) {
			pick(r)
		}
	})
	letters := p.list.GetInputCapture()
	p.list.SetInputCapture(func(ev *tcell.EventKey) *tcell.EventKey {
		if ev.Key() == tcell.KeyTab {
			p.w.u.tv.SetFocus(p.form)
			return nil
		}
		return letters(ev)
	})
	p.flex.Clear()
	p.flex.AddItem(p.text, 0, 0, false)
	p.flex.AddItem(p.list, min(len(items), 15)+1, 0, true)
	p.flex.AddItem(p.form, 0, 1, false)
}

// setHeading replaces the heading.
func (p *wpage) setHeading(h string) {
	p.heading = h
	p.setText(p.body)
}

// start opens the wizard's window on its first page.
func (w *wizard) start() {
	for i, p := range w.pages {
		w.box.AddPage(pageName(i), p.flex, true, false)
	}
	w.u.push(w.title, w.box, w.box)
	w.depth = len(w.u.stack)
	w.show(0)
}

func pageName(i int) string { return "p" + strconv.Itoa(i) }

func (w *wizard) show(i int) {
	w.cur = i
	p := w.pages[i]
	last := i == len(w.pages)-1
	p.form.ClearButtons()
	if last && p.nextLabel == "" {
		p.form.AddButton("Done", w.next)
	} else {
		label := "Next"
		if p.nextLabel != "" {
			label = p.nextLabel
		}
		p.form.AddButton(label, w.next)
		if i > 0 && !p.noBack {
			p.form.AddButton("Back", w.back)
		}
		p.form.AddButton("Cancel", w.close)
	}
	w.box.SwitchToPage(pageName(i))
	w.u.clearStatus()
	if p.onShow != nil {
		p.onShow()
	}
	w.focus()
}

// focus puts the cursor on the list, the first field, or the first
// button of the current page.
func (w *wizard) focus() {
	p := w.pages[w.cur]
	switch {
	case p.list != nil:
		w.u.tv.SetFocus(p.list)
	default:
		p.form.SetFocus(0)
		w.u.tv.SetFocus(p.form)
	}
}

func (w *wizard) next() {
	if w.u.busy != nil || !w.open() {
		return
	}
	p := w.pages[w.cur]
	at := w.cur
	proceed := func() {
		if !w.open() || w.cur != at {
			return // closed or moved meanwhile
		}
		if at+1 < len(w.pages) {
			w.show(at + 1)
		} else {
			w.close()
		}
	}
	if p.onNext == nil {
		proceed()
		return
	}
	p.onNext(proceed)
}

func (w *wizard) back() {
	if w.cur > 0 {
		w.show(w.cur - 1)
	}
}

// open reports whether the wizard's window is still the top one.
func (w *wizard) open() bool { return len(w.u.stack) == w.depth }

func (w *wizard) close() {
	if len(w.u.stack) >= w.depth {
		w.u.popTo(w.depth - 1)
	}
}
