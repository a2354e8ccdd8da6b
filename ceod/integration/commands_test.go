package integration

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/csclub/ceo/internal/realm"
)

// TestCommandsWithRealmEnv runs the ceod and ceoc commands with nothing
// but the realm's environment: ceod serves the realm's CEO_CONFIG_DIR
// on the port of its ceod.cf, and "ceoc ping" with an empty stdin
// reaches it.
func TestCommandsWithRealmEnv(t *testing.T) {
	r := realm.Get(t)
	bin := binaries(t)
	env := withEnv(r.Env(), pathEnv())
	ceod := startProcess(t, env, nil, filepath.Join(bin, "ceod"))
	waitListening(t, fmt.Sprintf("127.0.0.1:%d", r.CeodPort), ceod)

	cc := r.Kinit(t, "regular1", r.Users["regular1"].Password)
	cenv := withEnv(env, "KRB5CCNAME=FILE:"+cc)
	ceoc := filepath.Join(bin, "ceoc")

	code, stdout, stderr := run(t, cenv, strings.NewReader(""), ceoc, "ping")
	require.Equal(t, 0, code, "ceoc ping: %s", stderr)
	assert.Empty(t, stderr)
	// ceoc prints ping's reply decoded: the principal ceod saw.
	assert.Equal(t, "regular1@"+r.Name+"\n", stdout)

	for _, tt := range []struct {
		name string
		env  []string
		args []string
		code int
		want string
	}{
		{"unknown op", cenv, []string{"nosuch"}, 1, "ceoc: nosuch: unknown op"},
		{"no ticket", withEnv(env, "KRB5CCNAME=FILE:"+filepath.Join(t.TempDir(), "none")), []string{"ping"}, 1, "run kinit"},
		{"usage", cenv, nil, 2, "usage: ceoc"},
		{"bad flag", cenv, []string{"-nope", "ping"}, 2, "flag provided but not defined"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := run(t, tt.env, strings.NewReader(""), ceoc, tt.args...)
			assert.Equal(t, tt.code, code)
			assert.Empty(t, stdout)
			assert.Contains(t, stderr, tt.want)
			if tt.code == 1 {
				assert.Equal(t, 1, strings.Count(stderr, "\n"), "one line: %q", stderr)
			}
		})
	}

	require.NoError(t, ceod.cmd.Process.Signal(syscall.SIGTERM))
	assert.Equal(t, 0, ceod.wait(t, 15*time.Second), "ceod exit status")
	log := ceod.stderr.String()
	assert.Contains(t, log, "msg=audit event=op outcome=ok")
	assert.Contains(t, log, "op=ping")
	assert.Contains(t, log, "msg=\"ceod stopped\"")
}

// TestSIGTERMLetsOpsFinish: on SIGTERM ceod stops accepting at once,
// lets the running op finish and reply, then exits 0.
func TestSIGTERMLetsOpsFinish(t *testing.T) {
	r := realm.Get(t)
	bin := binaries(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	e := newEnv(t, r, "listen = "+addr, fmt.Sprintf("port = %d", port))

	ceod := startProcess(t, []string{pathEnv()}, nil, filepath.Join(bin, "ceod"), "-config", e.dir)
	waitListening(t, addr, ceod)

	cc := r.Kinit(t, "regular1", r.Users["regular1"].Password)
	cenv := append(r.KrbEnv(), "KRB5CCNAME=FILE:"+cc)
	slow := startProcess(t, cenv, strings.NewReader(""), filepath.Join(bin, "ceoc"), "-config", e.dir, "slow")
	started := filepath.Join(e.mark, "started")
	require.Eventually(t, func() bool { _, err := os.Stat(started); return err == nil },
		20*time.Second, 10*time.Millisecond, "slow op never started")

	require.NoError(t, ceod.cmd.Process.Signal(syscall.SIGTERM))
	require.Eventually(t, func() bool {
		c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err == nil {
			c.Close()
		}
		return err != nil
	}, 1500*time.Millisecond, 10*time.Millisecond, "ceod still accepting after SIGTERM")
	select {
	case <-slow.done:
		t.Fatal("the op ended before its program did")
	default:
	}

	assert.Equal(t, 0, slow.wait(t, 20*time.Second), "ceoc slow: %s", slow.stderr.String())
	assert.Equal(t, "done\n", slow.stdout.String())
	assert.Equal(t, 0, ceod.wait(t, 15*time.Second), "ceod exit status")
	log := ceod.stderr.String()
	assert.Contains(t, log, "msg=\"shutting down\"")
	assert.Regexp(t, `msg=audit event=op outcome=ok .*op=slow`, log)
	assert.Contains(t, log, "msg=\"ceod stopped\"")
}
