package realm

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// daemon is one service process the realm started in the foreground. The
// realm owns it: it is our child, so we reap it ourselves (no PID-1 zombie
// delay) and Pdeathsig ends it if the process holding the realm dies.
type daemon struct {
	name    string
	start   func() (*daemon, error) // starts it again, for Restart
	cmd     *exec.Cmd
	stopSig syscall.Signal
	done    chan struct{} // closed when cmd.Wait returns
	waitErr error
}

// startDaemon starts argv as a foreground child with output to logPath.
// cred, if non-nil, runs it as another user (PostgreSQL refuses root).
func startDaemon(name, logPath string, env []string, dir string, cred *syscall.Credential, stopSig syscall.Signal, argv ...string) (*daemon, error) {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("realm: %s log: %w", name, err)
	}
	defer logf.Close()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = env
	cmd.Dir = dir
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Setpgid:    true,
		Pdeathsig:  syscall.SIGKILL,
		Credential: cred,
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("realm: start %s: %w", name, err)
	}
	d := &daemon{name: name, cmd: cmd, stopSig: stopSig, done: make(chan struct{})}
	d.start = func() (*daemon, error) { return startDaemon(name, logPath, env, dir, cred, stopSig, argv...) }
	go func() {
		d.waitErr = cmd.Wait()
		close(d.done)
	}()
	return d, nil
}

func (d *daemon) pid() int { return d.cmd.Process.Pid }

func (d *daemon) exited() bool {
	select {
	case <-d.done:
		return true
	default:
		return false
	}
}

// stop signals the daemon and waits up to grace for it to exit, then kills
// its whole process group.
func (d *daemon) stop(grace time.Duration) error {
	if d.exited() {
		return nil
	}
	_ = d.cmd.Process.Signal(d.stopSig)
	select {
	case <-d.done:
		return nil
	case <-time.After(grace):
	}
	// The daemon ignored us: kill it and anything it forked.
	_ = syscall.Kill(-d.pid(), syscall.SIGKILL)
	select {
	case <-d.done:
		return fmt.Errorf("realm: %s did not stop within %v; killed", d.name, grace)
	case <-time.After(5 * time.Second):
		return fmt.Errorf("realm: %s (pid %d) survived SIGKILL", d.name, d.pid())
	}
}

// waitTCP waits until addr accepts TCP connections, the daemon exits, or
// the timeout passes.
func waitTCP(d *daemon, addr string, timeout time.Duration, logPath string) error {
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		if d.exited() {
			return fmt.Errorf("realm: %s exited before listening on %s (%v); log %s:\n%s", d.name, addr, d.waitErr, logPath, tail(logPath, 15))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("realm: %s not listening on %s after %v; log %s:\n%s", d.name, addr, timeout, logPath, tail(logPath, 15))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// run runs a setup command to completion, feeding it stdin, and returns its
// combined output. Secrets go on stdin, never in argv.
func run(env []string, dir, stdin string, cred *syscall.Credential, argv ...string) (string, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = env
	cmd.Dir = dir
	cmd.Stdin = strings.NewReader(stdin)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Credential: cred}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("realm: %s: %w\n%s", filepath.Base(argv[0]), err, out)
	}
	return string(out), nil
}

func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// portFree reports whether nothing listens on 127.0.0.1:port (TCP and UDP).
func portFree(port int) bool {
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return false
	}
	l.Close()
	u, err := net.ListenPacket("udp", addr)
	if err != nil {
		return false
	}
	u.Close()
	return true
}

// processAlive reports whether pid exists and is not a zombie.
func processAlive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// Format: pid (comm) state ...; comm may contain spaces and parens.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 >= len(s) {
		return false
	}
	return s[i+2] != 'Z'
}

// ProcessAlive is processAlive for tests and the realm command.
func ProcessAlive(pid int) bool { return processAlive(pid) }

// Processes lists the live processes (zombies left out) whose argv
// satisfies match.
func Processes(match func(argv []string) bool) []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && match(strings.Split(strings.TrimSuffix(string(b), "\x00"), "\x00")) && processAlive(pid) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// Kadmins lists the kadmin programs running with the realm's admin
// keytab: ceod's or ops/kadmin's, never the realm's own (kadmin.local).
func (r *Realm) Kadmins() []int {
	return Processes(func(argv []string) bool {
		return filepath.Base(argv[0]) == "kadmin" && slices.Contains(argv, r.AdminKeytab)
	})
}

var errNoBinary = errors.New("realm: required program not installed")

// findBinaries is findBinary for each name, in order.
func findBinaries(names ...string) ([]string, error) {
	paths := make([]string, len(names))
	for i, n := range names {
		p, err := findBinary(n)
		if err != nil {
			return nil, err
		}
		paths[i] = p
	}
	return paths, nil
}

// findBinary looks in PATH and the sbin directories (root's PATH may lack
// them under some test runners).
func findBinary(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, dir := range []string{"/usr/sbin", "/sbin", "/usr/lib/postgresql/15/bin", "/usr/bin"} {
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%w: %s (run internal/realm/install-deps.sh)", errNoBinary, name)
}
