package mailman

import (
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/csclub/ceo/internal/opstest"
	"github.com/csclub/ceo/internal/realm"
	"github.com/csclub/ceo/ops"
	"github.com/csclub/ceo/ops/authz"
	"github.com/csclub/ceo/ops/mailman/mailmantest"
)

const (
	domain = "csclub.internal"
	listID = "members.csclub.internal"
)

// backend is a list server under test.
type backend struct {
	url, user, password string
	list                string               // members_list for this test
	standIn             *mailmantest.StandIn // nil for real Mailman
}

func (b backend) listID() string { return b.list + "." + domain }

func (b backend) client() *Client {
	return &Client{URL: b.url, User: b.user, Password: b.password}
}

func (b backend) members(t *testing.T) []string {
	t.Helper()
	m, err := mailmantest.Members(t.Context(), b.url, b.user, b.password, b.listID())
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(m)
	return m
}

// The real Mailman 3 is started once per test binary, on first use;
// each test gets its own list.
var real struct {
	once sync.Once
	m    *mailmantest.Mailman3
	dir  string
	err  error
	n    atomic.Int64
}

func TestMain(m *testing.M) {
	code := realm.Main(m)
	if real.m != nil {
		real.m.Stop()
		os.RemoveAll(real.dir)
	}
	os.Exit(code)
}

func realMailman(t *testing.T) *mailmantest.Mailman3 {
	t.Helper()
	mailmantest.SkipUnavailable(t)
	real.once.Do(func() {
		t0 := time.Now()
		if real.dir, real.err = os.MkdirTemp("", "mailman3-"); real.err != nil {
			return
		}
		real.m, real.err = mailmantest.Start(real.dir)
		t.Logf("mailman3 up in %v", time.Since(t0).Round(time.Millisecond))
	})
	if real.err != nil {
		t.Fatal(real.err)
	}
	return real.m
}

// eachBackend runs f against the stand-in and, when Debian's mailman3 is
// installed, against a real Mailman 3 core. f's list is b.listID.
func eachBackend(t *testing.T, f func(t *testing.T, b backend)) {
	t.Run("standin", func(t *testing.T) {
		s := mailmantest.NewStandIn(t, "restadmin", "rest-pw", "members."+domain)
		f(t, backend{url: s.URL, user: s.User, password: s.Password, list: "members", standIn: s})
	})
	t.Run("mailman3", func(t *testing.T) {
		if testing.Short() {
			t.Skip("real Mailman 3 under -short")
		}
		m := realMailman(t)
		list := fmt.Sprintf("members%d", real.n.Add(1))
		if err := m.AddList(list + "@" + domain); err != nil {
			t.Fatal(err)
		}
		f(t, backend{url: m.URL, user: m.User, password: m.Password, list: list})
	})
}

func directory() *opstest.Fake {
	f := &opstest.Fake{}
	f.AddToGroup("office", "office1")
	f.AddToGroup("syscom", "syscom1")
	return f
}

func newHandler(t *testing.T, b backend, dir authz.Directory) ops.Handler {
	t.Helper()
	h, err := New(Deps{Dir: dir, ACL: opstest.DefaultACL(t), Lists: b.client(), MembersList: b.list, ListDomain: domain})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func serve(t *testing.T, h ops.Handler, caller, body string) string {
	t.Helper()
	out, err := h.Serve(t.Context(), ops.Request{Caller: ops.Caller{User: caller, Principal: caller + "@CSCLUB.INTERNAL"}, Body: []byte(body)})
	if err != nil {
		t.Fatalf("Serve: %v", err)
	}
	return string(out.Body)
}

func TestSubscribe(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		h := newHandler(t, b, directory())
		steps := []struct {
			caller, body, want string
			members            []string
		}{
			{"regular1", "regular1\n", "Subscribed: regular1@csclub.internal\n\n",
				[]string{"regular1@csclub.internal"}},
			{"regular1", "regular1\n", "Already a member: regular1@csclub.internal\n\n",
				[]string{"regular1@csclub.internal"}},
			{"office1", "regular2\n", "Subscribed: regular2@csclub.internal\n\n",
				[]string{"regular1@csclub.internal", "regular2@csclub.internal"}},
			{"syscom1", "office1\n", "Subscribed: office1@csclub.internal\n\n",
				[]string{"office1@csclub.internal", "regular1@csclub.internal", "regular2@csclub.internal"}},
			// raw_input semantics: no newline needed, later lines ignored.
			{"regular3", "regular3", "Subscribed: regular3@csclub.internal\n\n",
				[]string{"office1@csclub.internal", "regular1@csclub.internal", "regular2@csclub.internal", "regular3@csclub.internal"}},
			{"office1", "regular4\nregular5\n", "Subscribed: regular4@csclub.internal\n\n",
				[]string{"office1@csclub.internal", "regular1@csclub.internal", "regular2@csclub.internal", "regular3@csclub.internal", "regular4@csclub.internal"}},
		}
		for _, s := range steps {
			if got := serve(t, h, s.caller, s.body); got != s.want {
				t.Errorf("%s asks %q: reply %q, want %q", s.caller, s.body, got, s.want)
			}
			if got := b.members(t); !slices.Equal(got, s.members) {
				t.Errorf("after %s asks %q: members %v, want %v", s.caller, s.body, got, s.members)
			}
		}
	})
}

