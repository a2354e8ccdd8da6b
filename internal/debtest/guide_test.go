package debtest

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/csclub/ceo/internal/realm"
)

// The office user of the test root: a member of the realm's office
// group, and of a local group office as club machines get it from LDAP.
const officeUser = "office1"

// guideHost is the host the install guide is followed on: it owns every
// op (the test root resolves it to 127.0.1.1).
var guideHost = opsHosts[0]

// newMember is the account the guide's last step creates.
const newMember = "debtestmember"

// inRoot runs a command in the test root as user ("" for root) with
// stdin, and returns its combined output and exit status.
func inRoot(t *testing.T, croot, user, stdin string, env []string, args ...string) (string, int) {
	t.Helper()
	argv := []string{croot}
	if user != "" {
		argv = []string{"--userspec=" + user + ":office", croot}
	}
	env = append(append([]string{}, chrootEnv...), env...)
	return runStdin(t, 2*time.Minute, env, "/", stdin, "chroot", append(argv, args...)...)
}

// mustInRoot is inRoot that fails the test on a non-zero status.
func mustInRoot(t *testing.T, croot, user, stdin string, env []string, args ...string) string {
	t.Helper()
	out, code := inRoot(t, croot, user, stdin, env, args...)
	if code != 0 {
		t.Fatalf("in the test root: %v: exit %d:\n%s", args, code, tail(out))
	}
	return out
}

// aptInstall installs .debs into the test root with apt, as the guide's
// first step says, so that their dependencies come from the archive.
// The root reaches the archive through the host's resolver meanwhile.
func aptInstall(t *testing.T, croot string, debs []string) {
	t.Helper()
	dir := filepath.Join(croot, "tmp", "debs")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var args []string
	for _, d := range debs {
		writeFile(t, filepath.Join(dir, filepath.Base(d)), readFile(t, d), 0o644)
		args = append(args, "/tmp/debs/"+filepath.Base(d))
	}
	resolv := filepath.Join(croot, "etc/resolv.conf")
	local := readFile(t, resolv)
	host, err := os.ReadFile("/etc/resolv.conf")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, resolv, string(host), 0o644)
	defer writeFile(t, resolv, local, 0o644)
	ta := time.Now()
	mustInRoot(t, croot, "", "", nil, "apt-get", "-q", "update")
	mustInRoot(t, croot, "", "", nil, append([]string{"apt-get", "-q", "-y", "install"}, args...)...)
	mustInRoot(t, croot, "", "", nil, "apt-get", "clean")
	os.RemoveAll(dir)
	t.Logf("apt install with dependencies: %v", time.Since(ta).Round(time.Second))
}

// guideCheck runs "ceod -check" in the test root, as the guide does after
// each step, and expects its exit status (checkFailed: 75 or 78), the
// problems it must name and those it must no longer name.
func guideCheck(t *testing.T, croot, step string, code int, names, gone []string) {
	t.Helper()
	args := []string{"/usr/sbin/ceod", "-check"}
	if _, err := os.Stat(filepath.Join(croot, "etc/csc/ceod.cf")); err != nil {
		// Before ceod.cf names the host: the guide's -hostname.
		args = append(args, "-hostname", guideHost)
	}
	out, got := inRoot(t, croot, "", "", nil, args...)
	t.Logf("after %s: ceod -check: exit %d\n%s", step, got, out)
	if got != code && (code != checkFailed || (got != checkTransient && got != checkFatal)) {
		t.Errorf("after %s: ceod -check exit %d, want %d:\n%s", step, got, code, out)
	}
	for _, n := range names {
		if !strings.Contains(out, n) {
			t.Errorf("after %s: ceod -check does not name %q:\n%s", step, n, out)
		}
	}
	for _, n := range gone {
		if strings.Contains(out, n) {
			t.Errorf("after %s: ceod -check still names %q:\n%s", step, n, out)
		}
	}
}

// setKey replaces the line of key in a "name = value" file of the test
// root, or adds one; an empty value removes the line.
func setKey(t *testing.T, path, key, value string) {
	t.Helper()
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(key) + `\s*=.*\n`)
	s := re.ReplaceAllString(readFile(t, path), "")
	if value != "" {
		s += key + " = " + value + "\n"
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, s, fi.Mode().Perm())
}

// Exit statuses of ceod -check (ceod/daemon).
const (
	checkOK        = 0
	checkTransient = 75
	checkFatal     = 78
	checkFailed    = -1 // either of the two above
)

