package adduser_test

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

	"github.com/go-ldap/ldap/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/csclub/ceo/internal/ceodtest"
	"github.com/csclub/ceo/internal/opstest"
	"github.com/csclub/ceo/internal/realm"
	"github.com/csclub/ceo/internal/testreq"
	"github.com/csclub/ceo/ops"
	"github.com/csclub/ceo/ops/adduser"
	"github.com/csclub/ceo/ops/config"
	"github.com/csclub/ceo/ops/directory"
	"github.com/csclub/ceo/ops/kadmin"
	"github.com/csclub/ceo/wire/ceopb"
)

func TestMain(m *testing.M) { os.Exit(realm.Main(m)) }

// uniqueName is a fresh valid username.
func uniqueName(prefix string) string { return opstest.UniqueName(prefix) }

// env is one test's handler over the shared realm, with its own home
// roots and notify hook log.
type env struct {
	r       *realm.Realm
	cfg     *config.Accounts
	dir     *directory.Client
	kadm    *kadmin.Client
	h       *adduser.Handler
	hookLog string

	// ceod is the in-process ceod when the test runs through it (see
	// both), else nil.
	ceod *ceodtest.Ceod
}

// viaCeod marks the tests (subtests of both) whose env.call goes
// through ceoc -> ceod instead of calling the handler directly.
var viaCeod sync.Map // *testing.T -> struct{}

// both runs f twice: calling the handler directly, and end to end
// through the ceoc library and an in-process ceod.
func both(t *testing.T, f func(t *testing.T)) {
	t.Run("direct", f)
	t.Run("ceod", func(t *testing.T) {
		viaCeod.Store(t, struct{}{})
		t.Cleanup(func() { viaCeod.Delete(t) })
		f(t)
	})
}

// newEnv loads the realm's accounts.cf, points the home roots and the
// notify hook at per-test places, and builds the handler with Setup (the
// GSSAPI bind as ceod/admin, kadmin with its keytab) unless deps is
// given to adjust the Deps first.
func newEnv(t *testing.T, adjust ...func(*adduser.Deps)) *env {
	t.Helper()
	r := realm.Get(t)
	testreq.Require(t, "root") // adduser chowns homes
	cfg, err := config.LoadAccounts(r.ConfigDir)
	require.NoError(t, err)
	tmp := t.TempDir()
	cfg.MemberHome = filepath.Join(tmp, "members")
	cfg.ClubHome = filepath.Join(tmp, "clubs")
	for _, d := range []string{cfg.MemberHome, cfg.ClubHome} {
		require.NoError(t, os.Mkdir(d, 0o755))
	}
	e := &env{r: r, cfg: cfg, hookLog: filepath.Join(tmp, "notify.log")}
	cfg.NotifyHook = filepath.Join(tmp, "notify")
	hook := "#!/bin/sh\n{ printf 'argv:'; for a in \"$@\"; do printf ' [%s]' \"$a\"; done; echo; cat; echo; } >> " + e.hookLog + "\n"
	require.NoError(t, os.WriteFile(cfg.NotifyHook, []byte(hook), 0o755))
	cfg.AdminKeytab = r.AdminKeytab

	e.kadm = &kadmin.Client{Principal: r.AdminPrincipal, Keytab: r.AdminKeytab, Realm: r.Name, KRB5Config: r.KRB5Config}
	spn, err := directory.ServicePrincipal(r.LDAPURL)
	require.NoError(t, err)
	bind, err := directory.GSSAPIBind(r.KRB5Config, cfg.LDAPAdminPrincipal, cfg.AdminKeytab, spn)
	require.NoError(t, err)
	e.dir, err = directory.Dial(t.Context(), directory.FromAccounts(cfg, bind))
	require.NoError(t, err)
	t.Cleanup(func() { e.dir.Close() })

	if len(adjust) == 0 {
		e.h, err = adduser.Setup(t.Context(), cfg, adduser.Options{KRB5Config: r.KRB5Config, ACL: opstest.DefaultACL(t), Log: testLogger(t)})
		require.NoError(t, err)
		t.Cleanup(func() { e.h.Close() })
	} else {
		d := adduser.Deps{Config: cfg, Directory: e.dir, Kadmin: e.kadm, ACL: opstest.DefaultACL(t), Log: testLogger(t)}
		for _, f := range adjust {
			f(&d)
		}
		e.h, err = adduser.New(d)
		require.NoError(t, err)
	}
	if _, ok := viaCeod.Load(t); ok {
		e.ceod = startCeod(t, e)
	}
	return e
}

// call sends an AddUser as caller (a seeded realm user) and returns
// the reply's messages: through ceoc and ceod if the test runs that way,
// else straight to the handler.
func (e *env) call(t *testing.T, caller string, m *ceopb.AddUser) []*ceopb.StatusMessage {
	t.Helper()
	msgs, err := e.tryCall(t, caller, m)
	require.NoError(t, err)
	return msgs
}