// Refusals reply with legacy's first words (the ACL refusal names its
// rule) and leave the list alone.
func TestRefusalsChangeNothing(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		h := newHandler(t, b, directory())
		serve(t, h, "regular1", "regular1\n")
		before := b.members(t)
		cases := []struct{ caller, body, want string }{
			{"regular1", "regular2\n", "Access denied: regular1 may not mailman regular2: no rule of mailman in ceod.acl allows it (default deny)\n"},
			{"regular1/admin", "regular1\n", "Access denied: regular1/admin may not mailman regular1: no rule of mailman in ceod.acl allows it (default deny)\n"},
			{"office1", "x@evil.example\n", "Invalid username: \"x@evil.example\"\n"},
			{"office1", "Bad Name\n", "Invalid username: \"Bad Name\"\n"},
			{"office1", "../x\n", "Invalid username: \"../x\"\n"},
			{"office1", "a\r\n", "Invalid username: \"a\\r\"\n"},
			{"office1", "\n", "Invalid username: \"\"\n"},
			{"office1", "", "Invalid username: \"\"\n"},
			{"syscom1", "x,y\n", "Invalid username: \"x,y\"\n"},
		}
		for _, c := range cases {
			c.want = strings.ReplaceAll(c.want, "LIST", b.list)
			if got := serve(t, h, c.caller, c.body); got != c.want {
				t.Errorf("%s asks %q: reply %q, want %q", c.caller, c.body, got, c.want)
			}
			if after := b.members(t); !slices.Equal(after, before) {
				t.Errorf("%s asks %q: members changed %v -> %v", c.caller, c.body, before, after)
			}
		}
	})
}

func TestWrongCredentials(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		bad := b
		bad.password = "wrong"
		h := newHandler(t, bad, directory())
		_, err := h.Serve(t.Context(), ops.Request{Caller: ops.Caller{User: "regular1", Principal: "regular1@CSCLUB.INTERNAL"}, Body: []byte("regular1\n")})
		if !errors.Is(err, ErrUnauthorized) {
			t.Errorf("err %v, want ErrUnauthorized", err)
		}
		if strings.Contains(err.Error(), "wrong") {
			t.Errorf("error shows the password: %v", err)
		}
		if m := b.members(t); len(m) != 0 {
			t.Errorf("members %v after a refused request", m)
		}
	})
}

func TestNoSuchList(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		h, err := New(Deps{Dir: directory(), ACL: opstest.DefaultACL(t), Lists: b.client(), MembersList: b.list, ListDomain: domain,
			ListID: "nosuchlist.csclub.internal"})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := serve(t, h, "regular1", "regular1\n"), "No such list: "+b.list+"\n\n"; got != want {
			t.Errorf("reply %q, want %q", got, want)
		}
	})
}

func TestDisabled(t *testing.T) {
	s := mailmantest.NewStandIn(t, "restadmin", "rest-pw", listID)
	dir := &opstest.Fake{}
	h, err := New(Deps{Dir: dir, Lists: &Client{URL: s.URL, User: "restadmin", Password: "rest-pw"}, MembersList: "none", ListDomain: domain})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := serve(t, h, "regular1", "regular1\n"), "Disabled: regular1\n"; got != want {
		t.Errorf("reply %q, want %q", got, want)
	}
	if s.Requests() != 0 || dir.Calls != 0 {
		t.Errorf("disabled op made %d list and %d directory requests", s.Requests(), dir.Calls)
	}
	// Disabled needs no list server at all.
	if _, err := New(Deps{MembersList: "none"}); err != nil {
		t.Errorf("disabled op with no deps: %v", err)
	}
}

func TestServerFailures(t *testing.T) {
	s := mailmantest.NewStandIn(t, "restadmin", "rest-pw", listID)
	s.Fail = 500
	h := newHandler(t, backend{url: s.URL, user: "restadmin", password: "rest-pw", list: "members"}, directory())
	if _, err := h.Serve(t.Context(), ops.Request{Caller: ops.Caller{User: "regular1", Principal: "regular1@CSCLUB.INTERNAL"}, Body: []byte("regular1\n")}); err == nil || !strings.Contains(err.Error(), "500") {
		t.Errorf("server error: err %v", err)
	}

	dead := httptest.NewServer(nil)
	dead.Close()
	h = newHandler(t, backend{url: dead.URL, user: "restadmin", password: "rest-pw", list: "members"}, directory())
	if _, err := h.Serve(t.Context(), ops.Request{Caller: ops.Caller{User: "regular1", Principal: "regular1@CSCLUB.INTERNAL"}, Body: []byte("regular1\n")}); err == nil {
		t.Error("unreachable server: no error")
	}

	h = newHandler(t, backend{url: s.URL, user: "restadmin", password: "rest-pw", list: "members"}, &opstest.Fake{Err: errors.New("ldap down")})
	if _, err := h.Serve(t.Context(), ops.Request{Caller: ops.Caller{User: "office1", Principal: "office1@CSCLUB.INTERNAL"}, Body: []byte("regular1\n")}); err == nil {
		t.Error("directory outage: no error")
	}
}

