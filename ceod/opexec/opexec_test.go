package opexec

import (
	"context"
	"errors"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/csclub/ceo/internal/testreq"
	"github.com/csclub/ceo/ops"
	"github.com/csclub/ceo/ops/procrun"
)

// script writes an executable shell script that any user can run.
func script(t *testing.T, body string) string {
	t.Helper()
	dir := t.TempDir()
	// t.TempDir makes 0700 directories; the run-as user must get in.
	for d := dir; d != os.TempDir() && d != "/"; d = filepath.Dir(d) {
		require.NoError(t, os.Chmod(d, 0o755))
	}
	p := filepath.Join(dir, "op-test")
	require.NoError(t, os.WriteFile(p, []byte("#!/bin/sh\n"+body), 0o755))
	return p
}

func currentUser(t *testing.T) string {
	u, err := user.Current()
	require.NoError(t, err)
	return u.Username
}

func TestEnvironmentAndStdio(t *testing.T) {
	p := &Program{Path: script(t, `tr '\0' '\n' < /proc/$$/environ; echo "cwd=$(pwd)"; echo "stdin=$(cat)"`),
		RunAs: currentUser(t), ConfigDir: "/etc/csc-test"}
	out, err := p.Serve(context.Background(), ops.Request{Caller: ops.Caller{User: "alice/admin", Principal: "alice/admin@R"}, Body: []byte("request bytes")})
	require.NoError(t, err)
	assert.Equal(t, "LANG=C\nCEO_USER=alice/admin\nCEO_CONFIG_DIR=/etc/csc-test\ncwd=/\nstdin=request bytes\n", string(out.Body),
		"exactly three environment variables")
}

func TestRunsAsUser(t *testing.T) {
	testreq.Require(t, "root")
	nobody, err := user.Lookup("nobody")
	testreq.Check(t, "user nobody", err)
	p := &Program{Path: script(t, `echo "$(id -u) $(id -g) $(id -G)"`), RunAs: "nobody"}
	out, err := p.Serve(context.Background(), ops.Request{Caller: ops.Caller{User: "x"}})
	require.NoError(t, err)
	gids, err := nobody.GroupIds()
	require.NoError(t, err)
	want := nobody.Uid + " " + nobody.Gid + " " + strings.Join(gids, " ")
	assert.Equal(t, want+"\n", string(out.Body))
}

// TestNonRootCannotSwitch needs the opposite of root, which make test
// (as root) never has: it runs in unprivileged runs only, and a skip
// here is expected, not a missing requirement.
func TestNonRootCannotSwitch(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("runs as root: this test is for unprivileged runs")
	}
	p := &Program{Path: script(t, "true"), RunAs: "root"}
	_, err := p.Serve(context.Background(), ops.Request{})
	assert.ErrorContains(t, err, "not running as root")
}

func TestFailures(t *testing.T) {
	me := currentUser(t)
	t.Run("exit status", func(t *testing.T) {
		p := &Program{Path: script(t, "echo partial; echo 'no such member' >&2; exit 3"), RunAs: me}
		_, err := p.Serve(context.Background(), ops.Request{})
		var ee *ExitError
		require.ErrorAs(t, err, &ee)
		assert.Equal(t, "no such member\n", ee.Stderr)
		assert.ErrorContains(t, err, "exit status 3")
	})
	t.Run("missing program", func(t *testing.T) {
		p := &Program{Path: "/nonexistent/op-x", RunAs: me}
		_, err := p.Serve(context.Background(), ops.Request{})
		assert.ErrorContains(t, err, "opexec: starting /nonexistent/op-x")
		assert.ErrorIs(t, err, os.ErrNotExist)
	})
	t.Run("unknown user", func(t *testing.T) {
		p := &Program{Path: script(t, "true"), RunAs: "no-such-user-ceo"}
		_, err := p.Serve(context.Background(), ops.Request{})
		assert.ErrorContains(t, err, "looking up run-as user")
	})
	t.Run("reply too large", func(t *testing.T) {
		p := &Program{Path: script(t, "head -c 100000 /dev/zero"), RunAs: me, MaxOutput: 1000}
		_, err := p.Serve(context.Background(), ops.Request{})
		assert.ErrorContains(t, err, "reply larger than 1000 bytes")
	})
	t.Run("reply at the limit", func(t *testing.T) {
		p := &Program{Path: script(t, "head -c 1000 /dev/zero"), RunAs: me, MaxOutput: 1000}
		out, err := p.Serve(context.Background(), ops.Request{})
		require.NoError(t, err)
		assert.Equal(t, 1000, len(out.Body))
	})
	t.Run("stderr bounded", func(t *testing.T) {
		p := &Program{Path: script(t, "head -c 100000 /dev/zero | tr '\\0' x >&2; exit 1"), RunAs: me}
		_, err := p.Serve(context.Background(), ops.Request{})
		var ee *ExitError
		require.ErrorAs(t, err, &ee)
		assert.Equal(t, maxStderr, len(ee.Stderr))
	})
}

// TestTimeoutKillsProcessGroup: at the deadline the program and its
// children are killed, even if a child holds stdout open.
func TestTimeoutKillsProcessGroup(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	p := &Program{Path: script(t, "sleep 1000 & echo $! > "+pidFile+"; wait"), RunAs: currentUser(t)}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := p.Serve(ctx, ops.Request{})
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, time.Since(start), procrun.WaitDelay+5*time.Second)

	b, rerr := os.ReadFile(pidFile)
	require.NoError(t, rerr)
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	require.Positive(t, pid)
	require.Eventually(t, func() bool {
		err := syscall.Kill(pid, 0)
		if errors.Is(err, syscall.ESRCH) {
			return true
		}
		// A zombie waiting for init to reap it is dead too.
		st, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		f := strings.Fields(string(st))
		return len(f) > 2 && f[2] == "Z"
	}, 5*time.Second, 10*time.Millisecond, "child %d survived", pid)
}
