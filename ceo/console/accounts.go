package console

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"

	"github.com/csclub/ceo/ceo/members"
	"github.com/csclub/ceo/ceo/remote"
	"github.com/csclub/ceo/ceo/terms"
	"github.com/csclub/ceo/ceo/uwdir"
)

// accountCommands returns the account commands.
func accountCommands() (cmds []*command) {
	register := func(c *command) { cmds = append(cmds, c) }
	register(&command{
		name:    "updateprograms",
		summary: "update members' programs from the university directory",
		usage:   "[--source URL] [--source-base DN] [--yes | --dry-run]",
		help: `For each member, looks up their user name in the source directory (the
university's, by default uwldap_server_url and uwldap_base of accounts.cf) and,
where its "ou" differs from the member's program, asks
  USER: 'OLD' => 'NEW'? (y/n)
and changes the program on "y". The source is read anonymously; the
change is made in our directory as you.`,
		flags: func(fs *flag.FlagSet) func(context.Context, *env, []string) error {
			src := fs.String("source", "", "source directory URL (default: uwldap_server_url of ceo.cf)")
			base := fs.String("source-base", "", "search base in the source directory (default: uwldap_base of ceo.cf)")
			yes := fs.Bool("yes", false, "apply every change without asking")
			dry := fs.Bool("dry-run", false, "only list the changes")
			return func(ctx context.Context, e *env, args []string) error {
				if len(args) > 0 {
					return usagef("unexpected argument %q", args[0])
				}
				if *yes && *dry {
					return usagef("--yes and --dry-run exclude each other")
				}
				return updatePrograms(ctx, e, *src, *base, *yes, *dry)
			}
		},
	})
	for _, kind := range []string{remote.MySQL, remote.PostgreSQL} {
		title := map[string]string{remote.MySQL: "MySQL", remote.PostgreSQL: "PostgreSQL"}[kind]
		register(&command{
			name:    kind,
			summary: "create a " + title + " database for a user or club",
			usage:   "create USER",
			help: fmt.Sprintf(`Creates the %[1]s database USER for USER (or resets its password) through
ceod, and writes the connection details, password included, to
~USER/%[2]s (mode 0660; an older file is kept as %[2]s.old).
You may do this for yourself, for a club whose group you are in, or (in
syscom) for anyone.`, title, remote.InfoFile(kind)),
			flags: func(fs *flag.FlagSet) func(context.Context, *env, []string) error {
				return func(ctx context.Context, e *env, args []string) error {
					if len(args) != 2 || args[0] != "create" {
						return usagef("want: create USER")
					}
					return createDatabase(ctx, e, kind, args[1])
				}
			},
		})
	}
	register(&command{
		name:    "addmember",
		summary: "create a member (or club rep) account and register terms",
		usage:   "[--clubrep] [--terms N] [--email ADDR] USERNAME NAME [PROGRAM]",
		help: `Creates the account USERNAME for NAME (LDAP entry, Kerberos principal, home
directory) through ceod, then registers it for N terms from the current
one (as member terms, or with --clubrep as non-member terms; members owe
$2.00 per term). The new password is read from standard input: the first
line, or at a terminal typed twice without echo. Office staff only.`,
		flags: func(fs *flag.FlagSet) func(context.Context, *env, []string) error {
			clubrep := fs.Bool("clubrep", false, "a club rep account (free, non-member terms)")
			n := fs.Int("terms", 1, "number of consecutive terms to register, from the current one (0: none)")
			email := fs.String("email", "", "mail forward for the new account")
			return func(ctx context.Context, e *env, args []string) error {
				if len(args) < 2 || len(args) > 3 {
					return usagef("want USERNAME NAME [PROGRAM]")
				}
				if *n < 0 {
					return usagef("--terms must be 0 or more")
				}
				acc := remote.NewAccount{Kind: remote.Member, Username: args[0], Name: args[1], Email: *email}
				if *clubrep {
					acc.Kind = remote.ClubRep
				}
				if len(args) == 3 {
					acc.Program = args[2]
				}
				return addAccount(ctx, e, acc, *n)
			}
		},
	})
	register(&command{
		name:    "addclub",
		summary: "create a club account",
		usage:   "USERNAME NAME",
		help: `Creates the club account USERNAME named NAME through ceod: LDAP entry,
group, sudo role and a home directory shared with the club's group. Club
accounts have no password. Office staff only.`,
		flags: func(fs *flag.FlagSet) func(context.Context, *env, []string) error {
			return func(ctx context.Context, e *env, args []string) error {
				if len(args) != 2 {
					return usagef("want USERNAME NAME")
				}
				return addAccount(ctx, e, remote.NewAccount{Kind: remote.Club, Username: args[0], Name: args[1]}, 0)
			}
		},
	})
	return cmds
}

