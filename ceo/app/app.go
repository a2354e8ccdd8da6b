// Package app holds what the front end's screens and console commands
// share once the user is logged in: the configuration, the Kerberos
// session, the directory as that user, the ceod client and (opened on
// first use) the library database.
package app

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/csclub/ceo/ceo/config"
	"github.com/csclub/ceo/ceo/library"
	"github.com/csclub/ceo/ceo/members"
	"github.com/csclub/ceo/ceo/remote"
	"github.com/csclub/ceo/ceo/session"
	"github.com/csclub/ceo/ceo/terms"
	"github.com/csclub/ceo/ceoc"
	"github.com/csclub/ceo/ops/directory"
)

// App is a logged-in front end.
type App struct {
	Config  *config.Config
	Session *session.Session
	Dir     *members.Directory
	Remote  *remote.Client
	Now     func() time.Time

	libMu sync.Mutex
	lib   *library.Library
}

// Connect binds to the directory as the session's user and prepares the
// ceod client (which uses the same credentials cache).
func Connect(ctx context.Context, cfg *config.Config, s *session.Session) (*App, error) {
	bind, err := s.LDAPBind(cfg.LDAPURL)
	if err != nil {
		return nil, err
	}
	dc := directory.FromAccounts(cfg.Accounts, bind)
	dc.Timeout, dc.DialTimeout = cfg.RequestTimeout, cfg.RequestTimeout
	dir, err := members.Dial(ctx, dc)
	if err != nil {
		return nil, err
	}
	rc := &ceoc.Client{
		ConfigDir:   cfg.Dir,
		Credentials: ceoc.CCache("FILE:" + s.CCache),
		Timeout:     cfg.RequestTimeout,
	}
	return &App{Config: cfg, Session: s, Dir: dir, Remote: remote.New(rc), Now: time.Now}, nil
}

// Close releases the connections.
func (a *App) Close() {
	a.libMu.Lock()
	if a.lib != nil {
		a.lib.Close()
	}
	a.libMu.Unlock()
	if a.Dir != nil {
		a.Dir.Close()
	}
	a.Session.Close()
}

// User is the logged-in user's name.
func (a *App) User() string { return a.Session.User }

// Current is the current term.
func (a *App) Current() terms.Term { return terms.Current(a.Now) }

// Library opens the library database on first use (creating its
// tables in an empty database). Sign-outs are allowed to members registered for the
// current term.
func (a *App) Library(ctx context.Context) (*library.Library, error) {
	a.libMu.Lock()
	defer a.libMu.Unlock()
	if a.lib != nil {
		return a.lib, nil
	}
	if a.Config.LibraryErr != nil {
		return nil, fmt.Errorf("%w: %w", library.ErrNoConfig, a.Config.LibraryErr)
	}
	l, err := library.Open(ctx, a.Config.LibraryConnect, library.Options{
		Eligible:   a.Eligible,
		LoanPeriod: a.Config.LoanPeriod,
		Timeout:    a.Config.RequestTimeout,
		Now:        a.Now,
	})
	if err != nil {
		return nil, err
	}
	a.lib = l
	return l, nil
}

// Eligible reports whether user is a member registered (term) for the
// current term, the legacy library rule.
func (a *App) Eligible(ctx context.Context, user string) (bool, error) {
	m, err := a.Dir.Get(ctx, user)
	if err != nil {
		return false, err
	}
	return terms.Contains(m.Terms, a.Current()), nil
}

// InGroups reports which of groups the user belongs to.
func (a *App) InGroups(ctx context.Context, groups ...string) (map[string]bool, error) {
	gs, err := a.Dir.Groups(ctx, a.User())
	if err != nil {
		return nil, fmt.Errorf("reading your groups: %w", err)
	}
	out := map[string]bool{}
	for _, g := range groups {
		out[g] = slices.Contains(gs, g)
	}
	return out, nil
}

// CheckAccount applies the front end's checks to a new account, before
// anything is sent, and returns the legacy message for the first problem
// or "".
func (a *App) CheckAccount(acc remote.NewAccount) string {
	switch {
	case len(acc.Username) < 3:
		return "Username is too short"
	case !a.Config.UsernameRegex.MatchString(acc.Username):
		return fmt.Sprintf("Username %q is not allowed (it must match %s)", acc.Username, a.Config.UsernamePattern)
	case len(strings.TrimSpace(acc.Name)) < 4:
		return "Name is too short"
	case acc.Name == acc.Username:
		return "Name matches username"
	}
	if err := members.CheckForward(acc.Email); err != nil {
		return "Email: " + strings.TrimPrefix(err.Error(), members.ErrInvalid.Error()+": ")
	}
	if acc.Kind != remote.Club && len(acc.Password) < a.Config.MinPasswordLen {
		return fmt.Sprintf("Password is too short (at least %d characters)", a.Config.MinPasswordLen)
	}
	return ""
}
