package crashtest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/csclub/ceo/ceoc"
	"github.com/csclub/ceo/internal/realm"
	"github.com/csclub/ceo/internal/testreq"
	"github.com/csclub/ceo/wire/ceopb"
)

var (
	binOnce sync.Once
	binDir  string
	binErr  error
)

func TestMain(m *testing.M) {
	code := realm.Main(m)
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// ceodBin builds ceod once per test binary.
func ceodBin(t testing.TB) string {
	t.Helper()
	binOnce.Do(func() {
		binDir, binErr = os.MkdirTemp("", "ceod-crashtest-bin-")
		if binErr != nil {
			return
		}
		gotool := filepath.Join(runtime.GOROOT(), "bin", "go")
		cmd := exec.Command(gotool, "build", "-o", binDir+"/", "github.com/csclub/ceo/ceod/cmd/ceod")
		if out, err := cmd.CombinedOutput(); err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	require.NoError(t, binErr)
	return filepath.Join(binDir, "ceod")
}

// fixture is a configuration directory serving adduser (and ping) from
// the shared realm, with its own journal.
type fixture struct {
	r       *realm.Realm
	dir     string
	journal string
	cl      *ceoc.Client // office1's, for adduser
	syscom  *ceoc.Client // syscom1's, for deluser
	// debugLog runs ceod at -log-level debug (the step timings).
	debugLog bool
}

// newFixture writes the configuration: the realm's accounts.cf and
// ceod.cf with a journal of the test's own and the extra ceod.cf lines.
func newFixture(t testing.TB, extra ...string) *fixture {
	t.Helper()
	r := realm.Get(t)
	testreq.Require(t, "root") // adduser chowns homes
	f := &fixture{r: r, dir: t.TempDir()}
	f.journal = filepath.Join(f.dir, "state", "journal.db")
	require.NoError(t, os.MkdirAll(filepath.Join(f.dir, "ops"), 0o755))
	for _, name := range []string{"accounts.cf", "ceod.acl"} {
		b, err := os.ReadFile(filepath.Join(r.ConfigDir, name))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(f.dir, name), b, 0o644))
	}
	cf, err := os.ReadFile(filepath.Join(r.ConfigDir, "ceod.cf"))
	require.NoError(t, err)
	var lines []string
	for _, l := range strings.Split(string(cf), "\n") {
		if !strings.HasPrefix(l, "journal") && !strings.HasPrefix(l, "shutdown_grace") && !strings.HasPrefix(l, "recovery_interval") {
			lines = append(lines, l)
		}
	}
	lines = append(lines, "journal = "+f.journal, "recovery_interval = 2s", "shutdown_grace = 3s")
	lines = append(lines, extra...)
	require.NoError(t, os.WriteFile(filepath.Join(f.dir, "ceod.cf"), []byte(strings.Join(lines, "\n")+"\n"), 0o644))
	ops := "localhost adduser root 0x01\nlocalhost deluser root 0x0b\nlocalhost ping root 0x10\n"
	require.NoError(t, os.WriteFile(filepath.Join(f.dir, "ops", "ceo"), []byte(ops), 0o644))
	cc := r.Kinit(t, "office1", r.Users["office1"].Password)
	f.cl = &ceoc.Client{ConfigDir: f.dir, Credentials: ceoc.CCache("FILE:" + cc), KRB5Config: r.KRB5Config, Port: r.CeodPort}
	sc := r.Kinit(t, "syscom1", r.Users["syscom1"].Password)
	f.syscom = &ceoc.Client{ConfigDir: f.dir, Credentials: ceoc.CCache("FILE:" + sc), KRB5Config: r.KRB5Config, Port: r.CeodPort}
	return f
}

// proc is a running ceod.
type proc struct {
	cmd  *exec.Cmd
	done chan struct{}
	mu   sync.Mutex
	log  []string
}

func (p *proc) lines() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.log...)
}

