// Package ceotest holds the test helpers the ceo packages share: logging
// in test users of the realm, directory connections, extra directory
// entries, the library database, and building and running binaries.
package ceotest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/csclub/ceo/ceo/app"
	"github.com/csclub/ceo/ceo/config"
	"github.com/csclub/ceo/ceo/members"
	"github.com/csclub/ceo/ceo/session"
	"github.com/csclub/ceo/internal/opstest"
	"github.com/csclub/ceo/internal/realm"
	"github.com/csclub/ceo/ops/directory"
)

// Main is the front end's TestMain: the package's tests share a realm in
// strict LDAP mode (realm.Options.StrictLDAP), where office staff and
// syscom may not write the directory, so every change the front end
// makes must go through ceod; then the binaries Build made are removed.
func Main(m *testing.M) int {
	code := realm.MainWith(m, realm.Options{StrictLDAP: true})
	Cleanup()
	return code
}

// Setup returns the realm and points $KRB5_CONFIG and $CEO_CONFIG_DIR at
// it for the test.
func Setup(t testing.TB) *realm.Realm {
	t.Helper()
	r := realm.Get(t)
	t.Setenv("KRB5_CONFIG", r.KRB5Config)
	t.Setenv("CEO_CONFIG_DIR", r.ConfigDir)
	return r
}

// Login kinits user (a seeded test user) into a fresh ccache and returns
// a session on it.
func Login(t testing.TB, r *realm.Realm, user string) *session.Session {
	t.Helper()
	u, ok := r.Users[user]
	if !ok {
		t.Fatalf("no test user %q", user)
	}
	return loginCC(t, r.Kinit(t, u.Name, u.Password))
}

// LoginAdmin returns a session for ceod/admin (writes everything).
func LoginAdmin(t *testing.T, r *realm.Realm) *session.Session {
	t.Helper()
	return loginCC(t, r.KinitKeytab(t, r.AdminPrincipal, r.AdminKeytab))
}

func loginCC(t testing.TB, cc string) *session.Session {
	t.Helper()
	s, err := session.Login(t.Context(), session.Options{CCName: "FILE:" + cc})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// Connect logs user in and connects the front end (ceo/app) on the
// configuration in dir (r.ConfigDir, or a test's copy of it).
func Connect(t testing.TB, r *realm.Realm, dir, user string) *app.App {
	t.Helper()
	cfg, err := config.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.Connect(t.Context(), cfg, Login(t, r, user))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	return a
}

// Conn is an LDAP connection bound as the session's user.
func Conn(t testing.TB, r *realm.Realm, s *session.Session) *ldap.Conn {
	t.Helper()
	c, err := s.ConnectLDAP(t.Context(), r.LDAPURL, session.LDAPOptions{Timeout: 15 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// Directory is the member directory as user sees it.
func Directory(t testing.TB, r *realm.Realm, user string) *members.Directory {
	t.Helper()
	s := Login(t, r, user)
	return dirFor(t, r, s)
}

func dirFor(t testing.TB, r *realm.Realm, s *session.Session) *members.Directory {
	t.Helper()
	bind, err := s.LDAPBind(r.LDAPURL)
	if err != nil {
		t.Fatal(err)
	}
	d, err := members.Dial(t.Context(), directory.Config{URL: r.LDAPURL, Bind: bind,
		UsersBase: r.UsersBase, GroupsBase: r.GroupsBase, SudoBase: r.SudoBase, Timeout: 15 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// Entry describes an extra member entry for a test.
type Entry struct {
	UID, Name, Program string
	UIDNumber          int
	Terms, NonMember   []string
	Club               bool
}

// AddEntry adds a member (or club) entry and its group directly in LDAP
// (opstest.AddAccount), without a principal or home directory, and
// removes both as admin at the end of the test.
func AddEntry(t *testing.T, r *realm.Realm, admin *ldap.Conn, e Entry) {
	t.Helper()
	opstest.AddAccount(t, r, opstest.Account{Name: e.UID, RealName: e.Name, UID: e.UIDNumber, Club: e.Club,
		Home: filepath.Join(r.HomeRoot, e.UID), Program: e.Program, Terms: e.Terms, NonMemberTerms: e.NonMember})
	t.Cleanup(func() {
		admin.Del(ldap.NewDelRequest(r.GroupDN(e.UID), nil))
		admin.Del(ldap.NewDelRequest(r.UserDN(e.UID), nil))
	})
}

// Admin is an LDAP connection bound as ceod/admin, for test set-up.
func Admin(t *testing.T, r *realm.Realm) *ldap.Conn {
	t.Helper()
	return Conn(t, r, LoginAdmin(t, r))
}

// Attr reads one attribute of dn as ceod/admin.
func Attr(t *testing.T, admin *ldap.Conn, dn, attr string) []string {
	t.Helper()
	res, err := admin.Search(ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=*)", []string{attr}, nil))
	if err != nil {
		if ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
			return nil
		}
		t.Fatalf("reading %s of %s: %v", attr, dn, err)
	}
	if len(res.Entries) == 0 {
		return nil
	}
	return res.Entries[0].GetAttributeValues(attr)
}

// SetAttr replaces one attribute of dn as ceod/admin (for clean-ups).
func SetAttr(t *testing.T, admin *ldap.Conn, dn, attr string, values ...string) {
	t.Helper()
	req := ldap.NewModifyRequest(dn, nil)
	req.Replace(attr, values)
	if err := admin.Modify(req); err != nil {
		t.Errorf("setting %s of %s: %v", attr, dn, err)
	}
}

// LibraryDB returns the connect string of the realm's library.cf (the
// realm creates that database).
func LibraryDB(t *testing.T, r *realm.Realm) string {
	t.Helper()
	return r.PGURL(realm.LibraryDB)
}

// PGConnect connects to url, waiting while the server reports that it is
// still starting up: the realm opens PostgreSQL's port before it accepts
// connections.
func PGConnect(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		c, err := pgx.Connect(ctx, url)
		cancel()
		if err == nil {
			return c
		}
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || pe.Code != "57P03" || time.Now().After(deadline) {
			t.Fatalf("connecting to PostgreSQL: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

var (
	buildMu sync.Mutex
	built   = map[string]string{}
)

// Build compiles the main package pkg (e.g. "./ceo/cmd/ceo", relative to
// the module root) once per test binary and returns the binary's path.
func Build(t testing.TB, pkg string) string {
	t.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	if p, ok := built[pkg]; ok {
		return p
	}
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "ceo-bin-")
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, filepath.Base(pkg))
	args := []string{"build", "-o", out}
	// CEO_TEST_BUILDFLAGS=-race builds the binaries under test with the
	// race detector (set GORACE=log_path=... to collect its reports).
	args = append(args, strings.Fields(os.Getenv("CEO_TEST_BUILDFLAGS"))...)
	cmd := exec.Command("go", append(args, pkg)...)
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, b)
	}
	built[pkg] = out
	return out
}

// Cleanup removes the binaries Build made; call it from TestMain.
func Cleanup() {
	buildMu.Lock()
	defer buildMu.Unlock()
	for _, p := range built {
		os.RemoveAll(filepath.Dir(p))
	}
}

func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", err
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", fmt.Errorf("not inside the module")
	}
	return filepath.Dir(mod), nil
}
