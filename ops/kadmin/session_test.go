package kadmin_test

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/csclub/ceo/internal/opstest"
	"github.com/csclub/ceo/internal/realm"
	"github.com/csclub/ceo/ops/kadmin"
)

func sessionClient(t *testing.T, r *realm.Realm) *kadmin.Client {
	c := client(r)
	c.Session = true
	t.Cleanup(func() { c.Close() })
	return c
}

// TestSessionLifecycle: the queries of TestLifecycle, all in one kadmin
// that stays logged in; Close ends it.
func TestSessionLifecycle(t *testing.T) {
	r := realm.Get(t)
	c := sessionClient(t, r)
	ctx := t.Context()
	name := opstest.UniqueName("ks")

	_, err := c.GetPrincipal(ctx, name)
	require.ErrorIs(t, err, kadmin.ErrNotFound)
	pids := r.Kadmins()
	require.Len(t, pids, 1)
	require.ErrorIs(t, c.DeletePrincipal(ctx, name), kadmin.ErrNotFound)

	pw := "first pass'\"$;word"
	require.NoError(t, c.AddPrincipal(ctx, name, pw))
	p, err := c.GetPrincipal(ctx, name)
	require.NoError(t, err)
	assert.Equal(t, name+"@"+r.Name, p.Name)
	assert.Equal(t, "default", p.Policy)
	require.NoError(t, kinit(t, r, name, pw))

	err = c.AddPrincipal(ctx, name, "again-pw")
	require.ErrorIs(t, err, kadmin.ErrExists)
	assert.False(t, kadmin.Ambiguous(err))
	assert.NotContains(t, err.Error(), "again-pw")

	// The policy refuses a short password: a clean failure, and the
	// session goes on.
	err = c.ChangePassword(ctx, name, "abc")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "while changing")
	assert.NotContains(t, err.Error(), "abc\n")
	require.NoError(t, c.ChangePassword(ctx, name, "second-pw"))
	require.NoError(t, kinit(t, r, name, "second-pw"))
	require.NoError(t, c.RequireChange(ctx, name))
	require.NoError(t, c.DeletePrincipal(ctx, name))
	_, err = c.GetPrincipal(ctx, name)
	require.ErrorIs(t, err, kadmin.ErrNotFound)

	assert.Equal(t, pids, r.Kadmins(), "one kadmin for every query")
	require.NoError(t, c.Close())
	assert.Empty(t, r.Kadmins(), "Close ends kadmin")
	_, err = c.GetPrincipal(ctx, "office1")
	require.NoError(t, err, "a query after Close starts a new session")
}

// TestSessionRecovers: a killed kadmin, a restarted kadmind and a hung
// one each fail at most the query they met, and only as they must.
func TestSessionRecovers(t *testing.T) {
	r := realm.Get(t)
	c := sessionClient(t, r)
	ctx := t.Context()
	_, err := c.GetPrincipal(ctx, "office1")
	require.NoError(t, err)

	// kadmin itself dies between queries: nothing was lost, the next
	// query runs in a new one.
	pids := r.Kadmins()
	require.Len(t, pids, 1)
	require.NoError(t, syscall.Kill(pids[0], syscall.SIGKILL))
	name := opstest.UniqueName("kr")
	require.NoError(t, c.AddPrincipal(ctx, name, "pw-after-kill"))
	require.NoError(t, kinit(t, r, name, "pw-after-kill"))

	// kadmind restarts under the session: its connection is gone. A
	// getprinc is tried again; a write after a pause is preceded by a
	// probe and goes to a new session, applied exactly once.
	require.NoError(t, r.Kill("kadmind"))
	require.NoError(t, r.Restart("kadmind"))
	_, err = c.GetPrincipal(ctx, name)
	require.NoError(t, err)
	require.NoError(t, r.Kill("kadmind"))
	require.NoError(t, r.Restart("kadmind"))
	time.Sleep(1100 * time.Millisecond)
	require.NoError(t, c.ChangePassword(ctx, name, "pw-after-restart"))
	require.NoError(t, kinit(t, r, name, "pw-after-restart"))

	// kadmind hangs. cpw sends its change once it has the password:
	// cut off, it may have been applied. The next query's new session
	// cannot log in: cut off, it changed nothing. Either way the
	// session is dropped, and once kadmind is back all works.
	hung := opstest.UniqueName("kh")
	_, err = c.GetPrincipal(ctx, name) // a session in use: no probe before cpw
	require.NoError(t, err)
	require.NoError(t, r.Signal("kadmind", syscall.SIGSTOP))
	tctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	cpwErr := c.ChangePassword(tctx, name, "pw-hung")
	cancel()
	tctx, cancel = context.WithTimeout(ctx, 500*time.Millisecond)
	addErr := c.AddPrincipal(tctx, hung, "pw-hung")
	cancel()
	require.NoError(t, r.Signal("kadmind", syscall.SIGCONT))
	require.Error(t, addErr)
	assert.False(t, kadmin.Ambiguous(addErr), "cut off before the password: %v", addErr)
	require.Error(t, cpwErr)
	assert.True(t, kadmin.Ambiguous(cpwErr), "cut off after the password: %v", cpwErr)
	assert.Empty(t, r.Kadmins(), "the cut-off session is killed")
	_, err = c.GetPrincipal(ctx, hung)
	require.ErrorIs(t, err, kadmin.ErrNotFound)
	require.NoError(t, c.DeletePrincipal(ctx, name))
}

