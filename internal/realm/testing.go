package realm

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/csclub/ceo/internal/testreq"
)

// RequireEnv names the variable that makes a missing realm a test failure
// instead of a skip. `make test` sets it, so CI can never pass by skipping.
const RequireEnv = testreq.RequireEnv

var (
	shared    *Realm
	sharedErr error
)

// Main starts one realm for a test binary, runs its tests and stops the
// realm, also on SIGINT/SIGTERM. Use it as `os.Exit(realm.Main(m))` in
// TestMain. Under -short no realm is started and Get skips. If the test
// binary dies some other way (panic, timeout, SIGKILL) the daemons die with
// it: each is started with a parent-death signal.
func Main(m *testing.M) int { return MainWith(m, Options{}) }

// MainWith is Main with Start options, e.g. a seeded directory
// (Options.Seed) shared by the package's tests.
func MainWith(m *testing.M, opts Options) int {
	flag.Parse()
	if testing.Short() {
		sharedErr = fmt.Errorf("realm: not started under -short")
		return m.Run()
	}
	t0 := time.Now()
	shared, sharedErr = Start(opts)
	if sharedErr != nil {
		if os.Getenv(RequireEnv) != "" {
			fmt.Fprintf(os.Stderr, "realm: %v\n", sharedErr)
			return 1
		}
		return m.Run()
	}
	fmt.Fprintf(os.Stderr, "realm: %s up in %v at %s\n", shared.Name, time.Since(t0).Round(time.Millisecond), shared.Dir)
	if s := shared.seeded; s != nil {
		fmt.Fprintf(os.Stderr, "realm: seeded %d members (%d entries) with slapadd; directory up in %v\n", s.Members, s.Entries, s.Took.Round(time.Millisecond))
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		s := <-sigs
		shared.Remove()
		fmt.Fprintf(os.Stderr, "realm: stopped on %v\n", s)
		os.Exit(1)
	}()
	code := m.Run()
	signal.Stop(sigs)
	t1 := time.Now()
	if err := shared.Remove(); err != nil {
		fmt.Fprintf(os.Stderr, "realm: stop: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	fmt.Fprintf(os.Stderr, "realm: down in %v\n", time.Since(t1).Round(time.Millisecond))
	return code
}

// Get returns the test binary's realm. Without one it skips the test, or
// fails it when CEO_REQUIRE_REALM is set.
func Get(t testing.TB) *Realm {
	t.Helper()
	if shared == nil {
		reason := "no test realm (call realm.Main from TestMain)"
		if sharedErr != nil {
			reason = sharedErr.Error()
		}
		if os.Getenv(RequireEnv) != "" && !testing.Short() {
			t.Fatalf("test realm required: %s", reason)
		}
		t.Skip(reason)
	}
	return shared
}

// Kinit gets a ticket for principal with MIT kinit (password on stdin) in
// a fresh ccache and returns its path.
func (r *Realm) Kinit(t testing.TB, principal, password string) string {
	t.Helper()
	return r.KinitWith(t, principal, password)
}

// KinitWith is Kinit with kinit options before the principal (e.g. "-F"
// for a TGT that is not forwardable).
func (r *Realm) KinitWith(t testing.TB, principal, password string, opts ...string) string {
	t.Helper()
	cc := filepath.Join(t.TempDir(), "krb5cc")
	if err := r.kinit(cc, principal, password, opts...); err != nil {
		t.Fatal(err)
	}
	return cc
}

// TryKinit is Kinit that returns kinit's failure (with its output)
// instead of failing the test: for a password that must not work.
func (r *Realm) TryKinit(t testing.TB, principal, password string) error {
	t.Helper()
	return r.kinit(filepath.Join(t.TempDir(), "krb5cc"), principal, password)
}

func (r *Realm) kinit(cc, principal, password string, opts ...string) error {
	cmd := exec.Command("kinit", append(opts, principal)...)
	cmd.Env = append(r.krbEnv(), "KRB5CCNAME=FILE:"+cc)
	cmd.Stdin = strings.NewReader(password + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("kinit %s: %w\n%s", principal, err, out)
	}
	return nil
}

// KinitKeytab gets a ticket for principal from keytab with MIT kinit.
func (r *Realm) KinitKeytab(t testing.TB, principal, keytab string) string {
	t.Helper()
	cc := filepath.Join(t.TempDir(), "krb5cc")
	cmd := exec.Command("kinit", "-k", "-t", keytab, principal)
	cmd.Env = append(r.krbEnv(), "KRB5CCNAME=FILE:"+cc)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("kinit -k %s: %v\n%s", principal, err, out)
	}
	return cc
}

// KrbEnv is the environment MIT tools need for this realm (KRB5_CONFIG,
// replay cache dir, PATH), without a ccache.
func (r *Realm) KrbEnv() []string {
	var out []string
	for _, kv := range r.krbEnv() {
		if !strings.HasPrefix(kv, "KRB5CCNAME=") {
			out = append(out, kv)
		}
	}
	return out
}
