package console

import (
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/csclub/ceo/ceo/members"
	"github.com/csclub/ceo/ceo/terms"
)

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
	// The directory leaves out those registered in the last delta
	// terms, so a big directory is not read whole; the rule below is
	// still applied to what comes back.
	cur := a.Current()
	var ms []members.Member
	if delta == 0 {
		ms, err = a.Dir.All(ctx)
	} else {
		ms, err = a.Dir.NotRegistered(ctx, terms.Interval(cur.Add(1-delta), delta), nil)
	}
	if err != nil {
		return err
	}
	for _, m := range ms {
		last, ok := m.LastTerm()
		switch {
		case !ok:
			fmt.Fprintf(e.io.Out, "%-12s %s\n", m.UID, neverTerm)
		case terms.Delta(last, cur) >= delta:
			fmt.Fprintf(e.io.Out, "%-12s %s\n", m.UID, last)
		}
	}
	return nil
}

// neverTerm is what legacy inactive printed for an account never
// registered (its starting value for the latest term).
const neverTerm = "f0000"

// expiredWindow is how many terms back legacy expiredaccounts looked: an
// account whose latest term is older is not listed (nor mailed again).
const expiredWindow = 3

// expired is one account expiredaccounts lists.
type expired struct {
	m     members.Member
	terms int // since the latest term; 0 if never registered
}

// expiredMembers selects as legacy did: not registered for cur, latest
// term at most expiredWindow back (all: any latest term, or none).
func expiredMembers(ms []members.Member, cur terms.Term, all bool) []expired {
	var out []expired
	for _, m := range ms {
		if m.Registered(cur) {
			continue
		}
		last, ok := m.LastTerm()
		n := 0
		if ok {
			n = terms.Delta(last, cur)
		}
		if all || ok && n >= 1 && n <= expiredWindow {
			out = append(out, expired{m, n})
		}
	}
	return out
}

func (x expired) String() string {
	if x.terms == 0 {
		return x.m.UID + " (never registered)"
	}
	return fmt.Sprintf("%s (expired for %d terms)", x.m.UID, x.terms)
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
	// The directory returns the candidates (not registered now and,
	// unless all, registered in the window); expiredMembers applies the
	// rule to them.
	cur := a.Current()
	var since []terms.Term
	if !all {
		since = terms.Interval(cur.Add(-expiredWindow), expiredWindow)
	}
	candidates, err := a.Dir.NotRegistered(ctx, []terms.Term{cur}, since)
	if err != nil {
		return err
	}
	ms := expiredMembers(candidates, cur, all)
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
	for i, x := range ms {
		m := x.m
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
		fmt.Fprintln(e.io.Out, x)
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
