package session

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/csclub/ceo/internal/realm"
	"github.com/csclub/ceo/wire/krb5"
)

func TestMain(m *testing.M) { os.Exit(realm.Main(m)) }

func krbSetup(t *testing.T) *realm.Realm {
	t.Helper()
	r := realm.Get(t)
	t.Setenv("KRB5_CONFIG", r.KRB5Config)
	return r
}

// TestGetTicketIsUsableByMIT gets a TGT with a password, writes the cache
// ourselves, and checks that MIT klist reads it and that MIT kvno can use
// it to get a service ticket from the KDC (which only works if the key
// and ticket are right).
func TestGetTicketIsUsableByMIT(t *testing.T) {
	r := krbSetup(t)
	u := r.Users["regular1"]
	cfg, err := krb5.LoadConfig()
	if err != nil {
		t.Fatal(err)
	}
	cc := filepath.Join(t.TempDir(), "krb5cc")
	if err := GetTicket(t.Context(), cfg, u.Name, u.Password, cc, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(cc)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("ccache mode %v, want 0600", st.Mode().Perm())
	}
	env := append(r.KrbEnv(), "KRB5CCNAME=FILE:"+cc)
	out, err := run(env, "klist", "-c", "FILE:"+cc)
	if err != nil {
		t.Fatalf("klist: %v\n%s", err, out)
	}
	if !strings.Contains(out, "Default principal: regular1@"+r.Name) || !strings.Contains(out, "krbtgt/"+r.Name+"@"+r.Name) {
		t.Fatalf("klist output:\n%s", out)
	}
	out, err = run(env, "kvno", "ldap/localhost")
	if err != nil {
		t.Fatalf("kvno with our ccache: %v\n%s", err, out)
	}
}

func run(env []string, argv ...string) (string, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = env
	b, err := cmd.CombinedOutput()
	return string(b), err
}

func TestGetTicketErrors(t *testing.T) {
	r := krbSetup(t)
	cfg, err := krb5.LoadConfig()
	if err != nil {
		t.Fatal(err)
	}
	cc := filepath.Join(t.TempDir(), "krb5cc")
	err = GetTicket(t.Context(), cfg, "regular1", "wrong-password", cc, 10*time.Second)
	if !errors.Is(err, ErrBadPassword) {
		t.Errorf("wrong password: %v, want ErrBadPassword", err)
	}
	err = GetTicket(t.Context(), cfg, "nosuchuser", "x", cc, 10*time.Second)
	if !errors.Is(err, ErrUnknownPrincipal) {
		t.Errorf("unknown user: %v, want ErrUnknownPrincipal", err)
	}
	if _, err := os.Stat(cc); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a failed login left a cache: %v", err)
	}
	_ = r
}

// TestLoginPromptsWithoutTicket: no cache, so Login asks for the password
// (once wrong, then right), stores the TGT and binds to LDAP as the user.
func TestLoginPromptsWithoutTicket(t *testing.T) {
	r := krbSetup(t)
	u := r.Users["office1"]
	cc := filepath.Join(t.TempDir(), "krb5cc")
	var prompts []string
	var notes []string
	answers := []string{"not-it", u.Password}
	s, err := Login(t.Context(), Options{
		CCName:    "FILE:" + cc,
		Principal: u.Name,
		Password: func(_ context.Context, prompt string) (string, error) {
			prompts = append(prompts, prompt)
			a := answers[0]
			answers = answers[1:]
			return a, nil
		},
		Notify: func(m string) { notes = append(notes, m) },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if len(prompts) != 2 || prompts[0] != "Password for office1@"+r.Name+": " {
		t.Errorf("prompts %q", prompts)
	}
	if len(notes) != 1 {
		t.Errorf("notes %q", notes)
	}
	if s.User != "office1" || s.Realm != r.Name || s.CCache != cc {
		t.Errorf("session %+v", s)
	}
	conn, err := s.ConnectLDAP(t.Context(), r.LDAPURL, LDAPOptions{Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	who, err := conn.WhoAmI(nil)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.EqualFold(who.AuthzID, "dn:"+r.UserDN("office1")) {
		t.Errorf("whoami = %q, want dn:%s", who.AuthzID, r.UserDN("office1"))
	}
}

// TestLoginUsesExistingTicket: a kinit'ed cache is used without a prompt.
func TestLoginUsesExistingTicket(t *testing.T) {
	r := krbSetup(t)
	u := r.Users["syscom1"]
	cc := r.Kinit(t, u.Name, u.Password)
	s, err := Login(t.Context(), Options{
		CCName: "FILE:" + cc,
		Password: func(context.Context, string) (string, error) {
			t.Error("prompted despite a valid ticket")
			return "", errors.New("no")
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.User != "syscom1" {
		t.Errorf("user %q", s.User)
	}
	// Without a prompt function and without a ticket, the error says so.
	_, err = Login(t.Context(), Options{CCName: "FILE:" + filepath.Join(t.TempDir(), "none")})
	if !errors.Is(err, ErrNoTicket) {
		t.Errorf("no ticket: %v", err)
	}
}

func TestConnectLDAPTimeout(t *testing.T) {
	r := krbSetup(t)
	u := r.Users["regular1"]
	s, err := Login(t.Context(), Options{CCName: "FILE:" + r.Kinit(t, u.Name, u.Password)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// 192.0.2.0/24 is TEST-NET-1: nothing answers there.
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	t0 := time.Now()
	_, err = s.ConnectLDAP(ctx, "ldap://192.0.2.1:389", LDAPOptions{Timeout: 5 * time.Second})
	if err == nil {
		t.Fatal("connected to TEST-NET-1")
	}
	if d := time.Since(t0); d > 2*time.Second {
		t.Errorf("ConnectLDAP took %v despite a 300ms context", d)
	}
}
