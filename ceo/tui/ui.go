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

// windowWidth is the width of every window: it fits an 80-column terminal.
const windowWidth = 78

// textWidth is the width available to text inside a window (borders and
// one column of padding on each side).
const textWidth = windowWidth - 4

// UI is the running front end. Its fields are owned by the UI goroutine.
type UI struct {
	tv     *tview.Application
	cfg    *config.Config
	sess   *session.Session
	a      *app.App
	groups map[string]bool

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
	root := tview.NewFlex().SetDirection(tview.FlexRow).
		AddItem(u.header, 1, 0, false).
		AddItem(u.body, 0, 1, true).
		AddItem(u.status, 1, 0, false)
	u.tv.SetRoot(root, true)
	u.tv.SetInputCapture(u.capture)
	return u
}

// capture sees every key first: while busy only Esc (abandon) and
// Ctrl-C (quit) do anything.
func (u *UI) capture(ev *tcell.EventKey) *tcell.EventKey {
	if u.busy != nil && ev.Key() != tcell.KeyCtrlC {
		if ev.Key() == tcell.KeyEscape {
			b := u.busy
			b.cancel()
			u.busy = nil
			u.setStatus("[yellow]Stopped waiting. The server may still finish the request.[-]")
			if b.abandon != nil {
				b.abandon()
			}
		}
		return nil
	}
	return ev
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
	text := tview.NewTextView().SetWordWrap(true).SetText(plain(err))
	form := tview.NewForm().
		AddButton("Retry", func() { u.pop(); retry() }).
		AddButton("Exit", u.tv.Stop)
	flex := tview.NewFlex().SetDirection(tview.FlexRow).
		AddItem(pad(text), wrappedHeight(plain(err))+1, 0, false).
		AddItem(form, 3, 0, true)
	u.push(title, flex, form)
}

// push opens a window on top of the stack. focus receives the keys.
func (u *UI) push(title string, content, focus tview.Primitive) {
	u.seq++
	name := fmt.Sprintf("w%d", u.seq)
	frame := tview.NewFlex().SetDirection(tview.FlexRow).AddItem(content, 0, 1, true)
	frame.SetBorder(true).SetTitle(" " + tview.Escape(title) + " ")
	frame.SetInputCapture(func(ev *tcell.EventKey) *tcell.EventKey {
		if ev.Key() == tcell.KeyEscape && len(u.stack) > 1 {
			u.pop()
			return nil
		}
		return ev
	})
	centered := tview.NewFlex().
		AddItem(nil, 0, 1, false).
		AddItem(frame, windowWidth, 0, true).
		AddItem(nil, 0, 1, false)
	u.body.AddAndSwitchToPage(name, centered, true)
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
	}
	if len(msg) > 0 {
		msg = strings.ToUpper(msg[:1]) + msg[1:]
	}
	if hint != "" {
		return msg + "\n\n" + hint
	}
	return msg
}

// pad gives a primitive one column of padding left and right.
func pad(p tview.Primitive) tview.Primitive {
	if b, ok := p.(interface {
		SetBorderPadding(int, int, int, int) *tview.Box
	}); ok {
		b.SetBorderPadding(0, 0, 1, 1)
	}
	return p
}

// wrappedHeight is the number of lines text takes at textWidth.
func wrappedHeight(text string) int {
	n := 0
	for _, line := range strings.Split(text, "\n") {
		if line == "" {
			n++
			continue
		}
		n += max(1, len(tview.WordWrap(line, textWidth)))
	}
	return n
}
