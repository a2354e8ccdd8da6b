package procrun

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func sh(script string) Cmd {
	return Cmd{Path: "/bin/sh", Args: []string{"-c", script}, Env: []string{"PATH=/usr/bin:/bin"},
		StdoutMax: 1 << 10, StderrMax: 1 << 10}
}

func TestOutputAndEnv(t *testing.T) {
	c := sh(`echo "out $FOO"; echo err >&2; cat`)
	c.Env = append(c.Env, "FOO=bar")
	c.Stdin = strings.NewReader("in\n")
	res, err := Run(t.Context(), c)
	require.NoError(t, err)
	assert.Equal(t, "out bar\nin\n", string(res.Stdout))
	assert.Equal(t, "err\n", string(res.Stderr))
	assert.True(t, res.Started)
}

func TestEmptyEnvironment(t *testing.T) {
	t.Setenv("PROCRUN_SECRET", "x")
	c := sh(`env`)
	c.Env = nil
	c.Path, c.Args = "/usr/bin/env", nil
	res, err := Run(t.Context(), c)
	require.NoError(t, err)
	assert.NotContains(t, string(res.Stdout), "PROCRUN_SECRET")
}

// TestKillsGrandchildren: at the deadline the whole process group dies,
// a grandchild holding stdout open included, and Run returns promptly.
func TestKillsGrandchildren(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	t0 := time.Now()
	_, err := Run(ctx, sh(`sleep 60 & echo $! > `+pidFile+`; wait`))
	require.Error(t, err)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, time.Since(t0), WaitDelay+3*time.Second)
	b, err := os.ReadFile(pidFile)
	require.NoError(t, err)
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	require.NoError(t, err)
	require.Eventually(t, func() bool { return !alive(pid) }, 3*time.Second, 20*time.Millisecond, "grandchild %d survived", pid)
}

func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i > 0 && i+2 < len(s) && s[i+2] != 'Z'
}

func TestBoundedOutput(t *testing.T) {
	c := sh(`head -c 5000 /dev/zero`)
	_, err := Run(t.Context(), c)
	assert.ErrorIs(t, err, ErrOutputTooLarge)

	c.StdoutTruncate = true
	res, err := Run(t.Context(), c)
	require.NoError(t, err)
	assert.Len(t, res.Stdout, 1<<10)
	assert.True(t, res.Overflow)

	c = sh(`head -c 5000 /dev/zero >&2`)
	res, err = Run(t.Context(), c)
	require.NoError(t, err)
	assert.Len(t, res.Stderr, 1<<10, "stderr is cut, never fatal")
}

func TestNotStarted(t *testing.T) {
	res, err := Run(t.Context(), Cmd{Path: "/nonexistent/program"})
	require.Error(t, err)
	assert.False(t, res.Started)
	assert.True(t, errors.Is(err, syscall.ENOENT) || strings.Contains(err.Error(), "no such file"))

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	res, err = Run(ctx, sh(`true`))
	require.Error(t, err)
	assert.False(t, res.Started, "a cancelled context starts nothing")
}