// TestSessionLoginFails: a session that cannot log in fails cleanly,
// as the one-shot runs do.
func TestSessionLoginFails(t *testing.T) {
	r := realm.Get(t)
	c := sessionClient(t, r)
	c.KRB5Config = brokenKRB5Conf(t, r)
	err := c.AddPrincipal(t.Context(), opstest.UniqueName("ku"), "some-password")
	require.ErrorIs(t, err, kadmin.ErrUnavailable)
	assert.False(t, kadmin.Ambiguous(err))
	assert.Empty(t, r.Kadmins())

	c = sessionClient(t, r)
	c.Keytab = filepath.Join(t.TempDir(), "missing.keytab")
	require.ErrorIs(t, c.DeletePrincipal(t.Context(), "whatever"), kadmin.ErrUnavailable)
}

// fakeSession is a stand-in interactive kadmin: it prompts, logs each
// line it reads to DIR/stdin and answers with script (sh, $line is the
// query), then the sentinel's answer for "ceod-sync-*".
func fakeSession(t *testing.T, script string) (*kadmin.Client, string) {
	t.Helper()
	dir := t.TempDir()
	p := filepath.Join(dir, "kadmin")
	sh := "#!/bin/sh\nprintf 'kadmin:  '\nwhile IFS= read -r line; do\n printf '%s\\n' \"$line\" >> " + dir + "/stdin\n" +
		" case $line in\n  ceod-sync-*) echo \"kadmin: Unknown request \\\"$line\\\".  Type \\\"?\\\" for a request list.\" >&2;;\n" +
		"  *) " + script + ";;\n esac\n printf 'kadmin:  '\ndone\n"
	require.NoError(t, os.WriteFile(p, []byte(sh), 0o755))
	c := &kadmin.Client{Principal: "ceod/admin", Keytab: "/dev/null", Realm: "EXAMPLE", Path: p, Timeout: 500 * time.Millisecond, Session: true}
	t.Cleanup(func() { c.Close() })
	return c, filepath.Join(dir, "stdin")
}

// TestSessionPasswordOnlyWhenAsked: a query that fails before asking
// for the password never gets it, so it cannot be read as a query; one
// that asks gets it once per prompt.
func TestSessionPasswordOnlyWhenAsked(t *testing.T) {
	c, stdin := fakeSession(t, `echo 'add_principal: Policy does not exist while creating "alice@EXAMPLE".' >&2`)
	err := c.AddPrincipal(t.Context(), "alice", "delprinc -force bob")
	require.Error(t, err)
	assert.False(t, kadmin.Ambiguous(err))
	b, _ := os.ReadFile(stdin)
	assert.Equal(t, "addprinc -policy default alice\nceod-sync-1\n", string(b))

	c, stdin = fakeSession(t, `printf 'Enter password for principal "alice@EXAMPLE": '; read -r a; printf '\nRe-enter password for principal "alice@EXAMPLE": '; read -r b; echo; [ "$a" = "$b" ] && echo 'Principal "alice@EXAMPLE" created.'`)
	require.NoError(t, c.AddPrincipal(t.Context(), "alice", "s3cret pw"))
	b, _ = os.ReadFile(stdin)
	assert.Equal(t, "addprinc -policy default alice\nceod-sync-1\n", string(b), "the passwords went to the prompts, not the query reader")

	// A reply lost in an RPC error may have been applied.
	c, _ = fakeSession(t, `echo 'add_principal: RPC: Unable to receive; errno = Connection reset by peer while creating "alice@EXAMPLE".' >&2`)
	err = c.AddPrincipal(t.Context(), "alice", "pw")
	assert.True(t, kadmin.Ambiguous(err), "%v", err)

	// No answer to the sentinel: the output cannot be trusted.
	c, _ = fakeSession(t, `echo 'Principal "alice@EXAMPLE" deleted.'; printf 'kadmin:  '; read -r x`)
	err = c.DeletePrincipal(t.Context(), "alice")
	require.Error(t, err)
	assert.True(t, kadmin.Ambiguous(err), "%v", err)
}
