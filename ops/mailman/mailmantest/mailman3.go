package mailmantest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/csclub/ceo/internal/testreq"
)

// Runner is Debian's mailman3 runner program.
const Runner = "/usr/lib/mailman3/bin/runner"

// RequireEnv, when set, makes a missing Mailman 3 a test failure rather
// than a skip.
const RequireEnv = "CEO_REQUIRE_MAILMAN"

// Mailman3 is a real GNU Mailman 3 core REST runner, in the foreground
// as a child of the test, on a loopback port, with its own var dir and
// SQLite database; no other runner, no MTA (NullMTA), no system service.
type Mailman3 struct {
	URL, User, Password string
	Dir                 string
	cmd                 *exec.Cmd
	log                 *os.File
	exited              chan struct{} // closed when the runner exited (not yet reaped)
	stopOnce            sync.Once
}

// Available reports why Mailman 3 cannot be started here, or nil.
func Available() error {
	if _, err := os.Stat(Runner); err != nil {
		return fmt.Errorf("mailman3 is not installed (apt-get install mailman3): %w", err)
	}
	return nil
}

// SkipUnavailable skips t (or fails it under CEO_REQUIRE_MAILMAN) when
// Mailman 3 is not installed.
func SkipUnavailable(t testing.TB) {
	t.Helper()
	testreq.Check(t, "mailman", Available())
}

// StartMailman3 starts Mailman 3 in a fresh directory, creates the lists
// (posting addresses, e.g. "members@csclub.internal"), and stops it when
// the test ends. Without Debian's mailman3 it skips (or fails under
// CEO_REQUIRE_MAILMAN). Start one per test binary where speed matters.
func StartMailman3(t testing.TB, lists ...string) *Mailman3 {
	t.Helper()
	SkipUnavailable(t)
	m, err := Start(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Stop)
	for _, l := range lists {
		if err := m.AddList(l); err != nil {
			t.Fatal(err)
		}
	}
	return m
}

// Start starts Mailman 3 with its state in dir (which must exist), on
// free loopback ports, and waits until its REST API answers.
func Start(dir string) (*Mailman3, error) {
	if err := Available(); err != nil {
		return nil, err
	}
	var m *Mailman3
	var err error
	for attempt := 0; attempt < 3; attempt++ { // a port may be taken meanwhile
		if m, err = startMailman3(dir); err == nil {
			return m, nil
		}
	}
	return nil, err
}

