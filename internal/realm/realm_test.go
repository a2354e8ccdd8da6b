package realm

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMain(m *testing.M) {
	if os.Getenv("REALM_TEST_CHILD") != "" {
		childMain()
		return
	}
	os.Exit(Main(m))
}

func TestKinitFromEachKeytab(t *testing.T) {
	r := Get(t)
	for _, kt := range []struct{ principal, keytab string }{
		{r.AdminPrincipal, r.AdminKeytab},
		{r.CeodPrincipal, r.CeodKeytab},
		{r.LDAPPrincipal, r.LDAPKeytab},
	} {
		t.Run(kt.principal, func(t *testing.T) {
			cc := r.KinitKeytab(t, kt.principal, kt.keytab)
			out := klist(t, r, cc)
			assert.Contains(t, out, "Default principal: "+r.Principal(kt.principal))
			assert.Contains(t, out, "krbtgt/"+r.Name+"@"+r.Name)
		})
	}
}

func TestKinitSeededUsers(t *testing.T) {
	r := Get(t)
	for _, u := range r.sortedUsers() {
		cc := r.Kinit(t, u.Name, u.Password)
		assert.Contains(t, klist(t, r, cc), "Default principal: "+r.Principal(u.Name))
	}
	// A wrong password is refused by the KDC (preauth is required).
	cmd := exec.Command("kinit", "regular1")
	cmd.Env = append(r.KrbEnv(), "KRB5CCNAME=FILE:"+filepath.Join(t.TempDir(), "cc"))
	cmd.Stdin = strings.NewReader("wrong-password\n")
	out, err := cmd.CombinedOutput()
	require.Error(t, err)
	assert.Contains(t, string(out), "Password incorrect")
}

func klist(t *testing.T, r *Realm, cc string) string {
	t.Helper()
	cmd := exec.Command("klist", "-c", cc)
	cmd.Env = r.KrbEnv()
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, string(out))
	return string(out)
}

func TestLDAPWhoAmIGSSAPI(t *testing.T) {
	r := Get(t)
	cases := []struct{ principal, keytab, password, wantUID string }{
		{principal: r.AdminPrincipal, keytab: r.AdminKeytab, wantUID: r.AdminPrincipal},
		{principal: "syscom1", password: r.Users["syscom1"].Password, wantUID: "syscom1"},
	}
	for _, c := range cases {
		t.Run(c.principal, func(t *testing.T) {
			var cc string
			if c.keytab != "" {
				cc = r.KinitKeytab(t, c.principal, c.keytab)
			} else {
				cc = r.Kinit(t, c.principal, c.password)
			}
			cmd := exec.Command("ldapwhoami", "-Q", "-Y", "GSSAPI", "-H", r.LDAPURL)
			cmd.Env = append(r.KrbEnv(), "KRB5CCNAME=FILE:"+cc, "LDAPCONF="+r.path("ldap/ldap.conf"))
			out, err := cmd.CombinedOutput()
			require.NoError(t, err, string(out))
			want := "dn:" + r.UserDN(c.wantUID)
			assert.Equal(t, strings.ToLower(want), strings.ToLower(strings.TrimSpace(string(out))))
		})
	}
}

func TestLDAPSeededDirectory(t *testing.T) {
	r := Get(t)
	out := ldapsearch(t, r, r.GroupDN("syscom"), "memberUid", "uniqueMember", "objectClass")
	assert.Contains(t, out, "memberUid: syscom1")
	assert.Contains(t, strings.ToLower(out), strings.ToLower("uniqueMember: "+r.UserDN("syscom1")))
	assert.Contains(t, out, "objectClass: posixGroup")
	out = ldapsearch(t, r, r.GroupDN("office"), "memberUid")
	assert.Contains(t, out, "memberUid: office1")
	out = ldapsearch(t, r, r.UserDN("regular1"), "term", "objectClass")
	assert.Contains(t, out, "term: "+CurrentTerm(time.Now()))
	assert.Contains(t, out, "objectClass: member")
}

