package console

import (
	"context"
	"errors"
	"flag"
	"fmt"

	"github.com/csclub/ceo/ceo/remote"
	"github.com/csclub/ceo/ceo/terms"
)

// memberOpCommands are the commands that run ceod's member ops: ceod
// checks /etc/csc/ceod.acl and writes the directory itself.
func memberOpCommands() (cmds []*command) {
	register := func(c *command) { cmds = append(cmds, c) }
	register(&command{
		name:    "renew",
		summary: "register a member (or club rep) for more terms",
		usage:   "[--terms N] [--club-rep] USER",
		help: `Registers USER for N consecutive terms (default 1) from the term after their
last one, never before the current term, through ceod (op renew); with
--club-rep as non-member terms. Terms already held are refused. Office
staff and syscom.`,
		flags: func(fs *flag.FlagSet) func(context.Context, *env, []string) error {
			n := fs.Int("terms", 1, "number of terms")
			rep := fs.Bool("club-rep", false, "club rep (non-member) terms")
			return func(ctx context.Context, e *env, args []string) error {
				if len(args) != 1 {
					return usagef("want USER")
				}
				if *n < 1 {
					return usagef("--terms must be 1 or more")
				}
				return renew(ctx, e, args[0], *n, *rep)
			}
		},
	})
	register(&command{
		name:    "group",
		summary: "add members to a group or club, or remove them",
		usage:   "add|remove GROUP USER...",
		help: `Adds the users to GROUP, or removes them, through ceod (op group), with the
cascades (office brings cdrom, audio, video and www; syscom brings office,
staff, adm and src).`,
		flags: func(fs *flag.FlagSet) func(context.Context, *env, []string) error {
			return func(ctx context.Context, e *env, args []string) error {
				if len(args) < 3 || (args[0] != "add" && args[0] != "remove") {
					return usagef("want add|remove GROUP USER...")
				}
				return memberOp(ctx, e, func(r *remote.Client) ([]remote.Status, error) {
					return r.ChangeGroup(ctx, args[1], args[0] == "add", args[2:])
				})
			}
		},
	})
	register(&command{
		name:    "positions",
		summary: "set the holders of an office position",
		usage:   "set POSITION [USER...]",
		help:    `Makes the users the holders of POSITION (none: vacant) through ceod (op positions).`,
		flags: func(fs *flag.FlagSet) func(context.Context, *env, []string) error {
			return func(ctx context.Context, e *env, args []string) error {
				if len(args) < 2 || args[0] != "set" {
					return usagef("want set POSITION [USER...]")
				}
				return memberOp(ctx, e, func(r *remote.Client) ([]remote.Status, error) {
					return r.SetPosition(ctx, args[1], args[2:])
				})
			}
		},
	})
	register(&command{
		name:    "shell",
		summary: "change a login shell",
		usage:   "USER SHELL",
		help:    `Changes USER's login shell to SHELL, which must be in the shells file, through ceod (op shell).`,
		flags: func(fs *flag.FlagSet) func(context.Context, *env, []string) error {
			return func(ctx context.Context, e *env, args []string) error {
				if len(args) != 2 {
					return usagef("want USER SHELL")
				}
				return memberOp(ctx, e, func(r *remote.Client) ([]remote.Status, error) { return r.SetShell(ctx, args[0], args[1]) })
			}
		},
	})
	register(&command{
		name:    "passwd",
		summary: "reset a member's password",
		usage:   "[--random] [--need-change] USER",
		help: `Resets USER's Kerberos password through ceod (op passwd): to the first line
of standard input (at a terminal, typed twice without echo), or with
--random to a random one, printed once on standard output.
--need-change makes USER change it at next login.`,
		flags: func(fs *flag.FlagSet) func(context.Context, *env, []string) error {
			random := fs.Bool("random", false, "a random password, printed once")
			need := fs.Bool("need-change", false, "require a change at next login")
			return func(ctx context.Context, e *env, args []string) error {
				if len(args) != 1 {
					return usagef("want USER")
				}
				return resetPassword(ctx, e, args[0], *random, *need)
			}
		},
	})
	register(&command{
		name:    "deluser",
		summary: "delete an account",
		usage:   "[--remove-home] USER",
		help: `Deletes USER's account through ceod (op deluser): LDAP entry, group and
Kerberos principal; with --remove-home its home directory too. Syscom only.`,
		flags: func(fs *flag.FlagSet) func(context.Context, *env, []string) error {
			home := fs.Bool("remove-home", false, "remove the home directory too")
			return func(ctx context.Context, e *env, args []string) error {
				if len(args) != 1 {
					return usagef("want USER")
				}
				return memberOp(ctx, e, func(r *remote.Client) ([]remote.Status, error) { return r.DeleteUser(ctx, args[0], *home) })
			}
		},
	})
	return cmds
}

// memberOp logs in, runs op and prints ceod's messages.
func memberOp(ctx context.Context, e *env, op func(*remote.Client) ([]remote.Status, error)) error {
	a, err := e.App(ctx)
	if err != nil {
		return err
	}
	st, err := op(a.Remote)
	if err != nil {
		return err
	}
	for _, s := range st {
		fmt.Fprintln(e.io.Out, s.Message)
	}
	return nil
}

func renew(ctx context.Context, e *env, user string, n int, clubRep bool) error {
	a, err := e.App(ctx)
	if err != nil {
		return err
	}
	m, err := a.Dir.Get(ctx, user)
	if err != nil {
		return err
	}
	held := m.Terms
	if clubRep {
		held = append(held, m.NonMemberTerms...)
	}
	ts := terms.Strings(terms.Interval(terms.NextUnregistered(held, a.Current()), n))
	return memberOp(ctx, e, func(r *remote.Client) ([]remote.Status, error) { return r.Renew(ctx, user, ts, clubRep) })
}

func resetPassword(ctx context.Context, e *env, user string, random, needChange bool) error {
	pw := ""
	if !random {
		var err error
		if pw, err = e.newPassword(user); err != nil {
			return err
		}
		if pw == "" {
			return errors.New("empty password (use --random for a random one)")
		}
	}
	a, err := e.App(ctx)
	if err != nil {
		return err
	}
	got, st, err := a.Remote.ResetPassword(ctx, user, pw, needChange)
	if err != nil {
		return err
	}
	for _, s := range st {
		fmt.Fprintln(e.io.Err, s.Message)
	}
	if random {
		fmt.Fprintf(e.io.Out, "%s\n", got)
	}
	return nil
}

// newPassword reads a new password for user: a line of standard input,
// or at a terminal typed twice without echo.
func (e *env) newPassword(user string) (string, error) {
	pw, err := e.password("New password for " + user + ": ")
	if err != nil {
		return "", fmt.Errorf("reading the password: %w", err)
	}
	if e.io.ReadPassword != nil {
		again, err := e.password("Re-enter: ")
		if err != nil {
			return "", fmt.Errorf("reading the password: %w", err)
		}
		if again != pw {
			return "", errors.New("the passwords do not match")
		}
	}
	return pw, nil
}
