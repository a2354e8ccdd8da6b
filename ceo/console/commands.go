package console

import (
	"context"
	"flag"
	"fmt"

	"github.com/csclub/ceo/ceo/remote"
)

// commands are the console's commands: the member lists (members.go),
// the accounts (accounts.go) and the member ops that ceod runs
// (memberops.go, ceod checks /etc/csc/ceod.acl and writes the directory).
func commands() (cmds []*command) {
	register := func(c *command) { cmds = append(cmds, c) }
	register(&command{
		name:    "memberlist",
		summary: "list the members registered for a term",
		usage:   "[TERM]",
		help: `Lists the members registered for TERM (for example f2024; default: the
current term), one per line: user name, name and program.`,
		run: memberlist,
	})
	register(&command{
		name:    "inactive",
		summary: "list accounts not registered for DELTA terms or more",
		usage:   "DELTA",
		help: `Lists the accounts whose latest term (as a member or a club rep) is DELTA
or more terms before the current one, as "USER TERM" (user name padded to
12 columns; f0000 for an account never registered), as legacy ceo did.`,
		run: inactive,
	})
	register(&command{
		name:    "expiredaccounts",
		summary: "list (and with --email, notify) accounts whose membership expired",
		usage:   "[--email] [--all]",
		help: `Lists, as legacy ceo did, the members not registered (as a member or a club
rep) for the current term whose latest term is at most 3 terms back, one
per line as "USER (expired for N terms)", N being the terms since that
latest term. With --all, every member not registered for the current term
(one never registered shows as "USER (never registered)").

With --email, after an explicit confirmation (type 'Yes, do this'), runs
the expire_hook of accounts.cf as "HOOK NAME USERNAME" for each account
listed; the hook mails the expiry notice.`,
		flags: func(fs *flag.FlagSet) runFunc {
			email := fs.Bool("email", false, "notify each expired member through expire_hook (asks for confirmation)")
			all := fs.Bool("all", false, "every member not registered for the current term, not only those expired up to 3 terms ago")
			return func(ctx context.Context, e *env, args []string) error {
				return expiredAccounts(ctx, e, args, *email, *all)
			}
		},
	})
	register(&command{
		name:    "updateprograms",
		summary: "update members' programs from the university directory",
		usage:   "[--source URL] [--source-base DN] [--yes | --dry-run]",
		help: `For each member, looks up their user name in the source directory (the
university's, by default uwldap_server_url and uwldap_base of accounts.cf) and,
where its "ou" differs from the member's program, asks
  USER: 'OLD' => 'NEW'? (y/n)
and changes the program on "y". The source is read anonymously; the
change is made by ceod (op program; ceod.acl: syscom).`,
		flags: func(fs *flag.FlagSet) runFunc {
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
			run: func(ctx context.Context, e *env, args []string) error {
				if len(args) != 2 || args[0] != "create" {
					return usagef("want: create USER")
				}
				return createDatabase(ctx, e, kind, args[1])
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
		flags: func(fs *flag.FlagSet) runFunc {
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
		want:    "USERNAME NAME",
		help: `Creates the club account USERNAME named NAME through ceod: LDAP entry,
group, sudo role and a home directory shared with the club's group. Club
accounts have no password. Office staff only.`,
		run: func(ctx context.Context, e *env, args []string) error {
			return addAccount(ctx, e, remote.NewAccount{Kind: remote.Club, Username: args[0], Name: args[1]}, 0)
		},
	})
	register(&command{
		name:    "renew",
		summary: "register a member (or club rep) for more terms",
		usage:   "[--terms N] [--club-rep] USER",
		want:    "USER",
		help: `Registers USER for N consecutive terms (default 1) from the term after their
last one, never before the current term, through ceod (op renew); with
--club-rep as non-member terms. Terms already held are refused. Office
staff and syscom.`,
		flags: func(fs *flag.FlagSet) runFunc {
			n := fs.Int("terms", 1, "number of terms")
			rep := fs.Bool("club-rep", false, "club rep (non-member) terms")
			return func(ctx context.Context, e *env, args []string) error {
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
		run: func(ctx context.Context, e *env, args []string) error {
			if len(args) < 3 || (args[0] != "add" && args[0] != "remove") {
				return usagef("want add|remove GROUP USER...")
			}
			return memberOp(ctx, e, func(r *remote.Client) ([]remote.Status, error) {
				return r.ChangeGroup(ctx, args[1], args[0] == "add", args[2:])
			})
		},
	})
	register(&command{
		name:    "positions",
		summary: "set the holders of an office position",
		usage:   "set POSITION [USER...]",
		help:    `Makes the users the holders of POSITION (none: vacant) through ceod (op positions).`,
		run: func(ctx context.Context, e *env, args []string) error {
			if len(args) < 2 || args[0] != "set" {
				return usagef("want set POSITION [USER...]")
			}
			return memberOp(ctx, e, func(r *remote.Client) ([]remote.Status, error) {
				return r.SetPosition(ctx, args[1], args[2:])
			})
		},
	})
	register(&command{
		name:    "shell",
		summary: "change a login shell",
		usage:   "USER SHELL",
		want:    "USER SHELL",
		help:    `Changes USER's login shell to SHELL, which must be in the shells file, through ceod (op shell).`,
		run: func(ctx context.Context, e *env, args []string) error {
			return memberOp(ctx, e, func(r *remote.Client) ([]remote.Status, error) { return r.SetShell(ctx, args[0], args[1]) })
		},
	})
	register(&command{
		name:    "passwd",
		summary: "reset a member's password",
		usage:   "[--random] [--need-change] USER",
		want:    "USER",
		help: `Resets USER's Kerberos password through ceod (op passwd): to the first line
of standard input (at a terminal, typed twice without echo), or with
--random to a random one, printed once on standard output.
--need-change makes USER change it at next login.`,
		flags: func(fs *flag.FlagSet) runFunc {
			random := fs.Bool("random", false, "a random password, printed once")
			need := fs.Bool("need-change", false, "require a change at next login")
			return func(ctx context.Context, e *env, args []string) error {
				return resetPassword(ctx, e, args[0], *random, *need)
			}
		},
	})
	register(&command{
		name:    "deluser",
		summary: "delete an account",
		usage:   "[--remove-home] USER",
		want:    "USER",
		help: `Deletes USER's account through ceod (op deluser): LDAP entry, group and
Kerberos principal; with --remove-home its home directory too. Syscom only.`,
		flags: func(fs *flag.FlagSet) runFunc {
			home := fs.Bool("remove-home", false, "remove the home directory too")
			return func(ctx context.Context, e *env, args []string) error {
				return memberOp(ctx, e, func(r *remote.Client) ([]remote.Status, error) { return r.DeleteUser(ctx, args[0], *home) })
			}
		},
	})
	return cmds
}