// followGuide configures the installed packages against the realm step
// by step as debian/ceo-daemon.README.Debian says, checking after each
// step that ceod -check names what is still missing; then it serves,
// pings and adds a member as the office user.
func followGuide(t *testing.T, r *realm.Realm, croot string) {
	t.Helper()
	tg := time.Now()
	etc := func(rel string) string { return filepath.Join(croot, "etc", rel) }

	// 1. Installed (by the caller, with apt).
	guideCheck(t, croot, "1 (install)", checkFatal,
		[]string{"problem: service keytab: loading /etc/krb5.keytab", "problem: krb5 config"}, nil)

	// 2. /etc/krb5.conf: the realm, its KDC and admin server. Checked
	// with kinit as the office user.
	writeFile(t, etc("krb5.conf"), readFile(t, r.KRB5Config), 0o644)
	ccache := []string{"KRB5CCNAME=FILE:/tmp/krb5cc_" + officeUser, "HOME=/home/" + officeUser, "USER=" + officeUser}
	mustInRoot(t, croot, officeUser, r.Users[officeUser].Password+"\n", ccache, "kinit", officeUser)
	// accounts.cf still names the CSC's realm.
	guideCheck(t, croot, "2 (krb5.conf)", checkFatal,
		[]string{"problem: service keytab", "does not mention the realm CSCLUB.UWATERLOO.CA"}, nil)

	// 3. /etc/csc: every op on this host, accounts.cf for the realm.
	ops := regexp.MustCompile(`(?m)^[a-z0-9.-]+\.csclub\.uwaterloo\.ca(\s)`).ReplaceAllString(readFile(t, etc("csc/ops/ceo")), guideHost+"$1")
	writeFile(t, etc("csc/ops/ceo"), ops, 0o644)
	acc := etc("csc/accounts.cf")
	for k, v := range map[string]string{
		"ldap_server_url": r.LDAPURL, "ldap_users_base": r.UsersBase, "ldap_groups_base": r.GroupsBase,
		"ldap_sudo_base": r.SudoBase, "ldap_sasl_realm": r.Name, "krb5_realm": r.Name,
		"ldap_admin_principal": r.Principal(r.AdminPrincipal), "krb5_admin_principal": r.Principal(r.AdminPrincipal),
		"list_domain": "csclub.internal",
	} {
		setKey(t, acc, k, v)
	}
	guideCheck(t, croot, "3 (/etc/csc)", checkFatal, []string{"problem: service keytab"}, []string{"krb5 config"})

	// 4. Keytabs, made on the KDC (the guide's kadmin.local form: the
	// test's realm gives no admin principal ktadd rights over kadmind).
	kadminLocal := func(q string) {
		t.Helper()
		mustRun(t, time.Minute, append(os.Environ(), r.Env()...), "/", "kadmin.local", "-r", r.Name, "-q", q)
	}
	kadminLocal("addprinc -randkey ceod/" + guideHost)
	kadminLocal("ktadd -k " + etc("krb5.keytab") + " ceod/" + guideHost)
	kadminLocal("ktadd -norandkey -k " + etc("csc/ceod-admin.keytab") + " " + r.AdminPrincipal)
	mustInRoot(t, croot, "", "", nil, "chmod", "600", "/etc/csc/ceod-admin.keytab")
	guideCheck(t, croot, "4 (keytabs)", checkFatal,
		[]string{"problem: admin keytab (admin_keytab in ceod.cf): not set"}, []string{"service keytab"})

	// 6. ceod.cf from the example: admin_keytab; the host's name (this
	// root's hostname -f is the build host's) and a free port.
	mustInRoot(t, croot, "", "", nil, "cp", "/etc/csc/ceod.cf.example", "/etc/csc/ceod.cf")
	cf := etc("csc/ceod.cf")
	setKey(t, cf, "admin_keytab", "/etc/csc/ceod-admin.keytab")
	setKey(t, cf, "hostname", guideHost)
	setKey(t, cf, "port", strconv.Itoa(r.CeodPort))
	// The test root's file systems have no quotas: the guide says to
	// empty the example's prototypes then.
	for _, k := range []string{"member_quota_prototype", "clubrep_quota_prototype", "club_quota_prototype"} {
		setKey(t, cf, k, "")
	}
	guideCheck(t, croot, "6 (ceod.cf)", checkFatal,
		[]string{"problem: home root (member_home): /users does not exist", "problem: skeleton (member_home_skel)"},
		[]string{"admin keytab"})

	// 7. Home roots, skeletons and hooks.
	mustInRoot(t, croot, "", "", nil, "mkdir", "-p", "/users", "/users/skel")
	for _, k := range []string{"notify_hook", "expire_hook"} {
		// ceo-common ships them (their addresses are the guide's edit,
		// not needed here).
		if hook := keyValue(t, acc, k); hook != "" {
			if _, err := os.Stat(filepath.Join(croot, hook)); err != nil {
				t.Errorf("%s = %s: not installed: %v", k, hook, err)
			}
		}
	}
	// Whether an unreachable database is transient depends on how it
	// fails (a refused connection, a wrong password).
	guideCheck(t, croot, "7 (homes)", checkFailed,
		[]string{"MariaDB (mysql.cf)", "PostgreSQL (postgresql.cf)"}, []string{"home root", "skeleton", "hook", "LDAP", "kadmind"})

	// 8. Database accounts (the realm made them as the guide says).
	my := etc("csc/mysql.cf")
	setKey(t, my, "mysql_admin_username", r.MySQLAdminUser)
	setKey(t, my, "mysql_admin_password", `"`+r.MySQLAdminPassword+`"`)
	setKey(t, my, "mysql_host", "127.0.0.1")
	setKey(t, my, "mysql_port", strconv.Itoa(r.MySQLPort))
	setKey(t, etc("csc/postgresql.cf"), "postgresql_admin_url", `"`+r.PGURL("postgres")+`"`)
	setKey(t, etc("csc/mailman.cf"), "members_list", "none")
	guideCheck(t, croot, "8 (databases)", checkOK,
		[]string{"host " + guideHost + ", principal ceod/" + guideHost + ", ops: adduser=0x1(builtin)"}, []string{"problem"})

	// 9. Start it (systemd does not run in the root: ceod itself).
	stop := startCeod(t, croot, r.CeodPort)
	defer stop()

	// 10. The office user: ping, then the first member.
	out := mustInRoot(t, croot, officeUser, "", ccache, "ceoc", "ping")
	if strings.TrimSpace(out) != r.Principal(officeUser) {
		t.Errorf("ceoc ping as %s printed %q, want the principal %s", officeUser, out, r.Principal(officeUser))
	}
	out, code := inRoot(t, croot, officeUser, "a-good-password-1\n", ccache,
		"ceo", "addmember", newMember, "Debtest Member", "Computer Science")
	if code != 0 {
		t.Fatalf("ceo addmember as %s: exit %d:\n%s", officeUser, code, out)
	}
	if e := r.LDAPEntry(t, r.UserDN(newMember)); e == nil || e.GetAttributeValue("cn") != "Debtest Member" {
		t.Errorf("ceo addmember: no LDAP entry for %s (%v)", newMember, e)
	}
	fi, err := os.Stat(filepath.Join(croot, "users", newMember))
	if err != nil || !fi.IsDir() {
		t.Errorf("ceo addmember: no home /users/%s: %v", newMember, err)
	}
	t.Logf("followed the install guide in %v", time.Since(tg).Round(time.Second))
}

