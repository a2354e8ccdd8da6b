package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"golang.org/x/term"

	"github.com/csclub/ceo/ceo/scripts"
	"github.com/csclub/ceo/ceo/session"
)

func isTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }

// terminalPassword asks on the controlling terminal, without echo; nil if
// there is none (then a missing ticket is an error saying to run kinit).
func terminalPassword() session.PasswordFunc {
	read := scripts.TerminalPassword()
	if read == nil {
		return nil
	}
	return func(_ context.Context, prompt string) (string, error) {
		pw, err := read(prompt)
		if err == nil && pw == "" {
			return "", errors.New("empty password")
		}
		return pw, err
	}
}

// stdinPassword reads a password from standard input without echo when
// it is a terminal; nil otherwise (the console reads a plain line).
func stdinPassword() func(string) (string, error) {
	if !isTerminal(os.Stdin) {
		return nil
	}
	return func(prompt string) (string, error) {
		fmt.Fprint(os.Stderr, prompt)
		pw, err := term.ReadPassword(int(os.Stdin.Fd()))
		fmt.Fprintln(os.Stderr)
		return string(pw), err
	}
}

// stdinKey reads one key press from a terminal; nil otherwise.
func stdinKey() func() (byte, error) {
	if !isTerminal(os.Stdin) {
		return nil
	}
	return func() (byte, error) {
		fd := int(os.Stdin.Fd())
		old, err := term.MakeRaw(fd)
		if err != nil {
			return 0, err
		}
		defer term.Restore(fd, old)
		var b [1]byte
		if _, err := os.Stdin.Read(b[:]); err != nil {
			return 0, err
		}
		if b[0] == 3 { // Ctrl-C in raw mode
			return 0, errors.New("interrupted")
		}
		return b[0], nil
	}
}
