// Package tui is ceo's terminal front end (tview): the legacy menus and
// wizards for office staff, members and the systems committee, and the
// library.
//
// The screen is a header line, a stack of windows (Esc closes the top
// one) and a status line. Every network call runs off the UI goroutine
// through UI.work, with a deadline and a busy indicator in the status
// line; while it runs, keys are ignored except Esc, which abandons it.
// Errors are shown in plain words, never as stack traces.
package tui

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gdamore/tcell/v2"
	"github.com/rivo/tview"

	"github.com/csclub/ceo/ceo/app"
	"github.com/csclub/ceo/ceo/config"
	"github.com/csclub/ceo/ceo/library"
	"github.com/csclub/ceo/ceo/members"
	"github.com/csclub/ceo/ceo/session"
	"github.com/csclub/ceo/ceoc"
)

// Title is the program name in the header.
const Title = "CSC Electronic Office"

// windowWidth is the widest a window gets: it fits an 80-column
// terminal. A narrower terminal gets a narrower window.
const windowWidth = 78

// typeaheadLimit bounds the keys kept while a completion is looked up.
const typeaheadLimit = 256

// UI is the running front end. Its fields are owned by the UI goroutine.
type UI struct {
	tv     *tview.Application
	cfg    *config.Config
	sess   *session.Session
	a      *app.App
	groups map[string]bool

	root   *tview.Flex
	header *tview.TextView
	body   *tview.Pages
	status *tview.TextView

	stack []string // names of the windows in body, bottom first
	seq   int

	busy      *busy
	statusMsg string // markup
}

type busy struct {
	label   string
	cancel  context.CancelFunc
	frame   int
	abandon func() // called if the user stops waiting; may be nil

	// typeahead: keep the keys typed meanwhile and replay them after
	// (a completion lookup: typing on must not lose keys), instead of
	// ignoring them.
	typeahead bool
	keys      []*tcell.EventKey
}

// Run shows the front end until the user exits or ctx ends. s must be a
// logged-in session; Run connects to the directory itself, showing that
// it is busy.
func Run(ctx context.Context, cfg *config.Config, s *session.Session) error {
	u := newUI(cfg, s)
	stop := context.AfterFunc(ctx, u.tv.Stop)
	defer stop()
	go u.tv.QueueUpdateDraw(u.connect) // QueueUpdate waits until the loop runs it
	err := u.tv.Run()
	if u.a != nil {
		u.a.Close()
	}
	return err
}

func newUI(cfg *config.Config, s *session.Session) *UI {
	u := &UI{
		tv:     tview.NewApplication(),
		cfg:    cfg,
		sess:   s,
		header: tview.NewTextView().SetDynamicColors(true),
		body:   tview.NewPages(),
		status: tview.NewTextView().SetDynamicColors(true),
	}
	u.header.SetBackgroundColor(tcell.ColorNavy)
	u.header.SetText(fmt.Sprintf("[::b] %s[::-]   %s@%s", Title, tview.Escape(s.User), tview.Escape(s.Realm)))
	u.root = tview.NewFlex().SetDirection(tview.FlexRow).
		AddItem(u.header, 1, 0, false).
		AddItem(u.body, 0, 1, true).
		AddItem(u.status, 1, 0, false)
	u.tv.SetRoot(u.root, true)
	u.tv.SetInputCapture(u.capture)
	return u
}

// capture sees every key first: while busy only Esc (abandon) and
// Ctrl-C (quit) do anything; other keys are ignored, or kept for later
// if the work asked for typeahead.
func (u *UI) capture(ev *tcell.EventKey) *tcell.EventKey {
	if u.busy != nil && ev.Key() != tcell.KeyCtrlC {
		b := u.busy
		if ev.Key() == tcell.KeyEscape {
			b.cancel()
			u.busy = nil
			u.setStatus("[yellow]Stopped waiting. The server may still finish the request.[-]")
			if b.abandon != nil {
				b.abandon()
			}
			u.replay(b.keys)
			return nil
		}
		if b.typeahead && len(b.keys) < typeaheadLimit {
			b.keys = append(b.keys, ev)
		}
		return nil
	}
	return ev
}

