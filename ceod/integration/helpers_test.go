package integration

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/csclub/ceo/ceoc"
	"github.com/csclub/ceo/internal/ceodtest"
	"github.com/csclub/ceo/internal/ceodtest/daemontest"
	"github.com/csclub/ceo/internal/realm"
)

func TestMain(m *testing.M) {
	code := realm.Main(m)
	for _, dir := range []string{binDir, peerDir} {
		if dir != "" {
			os.RemoveAll(dir)
		}
	}
	os.Exit(code)
}

// Op ids of the test ops files.
const (
	idPing  = 0x10
	idHello = 0x02 // the msgtype mitpeer sends (the legacy mail op's id)
	idEcho  = 0x20
	idFail  = 0x21
	idSlow  = 0x22
)

// testOps is the ops file of the in-process daemons: ping is built in,
// the others are the programs of writeLibDir, run as nobody (none has
// a built-in's name, so no account configuration is needed). adduser
// belongs to another host.
const testOps = `# HOST OPNAME USER ID
localhost ping root 0x10
localhost hello nobody 0x02
localhost echo nobody 0x20
localhost fail nobody 0x21
localhost slow nobody 0x22
elsewhere.example adduser root 0x01
`

// programs are the legacy-style op programs of the tests.
var programs = map[string]string{
	// Echoes its environment, credentials and request.
	"echo": `#!/bin/sh
tr '\0' '\n' < /proc/$$/environ
echo "id=$(id -u):$(id -g)"
echo "stdin=$(cat)"
`,
	// What mitpeer's op 2 reaches.
	"hello": `#!/bin/sh
printf 'hello %s: ' "$CEO_USER"
cat
`,
	"fail": `#!/bin/sh
echo "fail: not today" >&2
exit 3
`,
	// Marks that it started, then takes a while.
	"slow": `#!/bin/sh
: > "$(dirname "$0")/../mark/started"
sleep 2
echo done
`,
}

// publicDir makes a directory that the op programs' user can enter.
func publicDir(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	for d := dir; d != os.TempDir() && d != "/"; d = filepath.Dir(d) {
		require.NoError(t, os.Chmod(d, 0o755))
	}
	return dir
}

// testEnv is a configuration directory for an in-process ceod.
type testEnv struct {
	r      *realm.Realm
	dir    string // CEO_CONFIG_DIR
	libDir string
	mark   string // the slow op touches mark/started here
}

// newEnv writes a configuration directory using the realm's ceod keytab,
// with extra lines appended to ceod.cf.
func newEnv(t testing.TB, r *realm.Realm, extra ...string) *testEnv {
	t.Helper()
	base := publicDir(t)
	e := &testEnv{r: r, dir: filepath.Join(base, "config"), libDir: filepath.Join(base, "lib"),
		mark: filepath.Join(base, "mark")}
	require.NoError(t, os.MkdirAll(filepath.Join(e.dir, "ops"), 0o755))
	require.NoError(t, os.MkdirAll(e.libDir, 0o755))
	require.NoError(t, os.MkdirAll(e.mark, 0o777))
	require.NoError(t, os.Chmod(e.mark, 0o777))
	// The journal is the test's own too: a daemon serving adduser must
	// not touch /var/lib/ceod, nor share a journal (and its lock).
	cf := fmt.Sprintf("hostname = localhost\nkeytab = %s\nservice_principal = %s\nlib_dir = %s\nshutdown_grace = 10s\nreplay_cache = %s\njournal = %s\n",
		r.CeodKeytab, r.CeodPrincipal, e.libDir, filepath.Join(base, "replay-cache"), filepath.Join(base, "journal.db")) + strings.Join(extra, "\n") + "\n"
	if !strings.Contains(cf, "\nlisten =") {
		cf += "listen = 127.0.0.1:0\n"
	}
	require.NoError(t, os.WriteFile(filepath.Join(e.dir, "ceod.cf"), []byte(cf), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(e.dir, "ops", "ceo"), []byte(testOps), 0o644))
	for name, body := range programs {
		require.NoError(t, os.WriteFile(filepath.Join(e.libDir, "op-"+name), []byte(body), 0o755))
	}
	return e
}

// canon resolves the test host words without DNS.
func canon(_ context.Context, h string) (string, error) {
	if h == "localhost" {
		return "localhost", nil
	}
	return h, nil
}

// ceod is an in-process daemon (internal/ceodtest/daemontest).
type ceod struct {
	*ceodtest.Ceod
	env    *testEnv
	addr   string
	port   int
	log    *ceodtest.Buffer
	reload chan<- struct{} // what SIGHUP sends
}

