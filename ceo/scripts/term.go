package scripts

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/term"

	"github.com/csclub/ceo/ceoc"
)

// Main is the program's command: it runs with the process's arguments
// and streams, a password from the terminal, ceod through ceoc as the
// environment says, until SIGINT or SIGTERM; and exits with its status.
func (p Program) Main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := p.Run(ctx, os.Args[1:], IO{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr,
		Password: TerminalPassword()}, ceoc.FromEnv())
	stop()
	os.Exit(code)
}

// TerminalPassword asks on the controlling terminal without echo; nil if
// there is none.
func TerminalPassword() func(prompt string) (string, error) {
	tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil {
		return nil
	}
	tty.Close()
	return func(prompt string) (string, error) {
		tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
		if err != nil {
			return "", err
		}
		defer tty.Close()
		fmt.Fprint(tty, prompt)
		pw, err := term.ReadPassword(int(tty.Fd()))
		fmt.Fprintln(tty)
		return string(pw), err
	}
}