// keyValue returns the value of key in a "name = value" file.
func keyValue(t *testing.T, path, key string) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(key) + `\s*=\s*(.*)$`).FindStringSubmatch(readFile(t, path))
	if m == nil {
		return ""
	}
	return strings.Trim(strings.TrimSpace(m[1]), `"`)
}

// startCeod runs the installed ceod in the test root and waits until it
// listens on port; the returned func stops it with SIGTERM and checks
// that it exits 0.
func startCeod(t *testing.T, croot string, port int) func() {
	t.Helper()
	cmd := exec.Command("chroot", croot, "/usr/sbin/ceod")
	cmd.Env = chrootEnv
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	addr := net.JoinHostPort("127.0.1.1", strconv.Itoa(port))
	deadline := time.Now().Add(time.Minute)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			break
		}
		select {
		case err := <-done:
			t.Fatalf("ceod in the test root exited: %v\n%s", err, log.String())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			t.Fatalf("ceod in the test root does not listen on %s:\n%s", addr, log.String())
		}
	}
	return func() {
		syscall.Kill(cmd.Process.Pid, syscall.SIGTERM)
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("ceod in the test root: %v\n%s", err, log.String())
			}
		case <-time.After(45 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			t.Errorf("ceod in the test root did not stop on SIGTERM:\n%s", log.String())
		}
		if t.Failed() {
			fmt.Fprintf(os.Stderr, "ceod log:\n%s\n", log.String())
		}
	}
}