// start runs the daemon in-process (daemon.Run, the whole command but
// signals) until the test ends; the test fails if it does not then stop
// cleanly. It logs JSON at debug level to the returned ceod's log, or to
// stderr if that is not nil; args are added to the command line.
func (e *testEnv) start(t testing.TB, stderr io.Writer, args ...string) *ceod {
	t.Helper()
	reload := make(chan struct{})
	c := daemontest.Start(t, e.r, daemontest.Options{ConfigDir: e.dir, LibDir: e.libDir,
		Reload: reload, Args: append([]string{"-log-format", "json", "-log-level", "debug"}, args...), Stderr: stderr, Canon: canon})
	return &ceod{Ceod: c, env: e, addr: c.Addr, port: c.Port, log: c.Log, reload: reload}
}

// dialed starts a ceod in a fresh environment and returns it and an open
// connection of user's to it, closed with the test.
func dialed(t *testing.T, r *realm.Realm, user string) (*ceod, *ceoc.Conn) {
	t.Helper()
	d := newEnv(t, r).start(t, nil)
	conn, err := d.client(t, user).Dial(t.Context(), "ping")
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	return d, conn
}

// realmDaemon is the whole daemon on the realm's own CEO_CONFIG_DIR
// (built-in handlers from accounts.cf, ceod.cf, mysql.cf, ...).
func realmDaemon(t *testing.T, r *realm.Realm) *ceod {
	t.Helper()
	return (&testEnv{r: r, dir: r.ConfigDir}).start(t, nil, "-listen", "127.0.0.1:0")
}

// client returns the ceoc client of user for the daemon, logged in with
// an MIT kinit ccache.
func (d *ceod) client(t testing.TB, user string) *ceoc.Client { return d.Client(t, user) }

var (
	binOnce sync.Once
	binDir  string
	binErr  error
)

// binaries builds the ceod and ceoc commands once per test binary and
// returns the directory holding them.
func binaries(t testing.TB) string {
	t.Helper()
	binOnce.Do(func() {
		gotool := filepath.Join(runtime.GOROOT(), "bin", "go")
		if _, err := os.Stat(gotool); err != nil {
			if gotool, err = exec.LookPath("go"); err != nil {
				binErr = errors.New("no go tool to build the commands")
				return
			}
		}
		binDir, binErr = os.MkdirTemp("", "ceod-integration-bin-")
		if binErr != nil {
			return
		}
		// ceoc without cgo, as the Makefile and debian/rules build it.
		for _, b := range []struct{ pkg, env string }{
			{"github.com/csclub/ceo/ceod/cmd/ceod", ""},
			{"github.com/csclub/ceo/ceoc/cmd/ceoc", "CGO_ENABLED=0"},
		} {
			cmd := exec.Command(gotool, "build", "-o", binDir+"/", b.pkg)
			if b.env != "" {
				cmd.Env = append(os.Environ(), b.env)
			}
			if out, err := cmd.CombinedOutput(); err != nil {
				binErr = fmt.Errorf("go build %s: %v\n%s", b.pkg, err, out)
				return
			}
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binDir
}

// process is a command started by a test, killed if still running when
// the test ends.
type process struct {
	cmd    *exec.Cmd
	stdout *ceodtest.Buffer
	stderr *ceodtest.Buffer
	done   chan struct{}
	err    error
}

func startProcess(t testing.TB, env []string, stdin io.Reader, name string, args ...string) *process {
	t.Helper()
	p := &process{cmd: exec.Command(name, args...), stdout: &ceodtest.Buffer{}, stderr: &ceodtest.Buffer{}, done: make(chan struct{})}
	p.cmd.Env = env
	p.cmd.Stdin = stdin
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	require.NoError(t, p.cmd.Start())
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// wait waits for the process to exit and returns its exit code.
func (p *process) wait(t testing.TB, limit time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(limit):
		t.Fatalf("%s still running after %v\nstderr:\n%s", p.cmd.Path, limit, p.stderr.String())
	}
	return p.cmd.ProcessState.ExitCode()
}

// run runs a command to completion.
func run(t testing.TB, env []string, stdin io.Reader, name string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	p := startProcess(t, env, stdin, name, args...)
	code = p.wait(t, time.Minute)
	return code, p.stdout.String(), p.stderr.String()
}

// waitListening waits until something accepts connections on addr.
func waitListening(t testing.TB, addr string, p *process) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			t.Fatalf("%s exited: %v\n%s", p.cmd.Path, p.err, p.stderr.String())
		default:
		}
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("nothing listening on %s\n%s", addr, p.stderr.String())
}

// withEnv returns env with the given variables set (replacing any).
func withEnv(env []string, kv ...string) []string {
	out := make([]string, 0, len(env)+len(kv))
	for _, e := range env {
		k, _, _ := strings.Cut(e, "=")
		keep := true
		for _, s := range kv {
			if sk, _, _ := strings.Cut(s, "="); sk == k {
				keep = false
			}
		}
		if keep {
			out = append(out, e)
		}
	}
	return append(out, kv...)
}

// pathEnv is PATH for child processes.
func pathEnv() string { return "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" }
