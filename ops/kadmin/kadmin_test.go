package kadmin_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/csclub/ceo/internal/opstest"
	"github.com/csclub/ceo/internal/realm"
	"github.com/csclub/ceo/ops/kadmin"
)

func TestMain(m *testing.M) { os.Exit(realm.Main(m)) }

func client(r *realm.Realm) *kadmin.Client {
	return &kadmin.Client{Principal: r.AdminPrincipal, Keytab: r.AdminKeytab, Realm: r.Name, KRB5Config: r.KRB5Config}
}

// kinit checks that password logs in as name, with MIT kinit.
func kinit(t *testing.T, r *realm.Realm, name, password string) error {
	t.Helper()
	cmd := exec.Command("kinit", name)
	cmd.Env = append(r.KrbEnv(), "KRB5CCNAME=FILE:"+filepath.Join(t.TempDir(), "cc"))
	cmd.Stdin = strings.NewReader(password + "\n")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%v: %s", err, out)
	}
	return nil
}

func TestLifecycle(t *testing.T) {
	r := realm.Get(t)
	c := client(r)
	ctx := t.Context()
	name := opstest.UniqueName("kt")

	_, err := c.GetPrincipal(ctx, name)
	require.ErrorIs(t, err, kadmin.ErrNotFound)
	require.ErrorIs(t, c.DeletePrincipal(ctx, name), kadmin.ErrNotFound)

	require.NoError(t, c.AddPrincipal(ctx, name, "first pass'\"$;word"))
	p, err := c.GetPrincipal(ctx, name)
	require.NoError(t, err)
	assert.Equal(t, name+"@"+r.Name, p.Name)
	assert.Equal(t, "default", p.Policy)
	require.NoError(t, kinit(t, r, name, "first pass'\"$;word"))
	require.Error(t, kinit(t, r, name, "wrong"))

	err = c.AddPrincipal(ctx, name, "again-pw")
	require.ErrorIs(t, err, kadmin.ErrExists)
	var ke *kadmin.Error
	require.True(t, errors.As(err, &ke))
	assert.Contains(t, ke.Output, "already exists while creating")
	assert.NotContains(t, err.Error(), "again-pw")

	require.NoError(t, c.ChangePassword(ctx, name, "second-pw"))
	require.NoError(t, kinit(t, r, name, "second-pw"))

	require.NoError(t, c.DeletePrincipal(ctx, name))
	_, err = c.GetPrincipal(ctx, name)
	require.ErrorIs(t, err, kadmin.ErrNotFound)
}

func TestPolicyTooShortPassword(t *testing.T) {
	r := realm.Get(t)
	// The realm's default policy wants 4 characters.
	err := client(r).AddPrincipal(t.Context(), opstest.UniqueName("short"), "abc")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "while creating")
	assert.NotContains(t, err.Error(), "abc\n")
}

func TestRefusesUnsafeInput(t *testing.T) {
	r := realm.Get(t)
	c := client(r)
	ctx := t.Context()
	for _, name := range []string{"", "a b", "-randkey", "x\"y", "a@OTHER", "a;b", "../x", "a/", "x'y", "a\nb"} {
		assert.Error(t, c.AddPrincipal(ctx, name, "goodpassword"), "name %q", name)
		assert.Error(t, c.DeletePrincipal(ctx, name), "name %q", name)
	}
	for _, pw := range []string{"", "two\nlines", "cr\rhere", "nul\x00", strings.Repeat("x", kadmin.MaxPasswordLen+1)} {
		assert.Error(t, c.AddPrincipal(ctx, opstest.UniqueName("pw"), pw))
	}
}

func TestAdminServerUnreachable(t *testing.T) {
	r := realm.Get(t)
	conf := brokenKRB5Conf(t, r)
	c := client(r)
	c.KRB5Config = conf
	name := opstest.UniqueName("unreach")
	err := c.AddPrincipal(t.Context(), name, "some-password")
	require.ErrorIs(t, err, kadmin.ErrUnavailable)
	t.Log(err)
	// Nothing was made: the real admin server has no such principal.
	_, err = client(r).GetPrincipal(t.Context(), name)
	require.ErrorIs(t, err, kadmin.ErrNotFound)
}

func TestBadKeytab(t *testing.T) {
	r := realm.Get(t)
	c := client(r)
	c.Keytab = filepath.Join(t.TempDir(), "missing.keytab")
	err := c.DeletePrincipal(t.Context(), "whatever")
	require.ErrorIs(t, err, kadmin.ErrUnavailable)
}

