// Package daemontest runs the whole ceod (ceod/daemon: configuration,
// built-in ops, op programs, server) in-process for a test; see
// internal/ceodtest.
package daemontest

import (
	"context"
	"io"
	"net"
	"testing"

	"github.com/csclub/ceo/ceod/daemon"
	"github.com/csclub/ceo/ceod/registry"
	"github.com/csclub/ceo/internal/ceodtest"
	"github.com/csclub/ceo/internal/realm"
)

// Options are Start's.
type Options struct {
	// ConfigDir is the configuration directory; "" means the realm's.
	ConfigDir string
	// LibDir is where the configuration's op programs are (for
	// RequireServed); "" means the realm's.
	LibDir string
	// Args are added to the command line (after -config).
	Args []string
	// Stderr receives the log; nil means the returned Ceod's Log.
	Stderr io.Writer
	// Canon resolves host names in the ops files; nil means DNS.
	Canon registry.CanonFunc
	// Reload, if set, is the daemon's SIGHUP (see daemon.Options).
	Reload <-chan struct{}
}

// Start runs the daemon until the test ends; the test fails if it does
// not start, or does not then stop cleanly. Of the environment it sees
// only KRB5_CONFIG, the realm's, for the ops' LDAP binds and kadmin:
// nothing leaks in from the test's.
func Start(t testing.TB, r *realm.Realm, o Options) *ceodtest.Ceod {
	t.Helper()
	if o.ConfigDir == "" {
		o.ConfigDir = r.ConfigDir
	}
	if o.LibDir == "" {
		o.LibDir = r.LibDir
	}
	log := &ceodtest.Buffer{}
	if o.Stderr == nil {
		o.Stderr = log
	}
	type started struct {
		addr net.Addr
		ops  []registry.Entry
	}
	ready := make(chan started, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- daemon.Run(ctx, daemon.Options{
			Args: append([]string{"-config", o.ConfigDir}, o.Args...),
			Getenv: func(k string) string {
				if k == "KRB5_CONFIG" {
					return r.KRB5Config
				}
				return ""
			},
			Stderr: o.Stderr,
			Ready:  func(a net.Addr, ops []registry.Entry) { ready <- started{a, ops} },
			Canon:  o.Canon,
			Reload: o.Reload,
		})
	}()
	var s started
	select {
	case s = <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("ceod did not start: %v\n%s", err, log.String())
	}
	stop := func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ceod: %v", err)
		}
		if t.Failed() && o.Stderr == log {
			t.Logf("ceod log:\n%s", log.String())
		}
	}
	return ceodtest.New(t, r, s.addr, s.ops, o.ConfigDir, o.LibDir, log, stop)
}