// AddList creates a list by posting address, and its mail domain if
// needed.
func (m *Mailman3) AddList(fqdn string) error {
	_, domain, ok := strings.Cut(fqdn, "@")
	if !ok {
		return fmt.Errorf("list %q is not a posting address", fqdn)
	}
	// An existing domain is a 400; fine.
	if err := m.post("/3.1/domains", url.Values{"mail_host": {domain}}, http.StatusCreated, http.StatusBadRequest); err != nil {
		return err
	}
	return m.post("/3.1/lists", url.Values{"fqdn_listname": {fqdn}}, http.StatusCreated)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func startMailman3(dir string) (*Mailman3, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	lmtp, err := freePort()
	if err != nil {
		return nil, err
	}
	var pw [12]byte
	rand.Read(pw[:])
	m := &Mailman3{
		URL:      fmt.Sprintf("http://127.0.0.1:%d", port),
		User:     "restadmin",
		Password: hex.EncodeToString(pw[:]),
		Dir:      dir,
		exited:   make(chan struct{}),
	}
	cfg := fmt.Sprintf(`# Throwaway Mailman 3 for ceo tests.
[mailman]
site_owner: postmaster@csclub.internal
layout: ceotest

[paths.ceotest]
var_dir: %[1]s/var
queue_dir: $var_dir/queue
bin_dir: /usr/lib/mailman3/bin
list_data_dir: $var_dir/lists
log_dir: $var_dir/logs
lock_dir: $var_dir/locks
data_dir: $var_dir/data
cache_dir: $var_dir/cache
etc_dir: %[1]s
ext_dir: $var_dir/ext
messages_dir: $var_dir/messages
archive_dir: $var_dir/archives
template_dir: $var_dir/templates
pid_file: $var_dir/master.pid
lock_file: $lock_dir/master.lck

[database]
class: mailman.database.sqlite.SQLiteDatabase
url: sqlite:///$DATA_DIR/mailman.db

[webservice]
hostname: 127.0.0.1
port: %[2]d
admin_user: %[3]s
admin_pass: %[4]s

[mta]
incoming: mailman.mta.null.NullMTA
lmtp_host: 127.0.0.1
lmtp_port: %[5]d
smtp_host: 127.0.0.1
smtp_port: 9
`, dir, port, m.User, m.Password, lmtp)
	cfgPath := filepath.Join(dir, "mailman.cfg")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		return nil, err
	}
	logf, err := os.Create(filepath.Join(dir, "runner.log"))
	if err != nil {
		return nil, err
	}
	m.cmd = exec.Command(Runner, "-C", cfgPath, "--runner=rest")
	m.cmd.Dir = dir
	m.cmd.Stdout, m.cmd.Stderr = logf, logf
	m.cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8", "HOME=" + dir}
	// Its own process group (gunicorn forks workers): Stop signals the
	// group. Pdeathsig: a killed test does not leave it behind.
	m.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := m.cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	m.log = logf
	pid := m.cmd.Process.Pid
	go func() {
		// Wait without reaping: until Stop reaps it, the runner's pid
		// (and so its process group id) cannot be reused, and signals to
		// the group reach only what it started.
		var info unix.Siginfo
		for {
			err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
			if err != unix.EINTR {
				break
			}
		}
		close(m.exited)
	}()

	deadline := time.Now().Add(60 * time.Second)
	for {
		if m.ready() {
			return m, nil
		}
		select {
		case <-m.exited:
			m.Stop()
			log, _ := os.ReadFile(filepath.Join(dir, "runner.log"))
			return nil, fmt.Errorf("mailman3 runner exited: %s", lastLines(log, 20))
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			m.Stop()
			return nil, errors.New("mailman3 REST API not up after 60 s")
		}
	}
}

func lastLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func (m *Mailman3) ready() bool {
	req, _ := http.NewRequest(http.MethodGet, m.URL+"/3.1/system/versions", nil)
	req.SetBasicAuth(m.User, m.Password)
	c := &http.Client{Timeout: 2 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// Stop ends the runner and its workers and reaps the runner. Its state
// is throwaway, so the group gets SIGTERM and, after a second (gunicorn's
// graceful stop takes several), SIGKILL. It is safe to call twice.
func (m *Mailman3) Stop() {
	m.stopOnce.Do(func() {
		pgid := m.cmd.Process.Pid
		syscall.Kill(-pgid, syscall.SIGTERM)
		select {
		case <-m.exited:
		case <-time.After(time.Second):
		}
		// Workers may outlive the arbiter: the whole group.
		syscall.Kill(-pgid, syscall.SIGKILL)
		<-m.exited
		m.cmd.Wait()
		m.log.Close()
	})
}

func (m *Mailman3) post(path string, form url.Values, want ...int) error {
	req, err := http.NewRequest(http.MethodPost, m.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(m.User, m.Password)
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	for _, w := range want {
		if resp.StatusCode == w {
			return nil
		}
	}
	b, _ := io.ReadAll(resp.Body)
	return fmt.Errorf("mailman3: POST %s: %s: %s", path, resp.Status, b)
}

// Members returns the member addresses of listID as the list server
// reports them (GET /3.1/lists/{list_id}/roster/member); it works with
// StandIn and Mailman3 alike.
func Members(ctx context.Context, baseURL, user, password, listID string) ([]string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(baseURL, "/")+"/3.1/lists/"+url.PathEscape(listID)+"/roster/member", nil)
	if err != nil {
		return nil, err
	}
	req.SetBasicAuth(user, password)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("roster of %s: %s", listID, resp.Status)
	}
	var page struct {
		Entries []struct {
			Email string `json:"email"`
		} `json:"entries"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&page); err != nil {
		return nil, err
	}
	var out []string
	for _, e := range page.Entries {
		out = append(out, e.Email)
	}
	return out, nil
}