// replay hands keys kept while busy to the screen, as if typed now. If
// one of them starts other work, the rest wait for it too (or are
// dropped, if that work ignores keys).
func (u *UI) replay(keys []*tcell.EventKey) {
	for i, ev := range keys {
		if u.busy != nil {
			if u.busy.typeahead {
				u.busy.keys = append(u.busy.keys, keys[i:]...)
			}
			return
		}
		if h := u.root.InputHandler(); h != nil && u.root.HasFocus() {
			h(ev, func(p tview.Primitive) { u.tv.SetFocus(p) })
		}
	}
}

// connect binds to the directory and reads the user's groups, then shows
// the main menu.
func (u *UI) connect() {
	var a *app.App
	var groups map[string]bool
	u.work("Connecting to the directory as "+u.sess.User, func(ctx context.Context) error {
		var err error
		a, err = app.Connect(ctx, u.cfg, u.sess)
		if err != nil {
			return err
		}
		groups, err = a.InGroups(ctx, "office", "syscom")
		if err != nil {
			a.Close()
		}
		return err
	}, func(err error) {
		if err != nil {
			u.fatal("Could not connect", err, u.connect)
			return
		}
		u.a, u.groups = a, groups
		u.mainMenu()
	})
	u.busy.abandon = func() {
		u.fatal("Could not connect", errors.New("stopped waiting for the directory"), u.connect)
		u.setStatus("[yellow]Stopped waiting.[-]")
	}
}

// fatal shows a start-up error with Retry and Exit.
func (u *UI) fatal(title string, err error, retry func()) {
	msg := plain(err)
	text := tview.NewTextView().SetWordWrap(true).SetText(msg)
	text.SetBorderPadding(0, 0, 1, 1)
	form := tview.NewForm().
		AddButton("Retry", func() { u.pop(); retry() }).
		AddButton("Exit", u.tv.Stop)
	flex := tview.NewFlex().SetDirection(tview.FlexRow).
		AddItem(text, 1, 0, false).
		AddItem(form, 3, 0, true)
	fitText(flex, text, func(width, _ int) int { return wrappedHeight(msg, width) + 1 })
	u.push(title, flex, form)
}

// push opens a window on top of the stack. focus receives the keys.
func (u *UI) push(title string, content, focus tview.Primitive) {
	u.seq++
	name := fmt.Sprintf("w%d", u.seq)
	frame := tview.NewFlex().SetDirection(tview.FlexRow).AddItem(content, 0, 1, true)
	frame.SetBorder(true).SetTitle(" " + tview.Escape(title) + " ")
	frame.SetInputCapture(func(ev *tcell.EventKey) *tcell.EventKey {
		if ev.Key() != tcell.KeyEscape {
			return ev
		}
		if len(u.stack) > 1 {
			u.pop()
		} else {
			u.tv.Stop() // Esc on the main menu quits, as legacy
		}
		return nil
	})
	u.body.AddAndSwitchToPage(name, &centered{frame}, true)
	u.stack = append(u.stack, name)
	u.tv.SetFocus(focus)
	u.clearStatus()
}

// pop closes the top window and shows the one below.
func (u *UI) pop() {
	if len(u.stack) == 0 {
		return
	}
	u.body.RemovePage(u.stack[len(u.stack)-1])
	u.stack = u.stack[:len(u.stack)-1]
	if len(u.stack) > 0 {
		u.body.SwitchToPage(u.stack[len(u.stack)-1])
	}
	u.clearStatus()
}

// popTo closes windows until depth remain.
func (u *UI) popTo(depth int) {
	for len(u.stack) > depth {
		u.pop()
	}
}

func (u *UI) setStatus(markup string) {
	u.statusMsg = markup
	u.drawStatus()
}

func (u *UI) clearStatus() { u.setStatus("") }

// errorStatus shows a problem in the status line, legacy set_status style.
func (u *UI) errorStatus(msg string) {
	msg = strings.Join(strings.Fields(msg), " ")
	u.setStatus("[red::b]" + tview.Escape(msg) + "[-::-]")
}

var spinner = []string{"|", "/", "-", "\\"}

func (u *UI) drawStatus() {
	if u.busy != nil {
		u.status.SetText(fmt.Sprintf("[black:yellow] %s %s... [-:-]  [gray](Esc stops waiting)[-]",
			spinner[u.busy.frame%len(spinner)], tview.Escape(u.busy.label)))
		return
	}
	u.status.SetText(" " + u.statusMsg)
}

