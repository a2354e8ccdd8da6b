// Package scripts is the legacy ceo-clients programs addmember and
// addclub: the adduser op from a shell script, with the legacy arguments
// and exit codes. They register no terms (legacy: "It does NOT register
// the new member for any terms"); "ceo addmember" is the richer form.
//
// Exit status: 0 the account was made, 1 it was not (the op refused or
// failed, or ceod was not reached), 2 a usage error. ceod's status
// messages go to stdout, one per line; failed ones to stderr.
package scripts

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	goio "io"
	"strings"

	"github.com/csclub/ceo/ceo/remote"
)

// IO is where a program reads and writes.
type IO struct {
	Stdin          goio.Reader
	Stdout, Stderr goio.Writer
	// Password asks for a password without echo (a terminal); nil means
	// there is no terminal, and --stdin is needed.
	Password func(prompt string) (string, error)
}

// Exit statuses.
const (
	ExitOK     = 0
	ExitFailed = 1
	ExitUsage  = 2
)

// Program is addmember or addclub.
type Program struct {
	Name  string // "addmember" or "addclub"
	Usage string // after the name
	Kind  remote.Kind
	// MinArgs and MaxArgs bound the positional arguments.
	MinArgs, MaxArgs int
}

// AddMember and AddClub are the two programs.
var (
	AddMember = Program{Name: "addmember", Usage: "[--stdin] USERID NAME [PROGRAM]", Kind: remote.Member, MinArgs: 2, MaxArgs: 3}
	AddClub   = Program{Name: "addclub", Usage: "USERID CLUBNAME", Kind: remote.Club, MinArgs: 2, MaxArgs: 2}
)

// Run runs the program with args; caller sends the op (a *ceoc.Client).
func (p Program) Run(ctx context.Context, args []string, io IO, caller remote.Caller) int {
	fs := flag.NewFlagSet(p.Name, flag.ContinueOnError)
	fs.SetOutput(io.Stderr)
	fs.Usage = func() {
		fmt.Fprintf(io.Stderr, "usage: %s %s\n", p.Name, p.Usage)
	}
	stdin := false
	if p.Kind != remote.Club {
		fs.BoolVar(&stdin, "stdin", false, "read the password from standard input (one line) instead of the terminal")
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return ExitOK
		}
		return ExitUsage
	}
	if fs.NArg() < p.MinArgs || fs.NArg() > p.MaxArgs {
		fs.Usage()
		return ExitUsage
	}
	acc := remote.NewAccount{Kind: p.Kind, Username: fs.Arg(0), Name: fs.Arg(1), Program: fs.Arg(2)}
	if p.Kind != remote.Club {
		pw, err := password(io, stdin)
		if err != nil {
			fmt.Fprintf(io.Stderr, "%s: %v\n", p.Name, err)
			return ExitFailed
		}
		acc.Password = pw
	}
	steps, err := remote.New(caller).AddUser(ctx, acc)
	for _, s := range steps {
		if s.Code == 0 {
			fmt.Fprintln(io.Stdout, s.Message)
		} else {
			fmt.Fprintln(io.Stderr, s.Message)
		}
	}
	var oe *remote.OpError
	switch {
	case errors.As(err, &oe):
		return ExitFailed
	case err != nil:
		fmt.Fprintf(io.Stderr, "%s: %v\n", p.Name, err)
		return ExitFailed
	}
	return ExitOK
}

// password reads the new account's password: one line of stdin with
// --stdin, else typed twice at the terminal.
func password(io IO, stdin bool) (string, error) {
	if stdin {
		line, err := bufio.NewReader(io.Stdin).ReadString('\n')
		if err != nil && (line == "" || !errors.Is(err, goio.EOF)) {
			return "", fmt.Errorf("reading the password from standard input: %w", err)
		}
		pw := strings.TrimRight(line, "\r\n")
		if pw == "" {
			return "", errors.New("empty password on standard input")
		}
		return pw, nil
	}
	if io.Password == nil {
		return "", errors.New("no terminal to ask for the password: use --stdin")
	}
	pw, err := io.Password("New member's password: ")
	if err != nil {
		return "", err
	}
	again, err := io.Password("Repeat new member's password: ")
	if err != nil {
		return "", err
	}
	if pw != again {
		return "", errors.New("the passwords do not match")
	}
	return pw, nil
}
