package tui_test

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/csclub/ceo/ceo/internal/ceotest"
	"github.com/csclub/ceo/internal/realm"
	"github.com/csclub/ceo/internal/testreq"
)

// screenTimeout bounds every wait for the screen to show something.
const screenTimeout = 20 * time.Second

var sessionSeq atomic.Int32

// terminal is ceo running in a private tmux server, driven as a person
// would: keys in with send-keys, the screen out with capture-pane.
type terminal struct {
	t    *testing.T
	sock string
}

// The size of the terminal the tests start ceo in: the office's.
const (
	termCols = "80"
	termRows = "24"
)

// startCeo runs the ceo binary in an 80x24 terminal with the realm's
// environment and KRB5CCNAME=FILE:cc, plus extra variables and args.
// The tmux server is killed at the end of the test.
func startCeo(t *testing.T, r *realm.Realm, cc string, extraEnv []string, args ...string) *terminal {
	t.Helper()
	testreq.Require(t, "tmux") // make test installs it
	bin := ceotest.Build(t, "./ceo/cmd/ceo")
	tm := &terminal{t: t, sock: fmt.Sprintf("ceotest-%d-%d", os.Getpid(), sessionSeq.Add(1))}
	// The shell keeps the pane after ceo exits, with its exit status, so a
	// failure stays on the screen.
	script := `"$0" "$@"; echo "[ceo exited with status $?]"; sleep 600`
	argv := append([]string{"-L", tm.sock, "-f", "/dev/null", "new-session", "-d", "-x", termCols, "-y", termRows,
		"sh", "-c", script, bin}, args...)
	cmd := exec.Command("tmux", argv...)
	cmd.Env = append(append(os.Environ(), r.Env()...), "KRB5CCNAME=FILE:"+cc, "TERM=xterm-256color")
	cmd.Env = append(cmd.Env, extraEnv...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("tmux new-session: %v\n%s", err, out)
	}
	sockPath, _ := exec.Command("tmux", "-L", tm.sock, "display-message", "-p", "#{socket_path}").Output()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("last screen:\n%s", tm.screen())
		}
		exec.Command("tmux", "-L", tm.sock, "kill-server").Run()
		// kill-server leaves the socket file behind.
		if p := strings.TrimSpace(string(sockPath)); p != "" {
			os.Remove(p)
		}
	})
	return tm
}