// grep returns the log lines matching re.
func (p *proc) grep(re string) []string {
	rx := regexp.MustCompile(re)
	var out []string
	for _, l := range p.lines() {
		if rx.MatchString(l) {
			out = append(out, l)
		}
	}
	return out
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// start runs ceod with env added (the fault-injection variables) and
// waits until it listens. The log goes to the test's log at the end.
func (f *fixture) start(t testing.TB, env ...string) *proc {
	t.Helper()
	cmd := exec.Command(ceodBin(t), "-config", f.dir, "-log-level", f.logLevel())
	cmd.Env = append([]string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "KRB5_CONFIG=" + f.r.KRB5Config,
		"KRB5RCACHEDIR=" + filepath.Join(f.r.Dir, "run")}, env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	p := &proc{cmd: cmd, done: make(chan struct{})}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		once := sync.Once{}
		for sc.Scan() {
			p.mu.Lock()
			p.log = append(p.log, sc.Text())
			p.mu.Unlock()
			if strings.Contains(sc.Text(), "ceod listening") {
				once.Do(func() { close(ready) })
			}
		}
		cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		if !p.exited() {
			cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("ceod log (pid %d):\n%s", cmd.Process.Pid, strings.Join(p.lines(), "\n"))
		}
	})
	select {
	case <-ready:
	case <-p.done:
		t.Fatalf("ceod exited before listening:\n%s", strings.Join(p.lines(), "\n"))
	case <-time.After(60 * time.Second):
		t.Fatalf("ceod not listening after 60s:\n%s", strings.Join(p.lines(), "\n"))
	}
	return p
}

// wait waits for the process to exit, at most d.
func (p *proc) wait(t testing.TB, d time.Duration) {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(d):
		t.Fatalf("ceod (pid %d) still running after %v", p.cmd.Process.Pid, d)
	}
}

// stop ends the process with SIGTERM, as systemd does.
func (p *proc) stop(t testing.TB) {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	p.wait(t, 15*time.Second)
}

// account is one adduser request of a test.
type account struct {
	name, password string
	club           bool
}

func (a account) msg() *ceopb.AddUser {
	if a.club {
		return &ceopb.AddUser{Type: ceopb.AddUser_CLUB.Enum(), Username: proto.String(a.name), Realname: proto.String("Crash Club")}
	}
	return &ceopb.AddUser{Type: ceopb.AddUser_MEMBER.Enum(), Username: proto.String(a.name), Password: proto.String(a.password),
		Realname: proto.String("Crash Test"), Email: proto.String(a.name + "@example.org")}
}

var seq struct {
	sync.Mutex
	n int
}

func unique(prefix string) string {
	seq.Lock()
	defer seq.Unlock()
	seq.n++
	return fmt.Sprintf("%s%x%d", prefix, time.Now().UnixNano()&0xffffff, seq.n)
}

// send sends one adduser and reports whether it succeeded (every status
// 0), with the reply's text.
func (f *fixture) send(ctx context.Context, a account) (bool, string, error) {
	var resp ceopb.AddUserResponse
	if err := call(ctx, f.cl, "adduser", a.msg(), &resp); err != nil {
		return false, "", err
	}
	ok, text := outcome(resp.GetMessages())
	return ok, text, nil
}

// call sends in to op and decodes the reply into out.
func call(ctx context.Context, cl *ceoc.Client, op string, in, out proto.Message) error {
	body, err := proto.Marshal(in)
	if err != nil {
		return err
	}
	reply, err := cl.Call(ctx, op, body)
	if err != nil {
		return err
	}
	return proto.Unmarshal(reply, out)
}

// outcome reports whether a reply's messages say success (all status
// 0), and their text.
func outcome(msgs []*ceopb.StatusMessage) (bool, string) {
	ok := len(msgs) > 0
	var text []string
	for _, m := range msgs {
		ok = ok && m.GetStatus() == 0
		text = append(text, fmt.Sprintf("[%d] %s", m.GetStatus(), m.GetMessage()))
	}
	return ok, strings.Join(text, "\n")
}

// burst sends all accounts at once and returns which succeeded.
func (f *fixture) burst(ctx context.Context, accts []account) []bool {
	ok := make([]bool, len(accts))
	var wg sync.WaitGroup
	for i, a := range accts {
		wg.Go(func() { ok[i], _, _ = f.send(ctx, a) })
	}
	wg.Wait()
	return ok
}

// state is what exists of an account.
type state struct{ user, group, principal, home bool }

func (s state) complete() bool { return s.user && s.group && s.home }
func (s state) absent() bool   { return !s.user && !s.group && !s.principal && !s.home }

