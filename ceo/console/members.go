package console

import (
	"context"
	"flag"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/csclub/ceo/ceo/members"
	"github.com/csclub/ceo/ceo/terms"
)

func init() {
	register(&command{
		name:    "memberlist",
		summary: "list the members registered for a term",
		usage:   "[TERM]",
		help: `Lists the members registered for TERM (for example f2024; default: the
current term), one per line: user name, name and program.`,
		flags: func(fs *flag.FlagSet) func(context.Context, *env, []string) error {
			return memberlist
		},
	})
	register(&command{
		name:    "inactive",
		summary: "list accounts not registered for DELTA terms or more",
		usage:   "DELTA",
		help: `Lists the accounts whose latest term (as a member or a club rep) is DELTA
or more terms before the current one, with that term ("none" if they
were never registered).`,
		flags: func(fs *flag.FlagSet) func(context.Context, *env, []string) error {
			return inactive
		},
	})
	register(&command{
		name:    "expiredaccounts",
		summary: "list (and with --email, notify) accounts whose membership expired",
		usage:   "[--email] [--all]",
		help: `Lists the members whose membership expired: registered (as a member or a
club rep) for the previous term but not the current one. With --all, every
member not registered for the current term (the legacy list).

With --email, after an explicit confirmation (type 'Yes, do this'), runs
the expire_hook of accounts.cf as "HOOK NAME USERNAME" for each of them;
the hook mails the expiry notice.`,
		flags: func(fs *flag.FlagSet) func(context.Context, *env, []string) error {
			email := fs.Bool("email", false, "notify each expired member through expire_hook (asks for confirmation)")
			all := fs.Bool("all", false, "every member not registered for the current term, not only last term's")
			return func(ctx context.Context, e *env, args []string) error {
				return expiredAccounts(ctx, e, args, *email, *all)
			}
		},
	})
}

func printMember(e *env, m members.Member) {
	fmt.Fprintf(e.io.Out, "%-12s %-30s %s\n", m.UID, m.Name, m.Program)
}

func memberlist(ctx context.Context, e *env, args []string) error {
	if len(args) > 1 {
		return usagef("at most one term")
	}
	var t terms.Term
	if len(args) == 1 {
		var err error
		if t, err = terms.Parse(args[0]); err != nil {
			return usagef("%v", err)
		}
	}
	a, err := e.App(ctx)
	if err != nil {
		return err
	}
	if len(args) == 0 {
		t = a.Current()
	}
	ms, err := a.Dir.ByTerm(ctx, t)
	if err != nil {
		return err
	}
	for _, m := range ms {
		printMember(e, m)
	}
	return nil
}

func inactive(ctx context.Context, e *env, args []string) error {
	if len(args) != 1 {
		return usagef("need DELTA, a number of terms")
	}
	delta, err := strconv.Atoi(args[0])
	if err != nil || delta < 0 {
		return usagef("DELTA %q is not a number of terms", args[0])
	}
	a, err := e.App(ctx)
	if err != nil {
		return err
	}
	ms, err := a.Dir.All(ctx)
	if err != nil {
		return err
	}
	cur := a.Current()
	for _, m := range ms {
		last, ok := m.LastTerm()
		switch {
		case !ok:
			fmt.Fprintf(e.io.Out, "%-12s %s\n", m.UID, "none")
		case terms.Delta(last, cur) >= delta:
			fmt.Fprintf(e.io.Out, "%-12s %s\n", m.UID, last)
		}
	}
	return nil
}

// confirmPhrase is what --email wants typed, as legacy.
const confirmPhrase = "Yes, do this"

func expiredAccounts(ctx context.Context, e *env, args []string, email, all bool) error {
	if len(args) > 0 {
		return usagef("unexpected argument %q", args[0])
	}
	a, err := e.App(ctx)
	if err != nil {
		return err
	}
	if email && a.Config.ExpireHook == "" {
		return fmt.Errorf("--email needs expire_hook in %s/accounts.cf", a.Config.Dir)
	}
	cur := a.Current()
	var since []terms.Term
	if !all {
		since = []terms.Term{cur.Prev()}
	}
	ms, err := a.Dir.NotRegistered(ctx, []terms.Term{cur}, since)
	if err != nil {
		return err
	}
	send := false
	if email && len(ms) > 0 {
		fmt.Fprintf(e.io.Err, "%d accounts have expired. If you want to send an account expiration notice to these users then type '%s' and hit enter\n", len(ms), confirmPhrase)
		answer, err := e.line()
		if err != nil {
			return fmt.Errorf("reading the confirmation: %w", err)
		}
		if strings.TrimSpace(answer) == confirmPhrase {
			send = true
		} else {
			fmt.Fprintf(e.io.Err, "Not sending any notices.\n")
		}
	}
	p := newProgress(e, "notifying", len(ms))
	var failed []string
	for i, m := range ms {
		if send {
			p.set(i)
			hctx, cancel := context.WithTimeout(ctx, time.Minute)
			out, err := exec.CommandContext(hctx, a.Config.ExpireHook, m.Name, m.UID).CombinedOutput()
			cancel()
			if err != nil {
				p.clear()
				fmt.Fprintf(e.io.Err, "notifying %s failed: %v %s\n", m.UID, err, strings.TrimSpace(string(out)))
				failed = append(failed, m.UID)
			}
		}
		p.clear()
		fmt.Fprintf(e.io.Out, "%-12s %-30s\n", m.UID, m.Name)
	}
	p.clear()
	if len(failed) > 0 {
		return fmt.Errorf("could not notify %d of %d accounts: %s", len(failed), len(ms), strings.Join(failed, ", "))
	}
	if send {
		fmt.Fprintf(e.io.Err, "Sent %d notices.\n", len(ms))
	}
	return nil
}
