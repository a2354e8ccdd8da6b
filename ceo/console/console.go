// Package console implements ceo's console commands (`ceo COMMAND`):
// memberlist, expiredaccounts, inactive, updateprograms, mysql and
// postgresql, and addmember and addclub for scripted account creation.
//
// Each command parses its own flags (and answers --help) before it logs
// in, so help works without credentials. Output on stdout is meant for
// people and scripts alike (the legacy column layout); questions,
// progress and errors go to stderr.
package console

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/csclub/ceo/ceo/app"
)

// IO is where a command reads and writes.
type IO struct {
	In  io.Reader
	Out io.Writer
	Err io.Writer
	// Interactive is true when In and Err are a terminal: progress is
	// drawn in place and confirmations read single keys.
	Interactive bool
	// ReadPassword reads a password without echo; nil means read a line
	// from In.
	ReadPassword func(prompt string) (string, error)
	// ReadKey reads one key press (y/n questions); nil means read a line
	// from In and take its first character.
	ReadKey func() (byte, error)
}

// Connector logs in and connects; called only once arguments are valid.
type Connector func(ctx context.Context) (*app.App, error)

type command struct {
	name    string
	summary string
	usage   string // after "ceo NAME "
	help    string
	// want, if set, names the operands, one word each ("USER SHELL"):
	// Run refuses another count with "want WANT" before the command runs.
	want string
	// flags declares the command's flags on fs and returns its body; run
	// is the body of a command without flags.
	flags func(fs *flag.FlagSet) runFunc
	run   runFunc
}

// runFunc is a command's body: args are the operands after the flags.
type runFunc func(ctx context.Context, e *env, args []string) error

// commandTable returns the commands by name. It is built on each use
// (a few small values) so that the package keeps no state.
func commandTable() map[string]*command {
	t := map[string]*command{}
	for _, c := range commands() {
		t[c.name] = c
	}
	return t
}

// IsCommand reports whether name is a console command.
func IsCommand(name string) bool { _, ok := commandTable()[name]; return ok }

// Usage writes the list of commands.
func Usage(w io.Writer) {
	fmt.Fprintf(w, "usage: ceo [--principal NAME]                 the menus (terminal front end)\n")
	fmt.Fprintf(w, "       ceo [--principal NAME] COMMAND [ARGS]  a console command\n\nCommands:\n")
	commands := commandTable()
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-16s %s\n", n, commands[n].summary)
	}
	fmt.Fprintf(w, "\nRun \"ceo COMMAND --help\" for a command's options.\n")
}

// errUsage is a command-line mistake: the usage on stdout, exit 0 (legacy).
var errUsage = errors.New("usage")

type env struct {
	io      IO
	connect Connector
	app     *app.App
	in      *bufio.Reader
}

// App logs in on first use.
func (e *env) App(ctx context.Context) (*app.App, error) {
	if e.app != nil {
		return e.app, nil
	}
	a, err := e.connect(ctx)
	if err != nil {
		return nil, err
	}
	e.app = a
	return a, nil
}

func (e *env) line() (string, error) {
	s, err := e.in.ReadString('\n')
	if err != nil && (s == "" || !errors.Is(err, io.EOF)) {
		return "", err
	}
	return strings.TrimRight(s, "\r\n"), nil
}

func (e *env) key() (byte, error) {
	if e.io.ReadKey != nil {
		return e.io.ReadKey()
	}
	s, err := e.line()
	if err != nil {
		return 0, err
	}
	if s == "" {
		return '\n', nil
	}
	return s[0], nil
}

func (e *env) password(prompt string) (string, error) {
	if e.io.ReadPassword != nil {
		return e.io.ReadPassword(prompt)
	}
	return e.line()
}

// Run runs command name with args and returns the exit status, with
// legacy ceo's streams and codes where scripts depend on them: an unknown
// command prints "Invalid command 'NAME'" on stdout and a usage error the
// command's usage on stdout, both exit 0; an op's refusal (errOpFailed)
// prints legacy's failure text on stdout, exit 0; any other failure (no
// ticket, directory down) goes to stderr, exit 1, as a legacy traceback did.
func Run(ctx context.Context, name string, args []string, io IO, connect Connector) int {
	c, ok := commandTable()[name]
	if !ok {
		fmt.Fprintf(io.Out, "Invalid command '%s'\n", name)
		return 0
	}
	fs := flag.NewFlagSet("ceo "+name, flag.ContinueOnError)
	fs.SetOutput(io.Out)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: ceo %s %s\n\n%s\n", name, c.usage, strings.TrimSpace(c.help))
		var n int
		fs.VisitAll(func(*flag.Flag) { n++ })
		if n > 0 {
			fmt.Fprintf(fs.Output(), "\nOptions:\n")
			fs.PrintDefaults()
		}
	}
	run := c.run
	if c.flags != nil {
		run = c.flags(fs)
	}
	operands, err := parseInterspersed(fs, args)
	if err != nil {
		return 0 // the flag package has printed the error and the usage
	}
	e := &env{io: io, connect: connect, in: bufio.NewReader(io.In)}
	defer func() {
		if e.app != nil {
			e.app.Close()
		}
	}()
	if c.want != "" && len(operands) != len(strings.Fields(c.want)) {
		err = usagef("want %s", c.want)
	} else {
		err = run(ctx, e, operands)
	}
	var failed *opFailed
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintf(io.Out, "ceo %s: %v\n", name, strings.TrimPrefix(err.Error(), errUsage.Error()+": "))
		fs.Usage()
		return 0
	case errors.As(err, &failed):
		fmt.Fprint(io.Out, failed.text)
		return 0
	}
	fmt.Fprintf(io.Err, "ceo %s: %v\n", name, err)
	return 1
}

// parseInterspersed parses flags wherever they stand among the operands,
// as GNU getopt does: "ceo passwd USER --random" works like "ceo passwd
// --random USER". "--" ends the flags; what follows is operands.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var operands []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			return append(operands, rest...), nil
		}
		if len(rest) == 0 {
			return operands, nil
		}
		operands = append(operands, rest[0])
		args = rest[1:]
	}
}

// opFailed is an op's refusal reported the legacy way: text on stdout,
// exit 0.
type opFailed struct {
	text string
	err  error
}

func (f *opFailed) Error() string { return f.err.Error() }
func (f *opFailed) Unwrap() error { return f.err }

func usagef(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{errUsage}, args...)...)
}

// progress shows "label n/total" in place on a terminal, and nothing
// otherwise (stdout stays clean for scripts).
type progress struct {
	w     io.Writer
	on    bool
	label string
	total int
	drawn bool
}

func newProgress(e *env, label string, total int) *progress {
	return &progress{w: e.io.Err, on: e.io.Interactive && total > 0, label: label, total: total}
}

func (p *progress) set(n int) {
	if !p.on {
		return
	}
	fmt.Fprintf(p.w, "\r%s %d/%d", p.label, n, p.total)
	p.drawn = true
}

// clear removes the progress line, before other output or at the end.
func (p *progress) clear() {
	if p.drawn {
		fmt.Fprintf(p.w, "\r%s\r", strings.Repeat(" ", len(p.label)+24))
		p.drawn = false
	}
}
