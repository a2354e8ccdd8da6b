package members_test

import (
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/csclub/ceo/ceo/internal/ceotest"
	"github.com/csclub/ceo/ceo/members"
	"github.com/csclub/ceo/ceo/terms"
	"github.com/csclub/ceo/internal/realm"
	"github.com/csclub/ceo/ops/directory"
)

func TestMain(m *testing.M) { os.Exit(realm.Main(m)) }

func current() terms.Term { return terms.Current(time.Now) }

func TestGetAndSearch(t *testing.T) {
	r := ceotest.Setup(t)
	d := ceotest.Directory(t, r, "regular1")
	ctx := t.Context()

	m, err := d.Get(ctx, "office1")
	if err != nil {
		t.Fatal(err)
	}
	if m.UID != "office1" || m.Name != "Test office1" || m.Program != "Testing" || m.Shell != "/bin/bash" ||
		!m.Registered(current()) || m.UIDNumber != 20001 || m.Club {
		t.Fatalf("Get(office1) = %+v", m)
	}
	if _, err := d.Get(ctx, "nobody-here"); !errors.Is(err, members.ErrNoSuchMember) {
		t.Errorf("Get(nobody-here) error = %v", err)
	}

	for _, q := range []string{"office1", "test OFFICE1", "ffice"} {
		got, err := d.ByName(ctx, q)
		if err != nil {
			t.Fatalf("ByName(%q): %v", q, err)
		}
		if len(got) != 1 || got[0].UID != "office1" {
			t.Errorf("ByName(%q) = %v", q, uids(got))
		}
	}
	if got, err := d.ByName(ctx, "zzzz-no-match"); err != nil || len(got) != 0 {
		t.Errorf("ByName(no match) = %v, %v", uids(got), err)
	}

	got, err := d.ByTerm(ctx, current())
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"office1", "regular1", "syscom1"} {
		if !slices.Contains(uids(got), u) {
			t.Errorf("ByTerm(%s) = %v, missing %s", current(), uids(got), u)
		}
	}
	if got, err := d.ByTerm(ctx, terms.MustParse("w1999")); err != nil || len(got) != 0 {
		t.Errorf("ByTerm(w1999) = %v, %v", uids(got), err)
	}

	groups, err := d.Groups(ctx, "office1")
	if err != nil || !slices.Contains(groups, "office") || slices.Contains(groups, "syscom") {
		t.Errorf("Groups(office1) = %v, %v", groups, err)
	}
	byGroup, err := d.ByGroup(ctx, "syscom")
	if err != nil || !slices.Equal(uids(byGroup), []string{"syscom1"}) {
		t.Errorf("ByGroup(syscom) = %v, %v", uids(byGroup), err)
	}
	if _, err := d.ByGroup(ctx, "no-such-group"); !errors.Is(err, members.ErrNoSuchGroup) {
		t.Errorf("ByGroup(no-such-group) error = %v", err)
	}
}

func uids(ms []members.Member) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.UID)
	}
	return out
}

// TestGroupsAndPositions: a group's members and the holders of the
// positions, as any member reads them (ceod's ops write them).
func TestGroupsAndPositions(t *testing.T) {
	r := ceotest.Setup(t)
	admin := ceotest.Admin(t, r)
	ceotest.AddEntry(t, r, admin, ceotest.Entry{UID: "someclub", UIDNumber: 30500, Club: true})
	ceotest.SetAttr(t, admin, r.GroupDN("someclub"), "memberUid", "regular1")
	ceotest.SetAttr(t, admin, r.GroupDN("someclub"), "uniqueMember", r.UserDN("regular1"))
	d := ceotest.Directory(t, r, "regular1")
	ctx := t.Context()
	g, err := d.GetGroup(ctx, "someclub")
	if err != nil || !slices.Equal(g.Members, []string{"regular1"}) || g.GID != 30500 {
		t.Fatalf("GetGroup = %+v, %v", g, err)
	}
	if _, err := d.GetGroup(ctx, "no-such-group"); !errors.Is(err, members.ErrNoSuchGroup) {
		t.Errorf("GetGroup(no-such-group) error = %v", err)
	}

	for _, u := range []string{"regular1", "office1"} {
		ceotest.SetAttr(t, admin, r.UserDN(u), "position", "librarian")
		t.Cleanup(func() { ceotest.SetAttr(t, admin, r.UserDN(u), "position") })
	}
	held, err := d.HoldersOf(ctx)
	if err != nil || !slices.Equal(held["librarian"], []string{"office1", "regular1"}) {
		t.Fatalf("HoldersOf = %v, %v", held, err)
	}
}