func TestTimeout(t *testing.T) {
	r := realm.Get(t)
	c := client(r)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := c.GetPrincipal(ctx, "office1")
	require.Error(t, err)
}

func TestNoCCacheTouched(t *testing.T) {
	r := realm.Get(t)
	cc := filepath.Join(t.TempDir(), "user-ccache")
	t.Setenv("KRB5CCNAME", "FILE:"+cc)
	_, err := client(r).GetPrincipal(t.Context(), "office1")
	require.NoError(t, err)
	_, err = os.Stat(cc)
	assert.True(t, errors.Is(err, os.ErrNotExist), "kadmin wrote the caller's ccache")
}

// brokenKRB5Conf is the realm's krb5.conf with admin_server on a port
// where nothing listens.
func brokenKRB5Conf(t *testing.T, r *realm.Realm) string {
	t.Helper()
	b, err := os.ReadFile(r.KRB5Config)
	require.NoError(t, err)
	old := fmt.Sprintf("admin_server = 127.0.0.1:%d", r.KadminPort)
	require.Contains(t, string(b), old)
	s := strings.Replace(string(b), old, fmt.Sprintf("admin_server = 127.0.0.1:%d", closedPort(t)), 1)
	p := filepath.Join(t.TempDir(), "krb5.conf")
	require.NoError(t, os.WriteFile(p, []byte(s), 0o644))
	return p
}

// TestArgvEnvStdin runs a fake kadmin that records what it was given:
// the password is on stdin only, and the environment is kadmin's own.
func TestArgvEnvStdin(t *testing.T) {
	dir := t.TempDir()
	fake := filepath.Join(dir, "kadmin")
	script := "#!/bin/sh\nprintf '%s\\n' \"$@\" > " + dir + "/argv\nenv > " + dir + "/env\ncat > " + dir + "/stdin\n" +
		"echo 'Principal \"alice@EXAMPLE.ORG\" created.'\n"
	require.NoError(t, os.WriteFile(fake, []byte(script), 0o755))
	t.Setenv("KRB5_CONFIG", "/inherited/krb5.conf")
	t.Setenv("SECRET_OF_CEOD", "do-not-pass-on")
	c := &kadmin.Client{Path: fake, Principal: "ceod/admin", Keytab: "/k.keytab", Realm: "EXAMPLE.ORG"}
	require.NoError(t, c.AddPrincipal(t.Context(), "alice", "hunter2 secret"))

	argv, _ := os.ReadFile(filepath.Join(dir, "argv"))
	assert.Equal(t, "-k\n-t\n/k.keytab\n-p\nceod/admin\n-r\nEXAMPLE.ORG\n-q\naddprinc -policy default alice\n", string(argv))
	stdin, _ := os.ReadFile(filepath.Join(dir, "stdin"))
	assert.Equal(t, "hunter2 secret\nhunter2 secret\n", string(stdin))
	env, _ := os.ReadFile(filepath.Join(dir, "env"))
	assert.Contains(t, string(env), "KRB5CCNAME=MEMORY:")
	assert.Contains(t, string(env), "KRB5_CONFIG=/inherited/krb5.conf")
	assert.Contains(t, string(env), "LANG=C")
	assert.NotContains(t, string(env), "do-not-pass-on")
	assert.NotContains(t, string(env), "hunter2")

	// Exit status 0 but an error line: a failure.
	script = "#!/bin/sh\ncat >/dev/null\necho 'add_principal: Principal or policy already exists while creating \"alice@EXAMPLE.ORG\".' >&2\n"
	require.NoError(t, os.WriteFile(fake, []byte(script), 0o755))
	err := c.AddPrincipal(t.Context(), "alice", "hunter2 secret")
	require.ErrorIs(t, err, kadmin.ErrExists)
	// Exit status 0, no error line, but no confirmation either: a failure.
	require.NoError(t, os.WriteFile(fake, []byte("#!/bin/sh\ncat >/dev/null\n"), 0o755))
	require.Error(t, c.AddPrincipal(t.Context(), "alice", "hunter2 secret"))
	// A confirmation for another principal does not count.
	require.NoError(t, os.WriteFile(fake, []byte("#!/bin/sh\ncat >/dev/null\necho 'Principal \"alice2@EXAMPLE.ORG\" created.'\n"), 0o755))
	require.Error(t, c.AddPrincipal(t.Context(), "alice", "hunter2 secret"))
}
