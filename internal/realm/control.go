package realm

import (
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Signal sends sig to the realm daemon named name ("kadmind", "slapd",
// "krb5kdc", "mariadbd", "postgres"), e.g. SIGSTOP and SIGCONT to make
// it hang and resume.
func (r *Realm) Signal(name string, sig syscall.Signal) error {
	d := r.daemon(name)
	if d == nil {
		return fmt.Errorf("realm: no daemon %s", name)
	}
	return d.cmd.Process.Signal(sig)
}

// Kill SIGKILLs the daemon named name (and its process group) and waits
// for it to die.
func (r *Realm) Kill(name string) error {
	d := r.daemon(name)
	if d == nil {
		return fmt.Errorf("realm: no daemon %s", name)
	}
	_ = syscall.Kill(-d.pid(), syscall.SIGKILL)
	select {
	case <-d.done:
		return nil
	case <-time.After(10 * time.Second):
		return fmt.Errorf("realm: %s survived SIGKILL", name)
	}
}

// Restart starts again the daemon named name, which must have exited
// (see Kill), and waits until it listens on its port. Only slapd and
// kadmind are supported: the others are not needed by the tests.
func (r *Realm) Restart(name string) error {
	r.stopMu.Lock()
	defer r.stopMu.Unlock()
	var addr string
	switch name {
	case "slapd":
		addr = "127.0.0.1:" + strconv.Itoa(r.LDAPPort)
	case "kadmind":
		addr = "127.0.0.1:" + strconv.Itoa(r.KadminPort)
	default:
		return fmt.Errorf("realm: restarting %s is not supported", name)
	}
	for i, d := range r.daemons {
		if d.name != name {
			continue
		}
		if !d.exited() {
			return fmt.Errorf("realm: %s is still running", name)
		}
		nd, err := d.start()
		if err != nil {
			return err
		}
		r.daemons[i] = nd
		return waitTCP(nd, addr, 15*time.Second, "")
	}
	return fmt.Errorf("realm: no daemon %s", name)
}

func (r *Realm) daemon(name string) *daemon {
	r.stopMu.Lock()
	defer r.stopMu.Unlock()
	for _, d := range r.daemons {
		if d.name == name {
			return d
		}
	}
	return nil
}

var kvnoLine = regexp.MustCompile(`(?m)^Key: vno (\d+),`)

// KVNO returns the key version number of principal name (without
// realm), asking the KDC database directly (kadmin.local), or 0 if there
// is no such principal.
func (r *Realm) KVNO(t testing.TB, name string) int {
	t.Helper()
	out := r.GetPrinc(t, name)
	if strings.Contains(out, "does not exist") {
		return 0
	}
	m := kvnoLine.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("kadmin.local getprinc %s: no key version in:\n%s", name, out)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// GetPrinc is kadmin.local's getprinc of principal name (without
// realm): its attributes ("Attributes: REQUIRES_PWCHANGE"), key version.
func (r *Realm) GetPrinc(t testing.TB, name string) string {
	t.Helper()
	return r.kadminLocal(t, "getprinc "+name)
}

// AddPrincipal adds principal name (without realm) with password, and
// deletes it at the end of the test. The query goes on kadmin.local's
// standard input, not its command line.
func (r *Realm) AddPrincipal(t testing.TB, name, password string) {
	t.Helper()
	bin, err := findBinary("kadmin.local")
	if err != nil {
		t.Fatal(err)
	}
	out, err := run(r.krbEnv(), r.Dir, "addprinc -pw "+password+" "+name+"\n", nil, bin, "-r", r.Name)
	if err != nil || strings.Contains(out, "while ") { // kadmin.local exits 0 on failed queries
		t.Fatalf("kadmin.local addprinc %s: %v\n%s", name, err, redact(out, password))
	}
	t.Cleanup(func() { r.kadminLocal(t, "delprinc -force "+name) })
}

// HasPrincipal reports whether principal name (without realm) exists.
func (r *Realm) HasPrincipal(t testing.TB, name string) bool {
	t.Helper()
	return r.KVNO(t, name) != 0
}

// kadminLocal runs one kadmin.local query on the realm's database; it
// works whatever state kadmind is in.
func (r *Realm) kadminLocal(t testing.TB, q string) string {
	t.Helper()
	bin, err := findBinary("kadmin.local")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-r", r.Name, "-q", q)
	cmd.Env = r.krbEnv()
	cmd.Dir = r.Dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("kadmin.local -q %q: %v\n%s", q, err, out)
	}
	return string(out)
}