func TestNotRegistered(t *testing.T) {
	r := ceotest.Setup(t)
	admin := ceotest.Admin(t, r)
	cur := current()
	ceotest.AddEntry(t, r, admin, ceotest.Entry{UID: "lapsed", UIDNumber: 25101, Terms: []string{cur.Prev().String()}})
	ceotest.AddEntry(t, r, admin, ceotest.Entry{UID: "lapsedrep", UIDNumber: 25102, NonMember: []string{cur.Prev().String()}})
	ceotest.AddEntry(t, r, admin, ceotest.Entry{UID: "ancient", UIDNumber: 25103, Terms: []string{"f2001"}})
	d := ceotest.Directory(t, r, "regular1")

	got, err := d.NotRegistered(t.Context(), []terms.Term{cur}, []terms.Term{cur.Prev()})
	if err != nil || !slices.Equal(uids(got), []string{"lapsed", "lapsedrep"}) {
		t.Fatalf("expired last term = %v, %v", uids(got), err)
	}
	got, err = d.NotRegistered(t.Context(), []terms.Term{cur}, nil)
	if err != nil || !slices.Equal(uids(got), []string{"ancient", "lapsed", "lapsedrep"}) {
		t.Fatalf("not registered now = %v, %v", uids(got), err)
	}
}

// TestRedial: after the server drops every connection, the next read
// connects again instead of failing. The connections go through a proxy
// the test can cut.
func TestRedial(t *testing.T) {
	r := ceotest.Setup(t)
	s := ceotest.Login(t, r, "regular1")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	var mu sync.Mutex
	var open []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", strings.TrimPrefix(r.LDAPURL, "ldap://"))
			if err != nil {
				c.Close()
				continue
			}
			mu.Lock()
			open = append(open, c, up)
			mu.Unlock()
			go func() { io.Copy(up, c); up.Close() }()
			go func() { io.Copy(c, up); c.Close() }()
		}
	}()
	url := "ldap://localhost:" + strconv.Itoa(ln.Addr().(*net.TCPAddr).Port) // ldap/localhost is the SPN
	bind, err := s.LDAPBind(url)
	if err != nil {
		t.Fatal(err)
	}
	d, err := members.Dial(t.Context(), directory.Config{URL: url, Bind: bind,
		UsersBase: r.UsersBase, GroupsBase: r.GroupsBase, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := d.Get(t.Context(), "regular1"); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	for _, c := range open {
		c.Close()
	}
	cut := len(open)
	mu.Unlock()
	time.Sleep(50 * time.Millisecond) // let the client see the close
	if _, err := d.Get(t.Context(), "regular1"); err != nil {
		t.Fatalf("Get after the connection was cut: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(open) <= cut {
		t.Errorf("no new connection after the cut (%d before, %d after)", cut, len(open))
	}
}

func TestCheckForward(t *testing.T) {
	for _, ok := range []string{"", "a@b.c", "first.last+tag@example.org"} {
		if err := members.CheckForward(ok); err != nil {
			t.Errorf("CheckForward(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"nobody", "a b@c", "a@", "@b", "a|b@c", "a@b/c", `a"@b`, "a,b@c", "a:b@c", "$x@y", "#a@b"} {
		if err := members.CheckForward(bad); !errors.Is(err, members.ErrInvalid) {
			t.Errorf("CheckForward(%q) = %v", bad, err)
		}
	}
	home := t.TempDir()
	m := &members.Member{Home: home}
	if got := members.Forward(m); got != "" {
		t.Errorf("no .forward: %q", got)
	}
	os.WriteFile(filepath.Join(home, ".forward"), []byte("me@example.org\n"), 0o644)
	if got := members.Forward(m); got != "me@example.org" {
		t.Errorf("Forward = %q", got)
	}
	os.WriteFile(filepath.Join(home, ".forward"), []byte("|/usr/bin/procmail\n"), 0o644)
	if got := members.Forward(m); got != "" {
		t.Errorf("a pipe forward read as %q", got)
	}
}
