package console

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/csclub/ceo/ceo/members"
	"github.com/csclub/ceo/ceo/remote"
	"github.com/csclub/ceo/ceo/terms"
	"github.com/csclub/ceo/ceo/uwdir"
)

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
		if _, err := a.Remote.SetProgram(ctx, m.UID, prog); err != nil {
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