func addAccount(ctx context.Context, e *env, acc remote.NewAccount, nterms int) error {
	a, err := e.App(ctx)
	if err != nil {
		return err
	}
	if acc.Kind != remote.Club {
		pw, err := e.newPassword(acc.Username)
		if err != nil {
			return err
		}
		acc.Password = pw
	}
	if problem := a.CheckAccount(acc); problem != "" {
		return errors.New(problem)
	}
	if _, err := a.Dir.Get(ctx, acc.Username); err == nil {
		return fmt.Errorf("%s already exists", acc.Username)
	} else if !errors.Is(err, members.ErrNoSuchMember) {
		return err
	}
	steps, err := a.Remote.AddUser(ctx, acc)
	for _, s := range steps {
		fmt.Fprintln(e.io.Out, s.Message)
	}
	if err != nil {
		var oe *remote.OpError
		if errors.As(err, &oe) {
			return errors.New("adding the account failed (see the messages above)")
		}
		return err
	}
	if nterms == 0 || acc.Kind == remote.Club {
		return nil
	}
	ts := terms.Interval(a.Current(), nterms)
	// ceod's renew op registers them (the front end writes nothing).
	if _, err := a.Remote.Renew(ctx, acc.Username, terms.Strings(ts), acc.Kind == remote.ClubRep); err != nil {
		return fmt.Errorf("the account was created, but registering it for %s failed: %w", strings.Join(terms.Strings(ts), ", "), err)
	}
	fmt.Fprintf(e.io.Out, "Registered %s for %s.\n", acc.Username, strings.Join(terms.Strings(ts), ", "))
	return nil
}

// createDatabase prints legacy ceo's text byte for byte: scripts read the
// Password: line.
func createDatabase(ctx context.Context, e *env, kind, user string) error {
	a, err := e.App(ctx)
	if err != nil {
		return err
	}
	title := map[string]string{remote.MySQL: "MySQL", remote.PostgreSQL: "PostgreSQL"}[kind]
	pw, err := a.Remote.CreateDatabase(ctx, kind, user)
	if oe := (*remote.OpError)(nil); errors.As(err, &oe) {
		var lines []string
		for _, m := range oe.Messages {
			lines = append(lines, m.Message)
		}
		return &opFailed{err: err, text: fmt.Sprintf("Failed to create %s database\n\nWe failed to create the database. The error was:\n\n%s\n",
			title, strings.Join(lines, "\n"))}
	}
	if err != nil {
		return fmt.Errorf("failed to create the %s database: %w", title, err)
	}
	help := ""
	m, err := a.Dir.Get(ctx, user)
	if err == nil {
		_, err = remote.WriteInfo(m.Home, kind, user, pw)
	}
	if err != nil {
		help = fmt.Sprintf("An error occured writing the settings file: %v", err) // sic, legacy's spelling
	} else {
		help = fmt.Sprintf("Settings written to ~%s/%s.", user, remote.InfoFile(kind))
	}
	fmt.Fprintf(e.io.Out, "%s database created\nConnection Information: \n\nDatabase: %s\nUsername: %s\nHostname: localhost\nPassword: %s\n\n%s\n\n",
		title, user, user, pw, help)
	return nil
}

// ignoredPrograms are the university directory's placeholders for people
// who left, which legacy updateprograms never copied.
var ignoredPrograms = map[string]bool{"orphaned": true, "expired": true}

func updatePrograms(ctx context.Context, e *env, url, base string, yes, dry bool) error {
	a, err := e.App(ctx)
	if err != nil {
		return err
	}
	if url == "" {
		url = a.Config.SourceURL
	}
	if base == "" {
		base = a.Config.SourceBase
	}
	src, err := uwdir.Dial(ctx, url, base, a.Config.RequestTimeout)
	if err != nil {
		return err
	}
	defer src.Close()
	ms, err := a.Dir.All(ctx)
	if err != nil {
		return err
	}
	p := newProgress(e, "checking", len(ms))
	changed, skipped := 0, 0
	for i, m := range ms {
		if err := ctx.Err(); err != nil {
			return err
		}
		p.set(i + 1)
		person, _, err := src.Lookup(m.UID)
		prog := person.Program
		if err != nil {
			p.clear()
			return err
		}
		if prog == "" || prog == m.Program || ignoredPrograms[prog] {
			continue
		}
		p.clear()
		if dry {
			fmt.Fprintf(e.io.Out, "%s: '%s' => '%s'\n", m.UID, m.Program, prog)
			continue
		}
		if !yes {
			fmt.Fprintf(e.io.Err, "%s: '%s' => '%s'? (y/n) ", m.UID, m.Program, prog)
			k, err := e.key()
			fmt.Fprintln(e.io.Err)
			if err != nil {
				return fmt.Errorf("reading the answer: %w", err)
			}
			if k != 'y' && k != 'Y' {
				skipped++
				continue
			}
		}
		if err := a.Dir.SetProgram(ctx, m.UID, prog); err != nil {
			return err
		}
		changed++
		fmt.Fprintf(e.io.Out, "%s: program set to '%s'\n", m.UID, prog)
	}
	p.clear()
	if !dry {
		fmt.Fprintf(e.io.Err, "%d programs changed, %d left as they were.\n", changed, skipped)
	}
	return nil
}