func (f *fixture) state(t testing.TB, a account) state {
	t.Helper()
	kind := "members"
	if a.club {
		kind = "clubs"
	}
	_, err := os.Stat(filepath.Join(f.r.HomeRoot, kind, a.name))
	return state{
		user:      len(f.r.LDAPSearch(t, f.r.UsersBase, "(uid="+a.name+")", "uid")) > 0,
		group:     len(f.r.LDAPSearch(t, f.r.GroupsBase, "(cn="+a.name+")", "cn")) > 0,
		principal: f.r.HasPrincipal(t, a.name),
		home:      err == nil,
	}
}

// settled reports whether a is complete (a member's principal takes its
// password) or absent, and describes it.
func (f *fixture) settled(t testing.TB, a account) (bool, string) {
	t.Helper()
	s := f.state(t, a)
	desc := fmt.Sprintf("%s: user=%v group=%v principal=%v home=%v", a.name, s.user, s.group, s.principal, s.home)
	if s.absent() {
		return true, desc
	}
	if !s.complete() {
		return false, desc
	}
	if a.club {
		return !s.principal, desc
	}
	if !s.principal {
		return false, desc
	}
	if err := f.kinit(a); err != nil {
		return false, desc + " (kinit: " + err.Error() + ")"
	}
	return true, desc
}

// kinit checks that a's principal takes its password.
func (f *fixture) kinit(a account) error {
	dir, err := os.MkdirTemp("", "crashtest-cc-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	cmd := exec.Command("kinit", a.name)
	cmd.Env = append(f.r.KrbEnv(), "KRB5CCNAME=FILE:"+filepath.Join(dir, "cc"))
	cmd.Stdin = strings.NewReader(a.password + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%v: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}

// waitSettled polls until every account is complete or absent, at most
// limit, and returns which are complete.
func (f *fixture) waitSettled(t testing.TB, accts []account, limit time.Duration) []bool {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		var bad []string
		complete := make([]bool, len(accts))
		for i, a := range accts {
			ok, desc := f.settled(t, a)
			if !ok {
				bad = append(bad, desc)
			}
			complete[i] = ok && !f.state(t, a).absent()
		}
		if len(bad) == 0 {
			// And the journal has let go of every name, so that the
			// requests can be sent again.
			for !strings.Contains(f.journalList(t, "-journal"), "no unfinished requests") {
				if time.Now().After(deadline) {
					t.Fatalf("after %v the journal still lists:\n%s", limit, f.journalList(t, "-journal"))
				}
				time.Sleep(500 * time.Millisecond)
			}
			return complete
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v, half-made accounts:\n%s", limit, strings.Join(bad, "\n"))
		}
		time.Sleep(time.Second)
	}
}

// resendConcurrency bounds the re-sent requests in flight: the burst
// has shown the crash handling; a shared, busy test machine need not
// also time kadmind out.
const resendConcurrency = 4

// resend sends again each account that is not complete; each must
// succeed (the journal has let go of it) and leave it complete.
func (f *fixture) resend(t testing.TB, accts []account, complete []bool) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make([]error, len(accts))
	sem := make(chan struct{}, resendConcurrency)
	for i, a := range accts {
		if complete[i] {
			continue
		}
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			ok, text, err := f.send(t.Context(), a)
			if err == nil && !ok {
				err = errors.New(text)
			}
			errs[i] = err
		})
	}
	wg.Wait()
	for i, err := range errs {
		require.NoError(t, err, "re-sending %s", accts[i].name)
	}
	for _, a := range accts {
		ok, desc := f.settled(t, a)
		require.True(t, ok && !f.state(t, a).absent(), "after re-sending: %s", desc)
	}
}

// journalList runs ceod -journal and returns its output.
func (f *fixture) journalList(t testing.TB, flag string) string {
	t.Helper()
	cmd := exec.Command(ceodBin(t), "-config", f.dir, flag)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "KRB5_CONFIG=" + f.r.KRB5Config}
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "ceod %s:\n%s", flag, out)
	return string(out)
}

// logLevel is ceod's -log-level: info, or debug (step timings) with
// debugLog set.
func (f *fixture) logLevel() string {
	if f.debugLog {
		return "debug"
	}
	return "info"
}
