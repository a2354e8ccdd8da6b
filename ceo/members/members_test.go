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

	"github.com/go-ldap/ldap/v3"

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

// TestRegisterTerms: office registers a member for terms; the values
// land in LDAP; a regular member may not do it.
func TestRegisterTerms(t *testing.T) {
	r := ceotest.Setup(t)
	admin := ceotest.Admin(t, r)
	ceotest.AddEntry(t, r, admin, ceotest.Entry{UID: "renewme", UIDNumber: 25001, Terms: []string{current().Prev().String()}})

	office := ceotest.Directory(t, r, "office1")
	want := terms.Interval(current(), 2)
	if err := office.AddTerms(t.Context(), "renewme", want); err != nil {
		t.Fatal(err)
	}
	got := ceotest.Attr(t, admin, r.UserDN("renewme"), "term")
	slices.Sort(got)
	wantAll := terms.Strings(terms.Sorted(append(want, current().Prev())))
	slices.Sort(wantAll)
	if !slices.Equal(got, wantAll) {
		t.Fatalf("term after AddTerms = %v, want %v", got, wantAll)
	}
	// Registering again for a held term is a no-op, not an error.
	if err := office.AddTerms(t.Context(), "renewme", want[:1]); err != nil {
		t.Fatal(err)
	}
	// A club rep term is not added where a member term exists.
	next := current().Add(2)
	if err := office.AddNonMemberTerms(t.Context(), "renewme", []terms.Term{current(), next}); err != nil {
		t.Fatal(err)
	}
	if got := ceotest.Attr(t, admin, r.UserDN("renewme"), "nonMemberTerm"); !slices.Equal(got, []string{next.String()}) {
		t.Fatalf("nonMemberTerm = %v, want [%s]", got, next)
	}

	regular := ceotest.Directory(t, r, "regular1")
	err := regular.AddTerms(t.Context(), "renewme", []terms.Term{current().Add(5)})
	if !errors.Is(err, members.ErrPermission) {
		t.Fatalf("regular1 registering someone: %v, want ErrPermission", err)
	}
	if err := office.AddTerms(t.Context(), "nobody-here", want); !errors.Is(err, members.ErrNoSuchMember) {
		t.Fatalf("registering a missing member: %v", err)
	}
}

func TestSetShell(t *testing.T) {
	r := ceotest.Setup(t)
	admin := ceotest.Admin(t, r)
	shells, err := members.Shells(filepath.Join(r.Dir, "hooks", "shells"))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(shells, "/bin/sh") || !slices.Contains(shells, "/bin/bash") {
		t.Fatalf("Shells = %v", shells)
	}
	regular := ceotest.Directory(t, r, "regular1")
	if err := regular.SetShell(t.Context(), "regular1", "/bin/sh", shells); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		req := ldap.NewModifyRequest(r.UserDN("regular1"), nil)
		req.Replace("loginShell", []string{"/bin/bash"})
		admin.Modify(req)
	})
	if got := ceotest.Attr(t, admin, r.UserDN("regular1"), "loginShell"); !slices.Equal(got, []string{"/bin/sh"}) {
		t.Fatalf("loginShell = %v", got)
	}
	if err := regular.SetShell(t.Context(), "office1", "/bin/sh", shells); !errors.Is(err, members.ErrPermission) {
		t.Errorf("changing someone else's shell: %v, want ErrPermission", err)
	}
	if err := regular.SetShell(t.Context(), "regular1", "/bin/evil", shells); !errors.Is(err, members.ErrInvalid) {
		t.Errorf("a shell not in the list: %v, want ErrInvalid", err)
	}
}

func TestGroupsAndPositions(t *testing.T) {
	r := ceotest.Setup(t)
	admin := ceotest.Admin(t, r)
	ceotest.AddEntry(t, r, admin, ceotest.Entry{UID: "someclub", UIDNumber: 30500, Club: true})
	syscom := ceotest.Directory(t, r, "syscom1")
	ctx := t.Context()

	if err := syscom.AddGroupMember(ctx, "someclub", "regular1"); err != nil {
		t.Fatal(err)
	}
	if got := ceotest.Attr(t, admin, r.GroupDN("someclub"), "uniqueMember"); !slices.Equal(got, []string{r.UserDN("regular1")}) {
		t.Fatalf("uniqueMember = %v", got)
	}
	if got := ceotest.Attr(t, admin, r.GroupDN("someclub"), "memberUid"); !slices.Equal(got, []string{"regular1"}) {
		t.Fatalf("memberUid = %v", got)
	}
	if err := syscom.AddGroupMember(ctx, "someclub", "regular1"); err == nil {
		t.Error("adding a member twice succeeded")
	}
	g, err := syscom.GetGroup(ctx, "someclub")
	if err != nil || !slices.Equal(g.Members, []string{"regular1"}) || g.GID != 30500 {
		t.Fatalf("GetGroup = %+v, %v", g, err)
	}
	office := ceotest.Directory(t, r, "office1")
	if err := office.AddGroupMember(ctx, "someclub", "office1"); !errors.Is(err, members.ErrPermission) {
		t.Errorf("office1 managing a group: %v, want ErrPermission", err)
	}
	if err := syscom.RemoveGroupMember(ctx, "someclub", "regular1"); err != nil {
		t.Fatal(err)
	}
	if got := ceotest.Attr(t, admin, r.GroupDN("someclub"), "uniqueMember"); len(got) != 0 {
		t.Fatalf("uniqueMember after removal = %v", got)
	}
	if err := syscom.RemoveGroupMember(ctx, "someclub", "regular1"); err == nil {
		t.Error("removing a non-member succeeded")
	}

	// Positions: give, move, clear.
	t.Cleanup(func() { syscom.SetPosition(ctx, "librarian", nil) })
	if err := syscom.SetPosition(ctx, "librarian", []string{"regular1", "office1"}); err != nil {
		t.Fatal(err)
	}
	held, err := syscom.HoldersOf(ctx)
	if err != nil || !slices.Equal(held["librarian"], []string{"office1", "regular1"}) {
		t.Fatalf("HoldersOf = %v, %v", held, err)
	}
	if err := syscom.SetPosition(ctx, "librarian", []string{"office1"}); err != nil {
		t.Fatal(err)
	}
	if got := ceotest.Attr(t, admin, r.UserDN("regular1"), "position"); len(got) != 0 {
		t.Fatalf("regular1 still holds %v", got)
	}
	if got := ceotest.Attr(t, admin, r.UserDN("office1"), "position"); !slices.Equal(got, []string{"librarian"}) {
		t.Fatalf("office1 holds %v", got)
	}
	if err := syscom.SetPosition(ctx, "librarian", []string{"nobody-here"}); !errors.Is(err, members.ErrNoSuchMember) {
		t.Errorf("a missing holder: %v", err)
	}
	if err := office.SetPosition(ctx, "librarian", nil); !errors.Is(err, members.ErrPermission) {
		t.Errorf("office1 setting positions: %v, want ErrPermission", err)
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
