// Command ceo is the CSC Electronic Office front end:
//
//	ceo [--principal NAME]                 the menus, in the terminal
//	ceo [--principal NAME] COMMAND [ARGS]  a console command (ceo --help lists them)
//
// It reads $CEO_CONFIG_DIR (default /etc/csc) and logs in with the
// Kerberos ticket in $KRB5CCNAME; without a valid ticket it asks for the
// password (no echo) and stores a new ticket there, so kinit is not needed.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/csclub/ceo/ceo/app"
	"github.com/csclub/ceo/ceo/config"
	"github.com/csclub/ceo/ceo/console"
	"github.com/csclub/ceo/ceo/session"
	"github.com/csclub/ceo/ceo/tui"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGHUP)
	code := run(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("ceo", flag.ContinueOnError)
	principal := fs.String("principal", "", "log in as NAME when there is no valid ticket (default: the ticket's user, or your login name)")
	usage := func(w io.Writer) {
		console.Usage(w)
		fmt.Fprintf(w, "\nOptions:\n")
		fs.SetOutput(w)
		fs.PrintDefaults()
	}
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage(os.Stdout)
			return 0
		}
		fmt.Fprintf(os.Stderr, "ceo: %v\n\n", err)
		usage(os.Stderr)
		return 2
	}
	args = fs.Args()
	if len(args) > 0 && args[0] == "help" {
		if len(args) > 1 {
			args = []string{args[1], "--help"}
		} else {
			usage(os.Stdout)
			return 0
		}
	}
	if len(args) > 0 && !console.IsCommand(args[0]) {
		// Legacy ceo's words, stream and status: scripts compare them.
		fmt.Fprintf(os.Stdout, "Invalid command '%s'\n", args[0])
		return 0
	}

	var cfg *config.Config
	login := func(ctx context.Context) (*session.Session, error) {
		var err error
		if cfg, err = config.Load(config.DirFromEnv(nil)); err != nil {
			return nil, err
		}
		s, err := session.Login(ctx, session.Options{
			Principal: *principal,
			Password:  terminalPassword(),
			Timeout:   cfg.RequestTimeout,
			Notify:    func(m string) { fmt.Fprintln(os.Stderr, m) },
		})
		if err != nil {
			return nil, err
		}
		// ceoc and any child process find the ticket Login found or made.
		if err := s.SetEnv(); err != nil {
			s.Close()
			return nil, err
		}
		return s, nil
	}

	if len(args) > 0 {
		cio := console.IO{
			In:           os.Stdin,
			Out:          os.Stdout,
			Err:          os.Stderr,
			Interactive:  isTerminal(os.Stdin) && isTerminal(os.Stderr),
			ReadPassword: stdinPassword(),
			ReadKey:      stdinKey(),
		}
		return console.Run(ctx, args[0], args[1:], cio, func(ctx context.Context) (*app.App, error) {
			s, err := login(ctx)
			if err != nil {
				return nil, err
			}
			a, err := app.Connect(ctx, cfg, s)
			if err != nil {
				s.Close()
				return nil, err
			}
			return a, nil
		})
	}

	s, err := login(ctx)
	if err != nil {
		fmt.Fprintf(os.Stderr, "ceo: %v\n", err)
		return 1
	}
	defer s.Close()
	if err := tui.Run(ctx, cfg, s); err != nil {
		fmt.Fprintf(os.Stderr, "ceo: %v\n", err)
		return 1
	}
	return 0
}
