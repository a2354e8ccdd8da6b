// Package scale_test runs the front end and ceod against a directory of
// a real club's size: thousands of members with term histories, clubs
// and big groups, loaded once for the package (slapadd before slapd
// starts), with slapd's limit of 500 entries for unpaged searches in
// force. $CEO_SCALE_MEMBERS sets the number of members (default
// defaultMembers); the benchmarks are meant for 20000:
//
//	CEO_SCALE_MEMBERS=20000 go test -run '^$' -bench . ./ceo/internal/scale
package scale_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/csclub/ceo/ceo/app"
	"github.com/csclub/ceo/ceo/config"
	"github.com/csclub/ceo/ceo/console"
	"github.com/csclub/ceo/ceo/internal/ceotest"
	"github.com/csclub/ceo/ceo/remote"
	"github.com/csclub/ceo/ceo/terms"
	"github.com/csclub/ceo/internal/ceodtest/daemontest"
	"github.com/csclub/ceo/internal/realm"
	"github.com/csclub/ceo/ops/directory"
)

// defaultMembers is the suite's directory size: ten times slapd's
// default size limit, and big enough that a listing which does not page
// fails, while seeding stays a few seconds.
const defaultMembers = 5000

// expiredWindow is how many terms back expiredaccounts looks (the legacy
// rule, ceo/console).
const expiredWindow = 3

func seedSize() int {
	if n, err := strconv.Atoi(os.Getenv("CEO_SCALE_MEMBERS")); err == nil && n >= 0 {
		return n
	}
	return defaultMembers
}

var seedOpts = realm.SeedOptions{Members: seedSize(), Random: 17}

func TestMain(m *testing.M) {
	var opts realm.Options
	if seedOpts.Members > 0 {
		opts.Seed = &seedOpts
	}
	code := realm.MainWith(m, opts)
	ceotest.Cleanup()
	os.Exit(code)
}

// setup returns the seeded realm and its counts.
func setup(t testing.TB) (*realm.Realm, *realm.Seeded) {
	t.Helper()
	r := ceotest.Setup(t)
	if seedOpts.Members == 0 {
		return r, &realm.Seeded{}
	}
	return r, r.SeedOnce(t, seedOpts)
}