// work runs fn off the UI goroutine with a deadline, showing label and
// a spinner, and then calls done(err) on the UI goroutine, unless the
// user pressed Esc meanwhile.
func (u *UI) work(label string, fn func(ctx context.Context) error, done func(err error)) {
	if u.busy != nil {
		return // one request at a time; input is blocked anyway
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*u.cfg.RequestTimeout)
	b := &busy{label: label, cancel: cancel}
	u.busy = b
	u.drawStatus()
	result := make(chan error, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				result <- fmt.Errorf("internal error: %v", r)
			}
		}()
		result <- fn(ctx)
	}()
	go func() {
		t := time.NewTicker(150 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case err := <-result:
				u.tv.QueueUpdateDraw(func() {
					cancel()
					if u.busy != b {
						return // abandoned with Esc
					}
					u.busy = nil
					u.drawStatus()
					done(err)
					u.replay(b.keys)
				})
				return
			case <-t.C:
				u.tv.QueueUpdateDraw(func() {
					if u.busy == b {
						b.frame++
						u.drawStatus()
					}
				})
			}
		}
	}()
}

// orErrorStatus is a done for work: a failure goes to the status line,
// else then runs.
func (u *UI) orErrorStatus(then func()) func(err error) {
	return func(err error) {
		if err != nil {
			u.errorStatus(plain(err))
			return
		}
		then()
	}
}

// plain turns an error into words for the screen: no package prefixes,
// and a hint for the common kinds.
func plain(err error) string {
	if err == nil {
		return ""
	}
	msg := err.Error()
	for _, p := range []string{"session: ", "library: ", "ceoc: ", "members: ", "remote: ", "krb5: "} {
		msg = strings.ReplaceAll(msg, p, "")
	}
	var hint string
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		hint = "The server did not answer in time. Try again later, or tell the systems committee."
	case errors.Is(err, members.ErrPermission):
		hint = "You do not have permission to do this."
	case errors.Is(err, members.ErrUnavailable), errors.Is(err, session.ErrDirectoryUnreachable):
		hint = "The directory server is not answering. Try again later."
	case errors.Is(err, ceoc.ErrUnreachable):
		hint = "The account server (ceod) could not be reached. Try again later, or tell the systems committee."
	case errors.Is(err, ceoc.ErrNoTicket), errors.Is(err, session.ErrNoTicket):
		hint = "Your Kerberos ticket has expired. Exit, run kinit, and start ceo again."
	case errors.Is(err, ceoc.ErrRefused):
		hint = "The account server refused the request (perhaps you are not allowed to do this)."
	case errors.Is(err, library.ErrNoDatabase):
		hint = "Ask the systems committee to set up the library database."
	case errors.Is(err, library.ErrNoConfig):
		hint = "library.cf is readable by root and the office group only: ask the systems committee to add you to office. The other menus work without it."
	}
	if len(msg) > 0 {
		msg = strings.ToUpper(msg[:1]) + msg[1:]
	}
	if hint != "" {
		return msg + "\n\n" + hint
	}
	return msg
}

// centered draws a window at most windowWidth wide in the middle of the
// space it is given: narrower terminals shrink it instead of clipping it.
type centered struct{ tview.Primitive }

func (c *centered) SetRect(x, y, width, height int) {
	w := min(width, windowWidth)
	c.Primitive.SetRect(x+(width-w)/2, y, w, height)
}

// fitText keeps the row of text in flex (a column with no border) as
// tall as rows(the width of its lines, the height of flex) each time flex
// is drawn, so wrapped text is not cut at whatever size the terminal
// has. Every text here has one column of padding each side.
func fitText(flex *tview.Flex, text *tview.TextView, rows func(width, height int) int) {
	flex.SetDrawFunc(func(_ tcell.Screen, x, y, width, height int) (int, int, int, int) {
		flex.ResizeItem(text, rows(width-2, height), 0)
		return x, y, width, height
	})
}

// wrappedHeight is the number of lines text takes at width columns.
func wrappedHeight(text string, width int) int {
	width = max(width, 10)
	n := 0
	for _, line := range strings.Split(text, "\n") {
		if line == "" {
			n++
			continue
		}
		n += max(1, len(tview.WordWrap(line, width)))
	}
	return n
}

// lookup runs fn as work: on success it calls done; an error that is
// notFound shows missing, any other error shows itself.
func (u *UI) lookup(what string, fn func(ctx context.Context) error, notFound error, missing string, done func()) {
	u.work(what, fn, func(err error) {
		switch {
		case errors.Is(err, notFound):
			u.errorStatus(missing)
		case err != nil:
			u.errorStatus(plain(err))
		default:
			done()
		}
	})
}
