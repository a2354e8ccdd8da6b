package procrun

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// helperEnv makes the test binary a parent that Starts `sleep` with
// KillWithParent, writes its pid to the file named, and waits to be
// killed.
const helperEnv = "PROCRUN_START_HELPER"

func TestMain(m *testing.M) {
	if pidFile := os.Getenv(helperEnv); pidFile != "" {
		p, err := Start(Cmd{Path: "/bin/sleep", Args: []string{"60"}, NewSession: true, KillWithParent: true})
		if err != nil {
			os.Exit(3)
		}
		os.WriteFile(pidFile, []byte(strconv.Itoa(p.Pid())), 0o644)
		select {}
	}
	os.Exit(m.Run())
}

// TestStartDialogue: stdin in, stdout and stderr out in one stream in
// the order written; Kill ends it.
func TestStartDialogue(t *testing.T) {
	p, err := Start(Cmd{Path: "/bin/sh", Args: []string{"-c", `while read -r x; do echo "out $x"; echo "err $x" >&2; done`}})
	require.NoError(t, err)
	defer p.Kill()
	out := bufio.NewReader(p.Output)
	for _, w := range []string{"a", "b"} {
		_, err := io.WriteString(p.Stdin, w+"\n")
		require.NoError(t, err)
		for _, want := range []string{"out " + w + "\n", "err " + w + "\n"} {
			line, err := out.ReadString('\n')
			require.NoError(t, err)
			assert.Equal(t, want, line)
		}
	}
	p.Kill()
	p.Kill() // twice is fine
	select {
	case <-p.Done():
	default:
		t.Fatal("Kill returned before the program was reaped")
	}
}

// TestStartKillsGroup: Kill ends the program's children too.
func TestStartKillsGroup(t *testing.T) {
	p, err := Start(Cmd{Path: "/bin/sh", Args: []string{"-c", `sleep 60 & echo $!; wait`}})
	require.NoError(t, err)
	line, err := bufio.NewReader(p.Output).ReadString('\n')
	require.NoError(t, err)
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	require.NoError(t, err)
	p.Kill()
	require.Eventually(t, func() bool { return !alive(pid) }, 3*time.Second, 20*time.Millisecond, "grandchild %d survived", pid)
}

// TestStartKillWithParent: a parent killed with SIGKILL takes its
// long-lived child with it (the child does not even read stdin, so only
// the kernel's parent-death signal can end it).
func TestStartKillWithParent(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	parent := exec.Command(os.Args[0], "-test.run=^$")
	parent.Env = append(os.Environ(), helperEnv+"="+pidFile)
	require.NoError(t, parent.Start())
	var pid int
	require.Eventually(t, func() bool {
		b, err := os.ReadFile(pidFile)
		if err != nil || len(b) == 0 {
			return false
		}
		pid, err = strconv.Atoi(string(b))
		return err == nil
	}, 10*time.Second, 20*time.Millisecond)
	require.True(t, alive(pid))
	require.NoError(t, parent.Process.Kill())
	parent.Wait()
	require.Eventually(t, func() bool { return !alive(pid) }, 3*time.Second, 20*time.Millisecond, "child %d outlived its parent", pid)
}