// tryCall is call for other goroutines than the test's: it returns
// errors instead of failing the test.
func (e *env) tryCall(t *testing.T, caller string, m *ceopb.AddUser) ([]*ceopb.StatusMessage, error) {
	body, err := proto.Marshal(m)
	if err != nil {
		return nil, err
	}
	var reply []byte
	if e.ceod != nil {
		reply, err = e.ceod.Client(t, caller).Call(t.Context(), "adduser", body)
	} else {
		var rep ops.Reply
		rep, err = e.h.Serve(t.Context(), ops.Request{Caller: ops.Caller{User: caller, Principal: caller + "@" + e.r.Name}, Body: body})
		reply = rep.Body
	}
	if err != nil {
		return nil, err
	}
	var resp ceopb.AddUserResponse
	if err := proto.Unmarshal(reply, &resp); err != nil {
		return nil, err
	}
	if len(resp.Messages) == 0 {
		return nil, errors.New("a reply without messages")
	}
	return resp.Messages, nil
}

func (e *env) callRaw(t *testing.T, req ops.Request) []*ceopb.StatusMessage {
	t.Helper()
	return e.callCtx(t, t.Context(), req)
}

func (e *env) callCtx(t *testing.T, ctx context.Context, req ops.Request) []*ceopb.StatusMessage {
	t.Helper()
	reply, err := e.h.Serve(ctx, req)
	require.NoError(t, err)
	var resp ceopb.AddUserResponse
	require.NoError(t, proto.Unmarshal(reply.Body, &resp))
	require.NotEmpty(t, resp.Messages, "a reply always has messages")
	return resp.Messages
}

func member(name, password, realname, program, email string) *ceopb.AddUser {
	m := &ceopb.AddUser{Type: ceopb.AddUser_MEMBER.Enum(), Username: proto.String(name), Password: proto.String(password), Realname: proto.String(realname)}
	if program != "" {
		m.Program = proto.String(program)
	}
	if email != "" {
		m.Email = proto.String(email)
	}
	return m
}

func club(name, realname, email string) *ceopb.AddUser {
	m := &ceopb.AddUser{Type: ceopb.AddUser_CLUB.Enum(), Username: proto.String(name), Realname: proto.String(realname)}
	if email != "" {
		m.Email = proto.String(email)
	}
	return m
}

// statuses returns the reply's codes.
func statuses(msgs []*ceopb.StatusMessage) []int32 {
	out := make([]int32, len(msgs))
	for i, m := range msgs {
		out[i] = m.GetStatus()
	}
	return out
}

func text(msgs []*ceopb.StatusMessage) string {
	var b strings.Builder
	for _, m := range msgs {
		fmt.Fprintf(&b, "[%d] %s\n", m.GetStatus(), m.GetMessage())
	}
	return b.String()
}

// requireOK fails unless every message has status 0.
func requireOK(t *testing.T, msgs []*ceopb.StatusMessage) {
	t.Helper()
	for _, m := range msgs {
		require.Zero(t, m.GetStatus(), "reply:\n%s", text(msgs))
	}
}

// requireRefused fails unless the reply is exactly one message with code.
func requireRefused(t *testing.T, msgs []*ceopb.StatusMessage, code int32) {
	t.Helper()
	require.Len(t, msgs, 1, "reply:\n%s", text(msgs))
	require.Equal(t, code, msgs[0].GetStatus(), "reply:\n%s", text(msgs))
}

// kinit logs in as name with password using MIT kinit.
func kinit(t *testing.T, r *realm.Realm, name, password string) error {
	t.Helper()
	cmd := exec.Command("kinit", name)
	cmd.Env = append(r.KrbEnv(), "KRB5CCNAME=FILE:"+filepath.Join(t.TempDir(), "cc"))
	cmd.Stdin = strings.NewReader(password + "\n")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("kinit %s: %v: %s", name, err, out)
	}
	return nil
}

// principalExists asks kadmind.
func (e *env) principalExists(t *testing.T, name string) bool {
	t.Helper()
	_, err := e.kadm.GetPrincipal(context.Background(), name)
	if errors.Is(err, kadmin.ErrNotFound) {
		return false
	}
	require.NoError(t, err)
	return true
}

// assertAbsent checks that nothing of name exists: no LDAP entry with
// that uid or cn anywhere, no sudo role, no principal, no home.
func (e *env) assertAbsent(t *testing.T, name string) {
	t.Helper()
	r := e.r
	f := ldap.EscapeFilter(name)
	assert.Empty(t, r.LDAPSearch(t, r.LDAPBase, "(|(uid="+f+")(cn="+f+")(cn=%"+f+"))", "dn"), "LDAP entries of %q", name)
	if kadmin.ValidName(name) {
		assert.False(t, e.principalExists(t, name), "principal %q", name)
	}
	for _, root := range []string{e.cfg.MemberHome, e.cfg.ClubHome} {
		ents, err := os.ReadDir(root)
		require.NoError(t, err)
		for _, ent := range ents {
			assert.NotEqual(t, name, ent.Name(), "home of %q in %s", name, root)
		}
	}
}

// assertNoHomes checks that the home roots are empty.
func (e *env) assertNoHomes(t *testing.T) {
	t.Helper()
	for _, root := range []string{e.cfg.MemberHome, e.cfg.ClubHome} {
		ents, err := os.ReadDir(root)
		require.NoError(t, err)
		assert.Empty(t, ents, "%s", root)
	}
}

func testLogger(t *testing.T) *slogLogger { return newTestLogger(t) }
