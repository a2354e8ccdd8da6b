package console

import (
	"context"
	"errors"
	"fmt"

	"github.com/csclub/ceo/ceo/remote"
	"github.com/csclub/ceo/ceo/terms"
)

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