// TestUniversityDirectory: the second tree answers anonymous reads with
// the seeded people, and refuses anonymous writes.
func TestUniversityDirectory(t *testing.T) {
	r := Get(t)
	p := r.UWPeople[0]
	out := ldapsearch(t, r, r.UWPersonDN(p.UID), "cn", "ou")
	assert.Contains(t, out, "cn: "+p.Name)
	assert.Contains(t, out, "ou: "+p.Program)
	cmd := exec.Command("ldapmodify", "-x", "-H", r.LDAPURL)
	cmd.Env = append(r.KrbEnv(), "LDAPCONF=/dev/null")
	cmd.Stdin = strings.NewReader("dn: " + r.UWPersonDN(p.UID) + "\nchangetype: modify\nreplace: ou\nou: Nothing\n")
	out2, err := cmd.CombinedOutput()
	assert.Error(t, err, "an anonymous write succeeded: %s", out2)
	assert.Contains(t, ldapsearch(t, r, r.UWPersonDN(p.UID), "ou"), "ou: "+p.Program)
}

// ldapsearch reads one entry anonymously (the directory is world-readable
// but for passwords).
func ldapsearch(t *testing.T, r *Realm, dn string, attrs ...string) string {
	t.Helper()
	args := append([]string{"-x", "-LLL", "-H", r.LDAPURL, "-b", dn, "-s", "base"}, attrs...)
	cmd := exec.Command("ldapsearch", args...)
	cmd.Env = append(r.KrbEnv(), "LDAPCONF=/dev/null")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, string(out))
	return string(out)
}

// TestKadminAddPrincipalPasswordOnStdin adds a principal through kadmind with
// the ceod/admin keytab, checks while kadmin waits for the password that the
// password is in no process's argv, then logs in with it.
func TestKadminAddPrincipalPasswordOnStdin(t *testing.T) {
	r := Get(t)
	name := fmt.Sprintf("smoke%d", time.Now().UnixNano()%1e9)
	password := randomSecret()
	cmd := exec.Command("kadmin", "-k", "-t", r.AdminKeytab, "-p", r.AdminPrincipal, "-q", "addprinc "+name)
	cmd.Env = append(r.KrbEnv(), "KRB5CCNAME=FILE:"+filepath.Join(t.TempDir(), "cc"))
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	// Wait for the password prompt, so kadmin is running and connected.
	out := bufio.NewReader(stdout)
	var seen strings.Builder
	for !strings.Contains(seen.String(), "Enter password") {
		b, err := out.ReadByte()
		require.NoError(t, err, "kadmin output so far: %s; stderr: %s", seen.String(), stderr.String())
		seen.WriteByte(b)
	}
	assert.Empty(t, processesWithArg(t, password), "password visible in argv")
	_, err = io.WriteString(stdin, password+"\n"+password+"\n")
	require.NoError(t, err)
	stdin.Close()
	rest, _ := io.ReadAll(out)
	require.NoError(t, cmd.Wait())
	all := seen.String() + string(rest)
	// kadmin exits 0 even when a query fails: the outcome is in its output.
	require.Contains(t, all, fmt.Sprintf("Principal %q created.", r.Principal(name)), "stderr: %s", stderr.String())
	assert.Contains(t, stderr.String(), `assigning "default"`)

	cc := r.Kinit(t, name, password)
	assert.Contains(t, klist(t, r, cc), "Default principal: "+r.Principal(name))
}

// processesWithArg lists pids whose command line contains s.
func processesWithArg(t *testing.T, s string) []int {
	t.Helper()
	return Processes(func(argv []string) bool { return strings.Contains(strings.Join(argv, "\x00"), s) })
}

func TestMariaDBCreateDatabase(t *testing.T) {
	r := Get(t)
	db, err := sql.Open("mysql", r.MySQLDSN())
	require.NoError(t, err)
	defer db.Close()
	name := fmt.Sprintf("smoke_%d", time.Now().UnixNano()%1e9)
	_, err = db.Exec("CREATE DATABASE `" + name + "`")
	require.NoError(t, err)
	var got string
	require.NoError(t, db.QueryRow("SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?", name).Scan(&got))
	assert.Equal(t, name, got)
	// Only root@localhost and the admin accounts exist: no passwordless root.
	var n int
	require.NoError(t, db.QueryRow("SELECT COUNT(*) FROM mysql.global_priv WHERE User = 'root' AND Host <> 'localhost'").Scan(&n))
	assert.Zero(t, n)
	bad, err := sql.Open("mysql", fmt.Sprintf("root@tcp(127.0.0.1:%d)/", r.MySQLPort))
	require.NoError(t, err)
	defer bad.Close()
	assert.Error(t, bad.Ping(), "root without a password must be refused")
}