// run runs `ceo ARGS...` in-process as user.
func run(t *testing.T, r *realm.Realm, user string, args ...string) (string, string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	io := console.IO{In: strings.NewReader(""), Out: &out, Err: &errOut}
	connect := func(ctx context.Context) (*app.App, error) {
		cfg, err := config.Load(r.ConfigDir)
		if err != nil {
			return nil, err
		}
		return app.Connect(ctx, cfg, ceotest.Login(t, r, user))
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	code := console.Run(ctx, args[0], args[1:], io, connect)
	return out.String(), errOut.String(), code
}

func lines(s string) []string { return strings.Split(strings.TrimSuffix(s, "\n"), "\n") }

// TestLimitInForce: a search that does not page stops at slapd's size
// limit for an ordinary user, as on a production server, and the same
// read through ops/directory (paged) returns everything.
func TestLimitInForce(t *testing.T) {
	r, st := setup(t)
	conn := ceotest.Conn(t, r, ceotest.Login(t, r, "regular1"))
	_, err := conn.Search(ldap.NewSearchRequest(r.UsersBase, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=member)", []string{"1.1"}, nil))
	if !ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded) {
		t.Fatalf("unpaged search of %d members: err = %v, want size limit exceeded", st.Members, err)
	}
	d := ceotest.Directory(t, r, "regular1")
	all, err := d.All(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if want := st.Members + len(r.Users); len(all) != want {
		t.Errorf("paged All = %d members, want %d", len(all), want)
	}
}

// TestLimitError: when the server's limits stop a search anyway, the
// error names the limit and the slapd setting, never a bare "Result
// Code 4". An anonymous client is not "users" in slapd's limits, so its
// paged searches stop at the hard limit of 500.
func TestLimitError(t *testing.T) {
	r, _ := setup(t)
	c, err := directory.Dial(t.Context(), directory.Config{URL: r.LDAPURL, UsersBase: r.UsersBase, GroupsBase: r.GroupsBase})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = c.SearchUsers(t.Context(), "(objectClass=member)")
	if !errors.Is(err, directory.ErrLimit) {
		t.Fatalf("anonymous paged read of every member: err = %v, want a LimitError", err)
	}
	msg := err.Error()
	if strings.Contains(msg, "Result Code") || !strings.Contains(msg, "size limit") || !strings.Contains(msg, "size.prtotal") {
		t.Errorf("limit error = %q, want it to name the size limit and size.prtotal", msg)
	}
	var le *directory.LimitError
	if !errors.As(err, &le) || le.Got != 500 {
		t.Errorf("LimitError = %+v, want 500 entries received", le)
	}
}

func TestMemberlist(t *testing.T) {
	r, st := setup(t)
	out, errOut, code := run(t, r, "office1", "memberlist")
	if code != 0 {
		t.Fatalf("memberlist: exit %d\n%s", code, errOut)
	}
	if got, want := len(lines(out)), st.ByTerm[st.Current]+len(r.Users); got != want {
		t.Errorf("memberlist: %d lines, want %d (seeded %d registered for %s, and the test users)", got, want, st.ByTerm[st.Current], st.Current)
	}
}

func TestInactive(t *testing.T) {
	r, st := setup(t)
	const delta = 3
	out, errOut, code := run(t, r, "office1", "inactive", strconv.Itoa(delta))
	if code != 0 {
		t.Fatalf("inactive: exit %d\n%s", code, errOut)
	}
	want := 0
	for since, n := range st.Since {
		if since < 0 || since >= delta {
			want += n
		}
	}
	if got := len(lines(out)); got != want {
		t.Errorf("inactive %d: %d lines, want %d", delta, got, want)
	}
}

func TestExpiredAccounts(t *testing.T) {
	r, st := setup(t)
	out, errOut, code := run(t, r, "office1", "expiredaccounts")
	if code != 0 {
		t.Fatalf("expiredaccounts: exit %d\n%s", code, errOut)
	}
	want := 0
	for since := 1; since <= expiredWindow; since++ {
		want += st.Since[since]
	}
	got := 0
	for _, l := range lines(out) {
		if strings.Contains(l, "expired for") {
			got++
		}
	}
	if got != want {
		t.Errorf("expiredaccounts: %d accounts, want %d\n%.2000s", got, want, out)
	}
}

// TestSearch: the front end's searches by term, name and group return
// every match.
func TestSearch(t *testing.T) {
	r, st := setup(t)
	d := ceotest.Directory(t, r, "office1")
	ctx := t.Context()
	cur := terms.Current(time.Now)
	byTerm, err := d.ByTerm(ctx, cur)
	if err != nil || len(byTerm) != st.ByTerm[st.Current]+len(r.Users) {
		t.Errorf("ByTerm(%s) = %d members, %v; want %d", cur, len(byTerm), err, st.ByTerm[st.Current]+len(r.Users))
	}
	old := cur.Prev().Prev()
	if byOld, err := d.ByTerm(ctx, old); err != nil || len(byOld) != st.ByTerm[old.String()] {
		t.Errorf("ByTerm(%s) = %d members, %v; want %d", old, len(byOld), err, st.ByTerm[old.String()])
	}
	byName, err := d.ByName(ctx, "Turing")
	if err != nil || len(byName) != st.Named["Turing"] {
		t.Errorf("ByName(Turing) = %d members, %v; want %d", len(byName), err, st.Named["Turing"])
	}
	for _, g := range []string{"seed-big-1", "office"} {
		byGroup, err := d.ByGroup(ctx, g)
		want := st.Groups[g]
		if g == "office" {
			want++ // office1
		}
		if err != nil || len(byGroup) != want {
			t.Errorf("ByGroup(%s) = %d members, %v; want %d", g, len(byGroup), err, want)
		}
	}
}

// TestCompletion: Tab completion's prefix search returns candidates,
// capped, from a directory of thousands.
func TestCompletion(t *testing.T) {
	r, _ := setup(t)
	d := ceotest.Directory(t, r, "regular1")
	got, err := d.CompleteUsers(t.Context(), "s0", 50)
	if err != nil || len(got) != 50 {
		t.Fatalf("CompleteUsers(s0, 50) = %d names, %v", len(got), err)
	}
	for _, n := range got {
		if !strings.HasPrefix(n, "s0") {
			t.Errorf("candidate %q lacks the prefix", n)
		}
	}
	got, err = d.CompleteUsers(t.Context(), "s0012", 100)
	want := []string{"s00120", "s00121", "s00122", "s00123", "s00124", "s00125", "s00126", "s00127", "s00128", "s00129"}
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("CompleteUsers(s0012) = %v, %v", got, err)
	}
}

// TestAddUserCrowded: adduser through ceod, as office1 (checked against
// an office group of hundreds), allocates the first free number above
// the seeded block that fills the bottom of the member range.
func TestAddUserCrowded(t *testing.T) {
	r, st := setup(t)
	daemontest.Start(t, r, daemontest.Options{}).RequireServed(t, "adduser")
	a := connect(t, r, "office1")
	if _, err := a.Remote.AddUser(t.Context(), remote.NewAccount{Kind: remote.Member, Username: "crowded1",
		Password: "crowded-pw-1", Name: "Crowded Member"}); err != nil {
		t.Fatal(err)
	}
	m, err := a.Dir.Get(t.Context(), "crowded1")
	if err != nil {
		t.Fatal(err)
	}
	if m.UIDNumber != st.MaxUID+1 {
		t.Errorf("crowded1 got uid %d, want %d (the first free number after the seeded block)", m.UIDNumber, st.MaxUID+1)
	}
}

// connect logs user in and connects the front end.
func connect(t testing.TB, r *realm.Realm, user string) *app.App {
	return ceotest.Connect(t, r, r.ConfigDir, user)
}
