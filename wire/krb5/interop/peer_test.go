package interop

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jcmturner/gokrb5/v8/client"
	"github.com/jcmturner/gokrb5/v8/config"

	"github.com/csclub/ceo/internal/realm"
	"github.com/csclub/ceo/internal/testreq"
	"github.com/csclub/ceo/wire/krb5"
)

// enctypes are the session-key enctypes every interop test runs with.
var enctypes = []struct {
	id   int32
	name string
}{
	{18, "aes256-cts-hmac-sha1-96"},
	{17, "aes128-cts-hmac-sha1-96"},
	{19, "aes128-cts-hmac-sha256-128"},
	{20, "aes256-cts-hmac-sha384-192"},
}

var peer struct {
	once sync.Once
	dir  string
	path string
	err  error
}

// mitPeer compiles testdata/mitpeer.c once per test binary and returns
// the executable; it skips the test if gcc or libkrb5-dev is missing.
func mitPeer(t *testing.T) string {
	t.Helper()
	peer.once.Do(func() {
		if _, err := exec.LookPath("gcc"); err != nil {
			peer.err = fmt.Errorf("gcc not installed")
			return
		}
		if _, err := os.Stat("/usr/include/gssapi/gssapi_krb5.h"); err != nil {
			peer.err = fmt.Errorf("MIT GSS-API headers not installed (libkrb5-dev)")
			return
		}
		peer.dir, peer.err = os.MkdirTemp("", "mitpeer-")
		if peer.err != nil {
			return
		}
		peer.path = filepath.Join(peer.dir, "mitpeer")
		out, err := exec.Command("gcc", "-Wall", "-Werror", "-O1", "-rdynamic", "-o", peer.path,
			"../gss/testdata/mitpeer.c", "-lgssapi_krb5").CombinedOutput()
		if err != nil {
			peer.err = fmt.Errorf("compiling mitpeer: %v\n%s", err, out)
			peer.path = ""
		}
	})
	if peer.path == "" {
		testreq.Check(t, "the MIT peer", peer.err)
	}
	return peer.path
}

func cleanupPeer() {
	if peer.dir != "" {
		os.RemoveAll(peer.dir)
	}
}

// enctypeConf writes a copy of the realm's krb5.conf whose clients ask the
// KDC only for session keys of enctype name, for the TGT as well: MIT's
// gss_init_sec_context refuses a TGT whose session key enctype is not in
// default_tgs_enctypes ("No credentials found with supported encryption
// types").
func enctypeConf(t *testing.T, r *realm.Realm, name string) string {
	t.Helper()
	b, err := os.ReadFile(r.KRB5Config)
	if err != nil {
		t.Fatal(err)
	}
	conf := strings.Replace(string(b), "[libdefaults]\n",
		"[libdefaults]\n\tdefault_tgs_enctypes = "+name+"\n\tdefault_tkt_enctypes = "+name+"\n", 1)
	if conf == string(b) {
		t.Fatalf("no [libdefaults] in %s", r.KRB5Config)
	}
	p := filepath.Join(t.TempDir(), "krb5.conf")
	if err := os.WriteFile(p, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// enctypeConfig is enctypeConf, loaded.
func enctypeConfig(t *testing.T, r *realm.Realm, name string) *config.Config {
	t.Helper()
	cfg, err := krb5.LoadConfigFile(enctypeConf(t, r, name))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// adminClient is ceod/admin logged in from its keytab, asking only for
// session keys of enctype name; destroyed with the test.
func adminClient(t *testing.T, r *realm.Realm, name string) *client.Client {
	t.Helper()
	cl, err := krb5.ClientFromKeytab(enctypeConfig(t, r, name), r.AdminPrincipal, r.AdminKeytab)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Destroy)
	return cl
}

// kinit runs MIT kinit for a seeded user with krb5.conf conf, password on
// stdin, into a fresh ccache whose path it returns. opts go before the
// principal (e.g. "-f" for a forwardable TGT).
func kinit(t *testing.T, r *realm.Realm, conf string, user realm.User, opts ...string) string {
	t.Helper()
	cc := filepath.Join(t.TempDir(), "krb5cc")
	cmd := exec.Command("kinit", append(opts, user.Name)...)
	cmd.Env = append(r.KrbEnv(), "KRB5_CONFIG="+conf, "KRB5CCNAME=FILE:"+cc)
	cmd.Stdin = strings.NewReader(user.Password + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("kinit %s: %v\n%s", user.Name, err, out)
	}
	return cc
}

// peerProc is a running mitpeer whose stdout is read line by line.
type peerProc struct {
	cmd    *exec.Cmd
	lines  chan string
	stderr lockedBuffer
}

// lockedBuffer is a strings.Builder safe to read while exec writes to it.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// fatal ends the test with the peer's stderr, after giving the peer a
// moment to finish writing it.
func (p *peerProc) fatal(t *testing.T, format string, args ...any) {
	t.Helper()
	done := make(chan struct{})
	go func() { p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		p.cmd.Process.Kill()
		<-done
	}
	t.Fatalf(format+"\nmitpeer stderr:\n%s", append(args, p.stderr.String())...)
}

// startPeer runs mitpeer with the realm's Kerberos environment plus env.
// The process is killed and waited for when the test ends.
func startPeer(t *testing.T, r *realm.Realm, env []string, args ...string) *peerProc {
	t.Helper()
	p := &peerProc{cmd: exec.Command(mitPeer(t), args...), lines: make(chan string, 64)}
	p.cmd.Env = append(append(r.KrbEnv(), "KRB5RCACHEDIR="+t.TempDir(), "MITPEER_DUMP=1"), env...)
	p.cmd.Stderr = &p.stderr
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
		close(p.lines)
	}()
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			p.cmd.Process.Kill()
			p.cmd.Wait()
		}
	})
	return p
}

// line returns the peer's next stdout line.
func (p *peerProc) line(t *testing.T) string {
	t.Helper()
	select {
	case l, ok := <-p.lines:
		if !ok {
			t.Fatalf("mitpeer ended early; stderr:\n%s", p.stderr.String())
		}
		return l
	case <-time.After(30 * time.Second):
		t.Fatalf("mitpeer silent for 30s; stderr:\n%s", p.stderr.String())
	}
	return ""
}

// wait collects the remaining output and requires exit status 0.
func (p *peerProc) wait(t *testing.T) []string {
	t.Helper()
	var rest []string
	for {
		l, ok := <-p.lines
		if !ok {
			break
		}
		rest = append(rest, l)
	}
	if err := p.cmd.Wait(); err != nil {
		t.Fatalf("mitpeer: %v; stderr:\n%s", err, p.stderr.String())
	}
	return rest
}