func TestPostgreSQLCreateDatabase(t *testing.T) {
	r := Get(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, r.PGURL(""))
	require.NoError(t, err)
	defer conn.Close(ctx)
	name := fmt.Sprintf("smoke_%d", time.Now().UnixNano()%1e9)
	_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	require.NoError(t, err)
	var got string
	require.NoError(t, conn.QueryRow(ctx, "SELECT datname FROM pg_database WHERE datname = $1", name).Scan(&got))
	assert.Equal(t, name, got)
	wrong := strings.Replace(r.PGURL(""), r.PGAdminPassword, "wrong", 1)
	_, err = pgx.Connect(ctx, wrong)
	assert.Error(t, err, "a wrong password must be refused over TCP")
}

// TestSecondRealmStopsEveryProcess runs a second realm beside the shared one
// (two realms at once), then checks by pid that Stop left nothing running.
func TestSecondRealmStopsEveryProcess(t *testing.T) {
	first := Get(t)
	r, err := Start(Options{})
	require.NoError(t, err)
	assert.NotEqual(t, first.KDCPort, r.KDCPort)
	pids := r.PIDs()
	require.Len(t, pids, 5)
	for name, pid := range pids {
		assert.True(t, processAlive(pid), "%s (pid %d) should be running", name, pid)
	}
	// The second realm works on its own: its KDC issues tickets.
	r.KinitKeytab(t, r.AdminPrincipal, r.AdminKeytab)
	t0 := time.Now()
	require.NoError(t, r.Remove())
	t.Logf("second realm stopped in %v", time.Since(t0))
	for name, pid := range pids {
		assert.False(t, processAlive(pid), "%s (pid %d) still running after Stop", name, pid)
	}
	assert.NoDirExists(t, r.Dir)
	// The shared realm was not disturbed.
	first.KinitKeytab(t, first.AdminPrincipal, first.AdminKeytab)
}

// TestKilledHolderTakesDaemonsWithIt starts a realm in a child process,
// SIGKILLs that process (as a killed `go test` would be), and checks that
// every daemon died with it.
func TestKilledHolderTakesDaemonsWithIt(t *testing.T) {
	Get(t) // only where realms can run
	// Not t.TempDir(): its 0700 parents keep the postgres user out.
	parent, err := os.MkdirTemp("", "realm-kill-")
	require.NoError(t, err)
	require.NoError(t, os.Chmod(parent, 0o755))
	t.Cleanup(func() { os.RemoveAll(parent) })
	dir := filepath.Join(parent, "r")
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "REALM_TEST_CHILD="+dir)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())
	line, err := bufio.NewReader(stdout).ReadString('\n')
	require.NoError(t, err)
	var pids []int
	for _, f := range strings.Fields(line) {
		pid, err := strconv.Atoi(f)
		require.NoError(t, err, line)
		pids = append(pids, pid)
	}
	require.Len(t, pids, 5)
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	_ = cmd.Wait()
	deadline := time.Now().Add(15 * time.Second)
	for _, pid := range pids {
		for processAlive(pid) && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		assert.False(t, processAlive(pid), "pid %d outlived its killed parent", pid)
	}
}

// childMain is the body of the helper process of
// TestKilledHolderTakesDaemonsWithIt: start a realm, print its pids, wait.
func childMain() {
	r, err := Start(Options{Dir: os.Getenv("REALM_TEST_CHILD"), Log: func(f string, a ...any) { fmt.Fprintf(os.Stderr, f+"\n", a...) }})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var b strings.Builder
	for _, pid := range r.PIDs() {
		fmt.Fprintf(&b, "%d ", pid)
	}
	fmt.Println(b.String())
	select {}
}

func TestCurrentTerm(t *testing.T) {
	for _, c := range []struct {
		month time.Month
		want  string
	}{{time.January, "w2026"}, {time.April, "w2026"}, {time.May, "s2026"}, {time.August, "s2026"}, {time.September, "f2026"}, {time.December, "f2026"}} {
		assert.Equal(t, c.want, CurrentTerm(time.Date(2026, c.month, 15, 0, 0, 0, 0, time.UTC)))
	}
}