func (tm *terminal) tmux(args ...string) string {
	tm.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-L", tm.sock}, args...)...).CombinedOutput()
	if err != nil {
		tm.t.Fatalf("tmux %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// resize changes the terminal's size (ceo redraws for it) and waits for
// the screen to show texts at the new size.
func (tm *terminal) resize(cols, rows int, texts ...string) string {
	tm.t.Helper()
	tm.tmux("resize-window", "-x", fmt.Sprint(cols), "-y", fmt.Sprint(rows))
	deadline := time.Now().Add(screenTimeout)
	fits := func(s, border, end string) bool {
		b := line(s, border)
		return strings.HasSuffix(b, end) && len([]rune(b)) == min(cols, 78)
	}
	for {
		// Redrawn once the window's top and bottom borders are as wide
		// as a window gets in cols, and two captures agree (a capture
		// may land in the middle of a redraw).
		s := tm.screen()
		if fits(s, "╔", "╗") && fits(s, "╚", "╝") {
			time.Sleep(50 * time.Millisecond)
			if again := tm.screen(); again == s {
				return tm.waitFor(texts...)
			}
		}
		if time.Now().After(deadline) {
			tm.t.Fatalf("the screen is not %dx%d with %q:\n%s", cols, rows, texts, s)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// screen is the visible text of the terminal.
func (tm *terminal) screen() string {
	out, _ := exec.Command("tmux", "-L", tm.sock, "capture-pane", "-p").CombinedOutput()
	return string(out)
}

// keys sends key names (Enter, Tab, Down, Escape, ...).
func (tm *terminal) keys(keys ...string) {
	tm.t.Helper()
	tm.tmux(append([]string{"send-keys"}, keys...)...)
}

// escape sends Esc and waits for the screen to change: a lone ESC byte is
// only taken as the Esc key if nothing follows it at once.
func (tm *terminal) escape() {
	tm.t.Helper()
	before := tm.screen()
	tm.keys("Escape")
	deadline := time.Now().Add(screenTimeout)
	for tm.screen() == before {
		if time.Now().After(deadline) {
			tm.t.Fatalf("Esc changed nothing:\n%s", before)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// typeText types literal text.
func (tm *terminal) typeText(s string) {
	tm.t.Helper()
	tm.tmux("send-keys", "-l", s)
}

// enter types text and presses Enter: a field's value, then Next (or
// the next field).
func (tm *terminal) enter(text string) {
	tm.t.Helper()
	tm.typeText(text)
	tm.keys("Enter")
}

// reenter replaces the focused field's text (C-u clears it) with text
// and presses Enter.
func (tm *terminal) reenter(text string) {
	tm.t.Helper()
	tm.keys("C-u")
	tm.enter(text)
}

// waitFor polls the screen until it shows every one of texts, and
// returns it; the test fails with the screen after screenTimeout.
func (tm *terminal) waitFor(texts ...string) string {
	tm.t.Helper()
	deadline := time.Now().Add(screenTimeout)
	for {
		s := tm.screen()
		flat := flatten(s)
		ok := true
		for _, x := range texts {
			if !strings.Contains(s, x) && !strings.Contains(flat, x) {
				ok = false
				break
			}
		}
		if ok {
			return s
		}
		if time.Now().After(deadline) {
			tm.t.Fatalf("the screen did not show %q within %v:\n%s", texts, screenTimeout, s)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitGone polls until the screen no longer shows text.
func (tm *terminal) waitGone(text string) {
	tm.t.Helper()
	deadline := time.Now().Add(screenTimeout)
	for strings.Contains(tm.screen(), text) {
		if time.Now().After(deadline) {
			tm.t.Fatalf("the screen still shows %q after %v:\n%s", text, screenTimeout, tm.screen())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// fromMenu waits for the main menu and chooses entry on it.
func (tm *terminal) fromMenu(entry string) {
	tm.t.Helper()
	tm.waitFor("Main Menu")
	tm.choose(entry)
}

// choose moves the selection of the menu on screen down to label (the
// selected entry is drawn "> label") and presses Enter.
func (tm *terminal) choose(label string) {
	tm.t.Helper()
	marker := "> " + label
	if !strings.Contains(tm.screen(), marker) {
		before := tm.screen()
		tm.keys("Home")
		deadline := time.Now().Add(time.Second)
		for tm.screen() == before && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
	}
	for range 40 {
		s := tm.screen()
		if strings.Contains(s, marker) {
			tm.keys("Enter")
			return
		}
		before := s
		tm.keys("Down")
		// Wait for the redraw before looking again.
		deadline := time.Now().Add(2 * time.Second)
		for tm.screen() == before && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
	}
	tm.t.Fatalf("no menu entry %q on the screen:\n%s", label, tm.screen())
}

// line returns the first screen line containing text, trimmed of the
// window border.
func line(screen, text string) string {
	for _, l := range strings.Split(screen, "\n") {
		if strings.Contains(l, text) {
			return strings.Trim(strings.TrimSpace(l), "║ ")
		}
	}
	return ""
}

// window is the screen for a capture in the README: trailing spaces and
// blank trailing lines dropped, and the empty rows at the bottom of the
// window (it is as tall as the terminal) left out.
func window(screen string) string {
	var out []string
	for _, l := range strings.Split(screen, "\n") {
		l = strings.TrimRight(l, " ")
		if strings.Contains(l, "╚") {
			for len(out) > 0 && strings.Trim(out[len(out)-1], "║ ") == "" && strings.Contains(out[len(out)-1], "║") {
				out = out[:len(out)-1]
			}
		}
		out = append(out, l)
	}
	for len(out) > 0 && out[len(out)-1] == "" {
		out = out[:len(out)-1]
	}
	return strings.Join(out, "\n")
}

// flatten joins the screen's lines without the window borders, so that a
// sentence the window wrapped still matches.
func flatten(screen string) string {
	var words []string
	for _, l := range strings.Split(screen, "\n") {
		words = append(words, strings.Fields(strings.Trim(strings.TrimSpace(l), "║"))...)
	}
	return strings.Join(words, " ")
}