// A subscription the list server holds for moderation is reported as
// pending, and the address is not a member yet.
func TestPending(t *testing.T) {
	s := mailmantest.NewStandIn(t, "restadmin", "rest-pw", listID)
	s.Hold = true
	b := backend{url: s.URL, user: "restadmin", password: "rest-pw", list: "members", standIn: s}
	h := newHandler(t, b, directory())
	if got, want := serve(t, h, "regular1", "regular1\n"), "Subscription pending: regular1@csclub.internal\n\n"; got != want {
		t.Errorf("reply %q, want %q", got, want)
	}
	if m := b.members(t); len(m) != 0 {
		t.Errorf("members %v", m)
	}
}

func TestClientBadAddress(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		res, err := b.client().Subscribe(t.Context(), b.listID(), "not an address")
		if err != nil || res != BadAddress {
			t.Errorf("bad address: %v %v", res, err)
		}
	})
}

func TestListID(t *testing.T) {
	for _, c := range []struct{ list, domain, want string }{
		{"members", "csclub.internal", "members.csclub.internal"},
		{"members@lists.example.org", "csclub.internal", "members.lists.example.org"},
		{"members.lists.example.org", "csclub.internal", "members.lists.example.org"},
	} {
		if got := ListID(c.list, c.domain); got != c.want {
			t.Errorf("ListID(%q, %q) = %q, want %q", c.list, c.domain, got, c.want)
		}
	}
}

func TestNewValidates(t *testing.T) {
	c := &Client{URL: "http://127.0.0.1:1"}
	a := opstest.DefaultACL(t)
	for name, d := range map[string]Deps{
		"no members_list": {Dir: directory(), ACL: a, Lists: c, ListDomain: domain},
		"no list_domain":  {Dir: directory(), ACL: a, Lists: c, MembersList: "members"},
		"no directory":    {ACL: a, Lists: c, MembersList: "members", ListDomain: domain},
		"no client":       {Dir: directory(), ACL: a, MembersList: "members", ListDomain: domain},
		"no ACL":          {Dir: directory(), Lists: c, MembersList: "members", ListDomain: domain},
	} {
		if _, err := New(d); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// A password put in the URL does not show in errors.
func TestClientErrorsHideURLPassword(t *testing.T) {
	dead := httptest.NewServer(nil)
	dead.Close()
	u := strings.Replace(dead.URL, "http://", "http://restadmin:url-secret@", 1)
	_, err := (&Client{URL: u}).Subscribe(t.Context(), listID, "a@csclub.internal")
	if err == nil || strings.Contains(err.Error(), "url-secret") {
		t.Errorf("err %v", err)
	}
	_, err = (&Client{URL: "http://x:url-secret@[::1"}).Subscribe(t.Context(), listID, "a@csclub.internal")
	if err == nil || strings.Contains(err.Error(), "url-secret") {
		t.Errorf("err %v", err)
	}
}

// TestTrustedPrincipal: the adduser host's ceod, named in
// mailman_trusted_principals, may subscribe anyone; another service
// principal may not. Nothing is trusted by address. (The same name from
// another realm never reaches the op: ceod refuses it as a caller.)
func TestTrustedPrincipal(t *testing.T) {
	s := mailmantest.NewStandIn(t, "restadmin", "rest-pw", "members."+domain)
	b := backend{url: s.URL, user: s.User, password: s.Password, list: "members", standIn: s}
	h, err := New(Deps{Dir: &opstest.Fake{}, ACL: opstest.DefaultACL(t), Lists: b.client(), MembersList: b.list, ListDomain: domain,
		Trusted: []string{"ceod/aspartame.csclub.internal"}})
	if err != nil {
		t.Fatal(err)
	}
	call := func(principal string) string {
		t.Helper()
		out, err := h.Serve(t.Context(), ops.Request{Caller: ops.CallerOf(principal), Body: []byte("newbie\n")})
		if err != nil {
			t.Fatal(err)
		}
		return string(out.Body)
	}
	if got := call("ceod/caffeine.csclub.internal@CSCLUB.INTERNAL"); !strings.HasPrefix(got, "Access denied") {
		t.Errorf("untrusted service principal: %q", got)
	}
	if got := call("ceod/aspartame.csclub.internal@CSCLUB.INTERNAL"); got != "Subscribed: newbie@"+domain+"\n\n" {
		t.Errorf("trusted principal: %q", got)
	}
	if got := b.members(t); !slices.Equal(got, []string{"newbie@" + domain}) {
		t.Errorf("members %v", got)
	}
}
