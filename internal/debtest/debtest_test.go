package debtest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/csclub/ceo/ceoc/opsfile"
	"github.com/csclub/ceo/ceod/config"
	"github.com/csclub/ceo/internal/realm"
	"github.com/csclub/ceo/internal/testreq"
	opsconfig "github.com/csclub/ceo/ops/config"
)

func TestMain(m *testing.M) { os.Exit(realm.Main(m)) }

// upgradeMarker is appended to two conffiles of the second (upgrade)
// build, so the test can tell which version of each file is installed.
const upgradeMarker = "# changed by the debtest upgrade build"

// The host names of the shipped ops file, mapped to loopback addresses in
// the test root's /etc/hosts so that "ceod -check" resolves them without
// DNS.
var opsHosts = []string{
	"aspartame.csclub.uwaterloo.ca",
	"caffeine.csclub.uwaterloo.ca",
	"mail.csclub.uwaterloo.ca",
}

// clientHost is a host that owns no op of the shipped ops file (also in
// the test root's /etc/hosts).
const clientHost = "client.csclub.uwaterloo.ca"

// chrootEnv is the whole environment of commands run in the test root.
var chrootEnv = []string{
	"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
	"LANG=C",
	"DEBIAN_FRONTEND=noninteractive",
}

// repoRoot returns the top of the source tree (the directory holding
// debian/control).
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "debian", "control")); err != nil {
		t.Fatalf("source tree: %v", err)
	}
	return root
}

// TestShippedConfig parses the configuration files the packages install
// with the parsers ceod and ceoc use, so that a renamed key or a broken
// ops line fails here rather than on a host.
func TestShippedConfig(t *testing.T) {
	conf := filepath.Join(repoRoot(t), "debian", "conf")

	// The keys each file sets: the legacy ones (the legacy system's
	// configuration files) and those of the built-in ops
	// (postgresql.cf, the Mailman 3 REST API).
	want := map[string][]string{
		"accounts.cf": {"member_min_id", "member_max_id", "member_shell",
			"member_home", "member_home_skel", "club_min_id", "club_max_id",
			"club_shell", "club_home", "club_home_skel", "admin_min_id",
			"admin_max_id", "ldap_server_url", "ldap_users_base",
			"ldap_groups_base", "ldap_sudo_base", "ldap_sasl_mech",
			"ldap_sasl_realm", "ldap_admin_principal", "krb5_realm",
			"krb5_admin_principal", "notify_hook", "expire_hook",
			"username_regex", "min_password_length", "shells_file",
			"members_list", "list_domain",
			// The university directory (updateprograms, completion).
			"uwldap_server_url", "uwldap_base"},
		"mysql.cf":      {"mysql_admin_username", "mysql_admin_password"},
		"postgresql.cf": {"postgresql_admin_url"},
		"mailman.cf": {"members_list", "list_domain", "mailman_api_url",
			"mailman_api_user", "mailman_api_password"},
		"library.cf": {"library_connect_string"},
	}
	// The optional keys each file documents as a commented "#key = value"
	// example; with them turned on the file must still parse.
	optional := map[string][]string{
		"mysql.cf":      {"mysql_socket", "mysql_host", "mysql_port"},
		"postgresql.cf": {"postgresql_lock_databases"},
		"mailman.cf":    {"mailman_list_id"},
	}
	for name, keys := range want {
		data, err := os.ReadFile(filepath.Join(conf, name))
		if err != nil {
			t.Fatal(err)
		}
		if opt := optional[name]; len(opt) > 0 {
			on, got := uncomment(string(data))
			slices.Sort(got)
			opt = slices.Clone(opt)
			slices.Sort(opt)
			if !slices.Equal(got, opt) {
				t.Errorf("%s: commented settings\n got %v\nwant %v", name, got, opt)
			}
			if _, err := config.ParseKV(strings.NewReader(on), name+" (uncommented)"); err != nil {
				t.Errorf("%s with its commented settings turned on: %v", name, err)
			}
		}
		entries, err := config.ParseKV(strings.NewReader(string(data)), name)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		var got []string
		values := map[string]string{}
		for _, e := range entries {
			got = append(got, e.Name)
			values[e.Name] = e.Value
		}
		slices.Sort(got)
		keys = slices.Clone(keys)
		slices.Sort(keys)
		if !slices.Equal(got, keys) {
			t.Errorf("%s: keys\n got %v\nwant %v", name, got, keys)
		}
		if name == "postgresql.cf" {
			if u := values["postgresql_admin_url"]; !strings.HasPrefix(u, "postgres://") && !strings.HasPrefix(u, "postgresql://") {
				t.Errorf("postgresql.cf: postgresql_admin_url is not a postgres:// URL")
			}
		}
		if name == "accounts.cf" {
			for k, v := range map[string]string{"member_min_id": "20001", "member_max_id": "29999",
				"club_min_id": "30001", "club_max_id": "39999", "username_regex": "^[a-z][-a-z0-9]*$"} {
				if values[k] != v {
					t.Errorf("accounts.cf: %s = %q, want %q", k, values[k], v)
				}
			}
		}
	}

	f, err := os.Open(filepath.Join(conf, "ops", "ceo"))
	if err != nil {
		t.Fatal(err)
	}
	ops, err := opsfile.ParseOps(f, "ops/ceo")
	f.Close()
	if err != nil {
		t.Fatalf("ops/ceo: %v", err)
	}
	var got []string
	for _, op := range ops {
		got = append(got, fmt.Sprintf("%s %s %#x", op.Name, op.User, op.ID))
	}
	wantOps := []string{"adduser root 0x1", "mail root 0x2", "mysql mysql 0x3",
		"mailman list 0x4", "postgresql root 0x5",
		"renew root 0x6", "group root 0x7", "positions root 0x8", "shell root 0x9", "passwd root 0xa", "deluser root 0xb", "program root 0xc", "ping root 0x10"}
	if !slices.Equal(got, wantOps) {
		t.Errorf("ops/ceo:\n got %q\nwant %q", got, wantOps)
	}

	// ceod.cf.example as shipped (every line a comment but legacy's quota
	// prototypes, so that a copy is valid on any host and new accounts get
	// legacy's quotas), and with every commented setting turned on: each
	// key of ceod.cf is documented, and each documented key is real.
	ex, err := os.ReadFile(filepath.Join(conf, "ceod.cf.example"))
	if err != nil {
		t.Fatal(err)
	}
	if entries, err := config.ParseKV(strings.NewReader(string(ex)), "ceod.cf.example"); err != nil {
		t.Errorf("ceod.cf.example: %v", err)
	} else {
		var on []string
		for _, e := range entries {
			on = append(on, e.Name+" = "+e.Value)
		}
		if want := []string{"member_quota_prototype = ctdalek", "clubrep_quota_prototype = ctdalek", "club_quota_prototype = csc"}; !slices.Equal(on, want) {
			t.Errorf("ceod.cf.example: settings turned on %q, want legacy's quota prototypes %q", on, want)
		}
	}
	if _, err := config.ParseCeod(strings.NewReader(string(ex)), "ceod.cf.example"); err != nil {
		t.Errorf("ceod.cf.example: %v", err)
	}
	on, got := uncomment(string(ex))
	slices.Sort(got)
	wantCeod := []string{"listen", "port", "hostname", "keytab", "service_principal", "replay_cache",
		"lib_dir", "max_frame", "handshake_timeout", "idle_timeout", "op_timeout",
		"write_timeout", "max_conns", "max_startups", "max_startups_per_ip", "max_conns_per_principal",
		"preauth_bytes", "caller_realms", "caller_instances", "shutdown_grace",
		// The account ops' settings (ops/config.Accounts.SetExtension).
		"admin_keytab", "quota_prototype", "kadmin_path", "setquota_path", "ldap_base", "forward_dns_server", "mailman_trusted_principals",
		"replay_cache", "journal", "recovery_interval", "kadmin_timeout", "delegate_ops", "ldap_writes"}
	slices.Sort(wantCeod)
	wantCeod = slices.Compact(wantCeod)
	if !slices.Equal(got, wantCeod) {
		t.Errorf("ceod.cf.example: documented settings\n got %v\nwant %v", got, wantCeod)
	}
	if _, err := config.ParseCeod(strings.NewReader(on), "ceod.cf.example (uncommented)"); err != nil {
		t.Errorf("ceod.cf.example with its settings turned on: %v", err)
	}
}

// TestShippedConfigLoads loads the shipped files with the loaders of the
// ops, as shipped and with their commented settings turned on, and gives
// the account ops' settings of ceod.cf.example to the shipped
// accounts.cf, so that a shipped value the ops would refuse fails here.
func TestShippedConfigLoads(t *testing.T) {
	conf := filepath.Join(repoRoot(t), "debian", "conf")
	for _, variant := range []string{"as shipped", "uncommented"} {
		dir := t.TempDir()
		for _, name := range []string{"accounts.cf", "mysql.cf", "postgresql.cf", "mailman.cf", "library.cf", "ceod.cf.example"} {
			data := readFile(t, filepath.Join(conf, name))
			if variant == "uncommented" {
				data, _ = uncomment(data)
			}
			writeFile(t, filepath.Join(dir, name), data, 0o600)
		}
		acc, err := opsconfig.LoadAccounts(dir)
		if err != nil {
			t.Fatalf("%s: accounts.cf: %v", variant, err)
		}
		if _, err := opsconfig.LoadMySQL(dir); err != nil {
			t.Errorf("%s: %v", variant, err)
		}
		if _, err := opsconfig.LoadPostgreSQL(dir); err != nil {
			t.Errorf("%s: %v", variant, err)
		}
		if _, err := opsconfig.LoadMailman(dir); err != nil {
			t.Errorf("%s: %v", variant, err)
		}
		if _, err := opsconfig.LoadLibrary(dir); err != nil {
			t.Errorf("%s: %v", variant, err)
		}
		f, err := os.Open(filepath.Join(dir, "ceod.cf.example"))
		if err != nil {
			t.Fatal(err)
		}
		cf, err := config.ParseCeod(f, "ceod.cf.example")
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", variant, err)
		}
		var ext []string
		for _, e := range cf.Extensions {
			ext = append(ext, e.Name)
			if known, err := acc.SetExtension(e.Name, e.Value); !known || err != nil {
				t.Errorf("%s: ceod.cf.example: %s (known %v): %v", variant, e.Name, known, err)
			}
		}
		if variant == "uncommented" {
			slices.Sort(ext)
			want := slices.Sorted(slices.Values(opsconfig.ExtensionKeys))
			if !slices.Equal(ext, want) {
				t.Errorf("ceod.cf.example documents the account ops' settings %v, want %v", ext, want)
			}
		}
	}
}

// uncomment turns on the commented settings of a configuration file
// (lines "#key = value") and returns the result and their keys.
func uncomment(data string) (string, []string) {
	var on strings.Builder
	var keys []string
	for line := range strings.Lines(data) {
		if k, _, ok := strings.Cut(strings.TrimPrefix(line, "#"), " = "); ok && strings.HasPrefix(line, "#") && k != "" && !strings.ContainsAny(k, " \t#") {
			line = strings.TrimPrefix(line, "#")
			keys = append(keys, k)
		}
		on.WriteString(line)
	}
	return on.String(), keys
}

// TestPackages builds, checks, installs, upgrades and purges the packages.
func TestPackages(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: builds Debian packages and installs them into a debootstrapped root")
	}
	testreq.Require(t, "root") // apt, dpkg --root, chroot and debootstrap
	testreq.Require(t, "dpkg") // a Debian system
	t0 := time.Now()
	root := repoRoot(t)
	work := t.TempDir()
	hostEnv := append(os.Environ(), "GO="+goCommand())
	// The -dbgsym packages take a third of the build time and are not
	// installed here; `make deb` builds them.
	buildEnv := append(slices.Clone(hostEnv), "DEB_BUILD_OPTIONS=noautodbgsym")
	mk := filepath.Join(root, "debian", "make-deb.sh")

	// Build dependencies, lintian, debootstrap, systemd-analyze; the module
	// cache (the builds themselves are offline).
	mustRun(t, 10*time.Minute, hostEnv, root, "bash", filepath.Join(root, "debian", "install-build-deps.sh"), "--test")
	mustRun(t, 10*time.Minute, hostEnv, root, "bash", mk, "prepare")

	// Version N as in the tree; version N+1 with a newer changelog entry
	// and two changed conffiles.
	b1, b2 := filepath.Join(work, "build1"), filepath.Join(work, "build2")
	debs1, debs2 := filepath.Join(work, "debs1"), filepath.Join(work, "debs2")
	mustRun(t, time.Minute, hostEnv, root, "bash", mk, "stage", b1)
	mustRun(t, time.Minute, hostEnv, root, "bash", mk, "stage", b2)
	v1 := strings.TrimSpace(mustRun(t, time.Minute, hostEnv, b1+"/src", "dpkg-parsechangelog", "-SVersion"))
	v2 := v1 + "+debtest1"
	bumpChangelog(t, filepath.Join(b2, "src", "debian", "changelog"), v2)
	for _, f := range []string{"accounts.cf", "library.cf"} {
		appendFile(t, filepath.Join(b2, "src", "debian", "conf", f), "\n"+upgradeMarker+"\n")
	}
	tb := time.Now()
	// Generous: the machine may be shared with other builds.
	mustRun(t, 20*time.Minute, buildEnv, root, "bash", mk, "build", b1, debs1)
	t.Logf("built %s in %v", v1, time.Since(tb).Round(time.Second))
	tb = time.Now()
	mustRun(t, 20*time.Minute, buildEnv, root, "bash", mk, "build", b2, debs2)
	t.Logf("built %s in %v", v2, time.Since(tb).Round(time.Second))

	pkgs1 := packages(t, debs1)
	pkgs2 := packages(t, debs2)
	_, frontEnd := runCmd(t, time.Minute, hostEnv, root, filepath.Join(root, "debian", "find-main.sh"), "ceo")
	wantPkgs := []string{"ceo-clients", "ceo-common", "ceo-daemon"}
	if frontEnd == 0 {
		wantPkgs = append(wantPkgs, "ceo")
	} else {
		t.Log("no ./ceo/cmd/ceo yet: the ceo package is not built (build profile pkg.ceo.noceo)")
	}
	slices.Sort(wantPkgs)
	for _, p := range []map[string]string{pkgs1, pkgs2} {
		if got := sortedKeys(p); !slices.Equal(got, wantPkgs) {
			t.Fatalf("built packages %v, want %v", got, wantPkgs)
		}
	}

	lintian(t, debs1)
	verifyUnit(t, work, pkgs1["ceo-daemon"])

	r := realm.Get(t)
	croot := cleanRoot(t, work)
	// Office staff exist before the packages (on club machines their
	// group comes from LDAP).
	mustInRoot(t, croot, "", "", nil, "groupadd", "office")
	mustInRoot(t, croot, "", "", nil, "useradd", "-m", "-g", "office", officeUser)
	before := snapshot(t, croot)
	// dpkg runs in the root, not with --root: the root's own groups own
	// its files (library.cf's group office, recorded by name).
	dpkg := func(args ...string) string {
		t.Helper()
		for i, a := range args {
			if strings.HasSuffix(a, ".deb") {
				writeFile(t, filepath.Join(croot, "tmp", filepath.Base(a)), readFile(t, a), 0o644)
				args[i] = "/tmp/" + filepath.Base(a)
			}
		}
		return mustInRoot(t, croot, "", "", nil, append([]string{"dpkg", "--force-confdef", "--force-confold"}, args...)...)
	}
	names := sortedKeys(pkgs1)

	// Install version N as the install guide says: with apt, which
	// brings the packages they depend on.
	ti := time.Now()
	aptInstall(t, croot, values(pkgs1, names))
	t.Logf("installed %v in %v", names, time.Since(ti).Round(time.Millisecond))
	for _, dep := range []string{"krb5-user", "quota"} {
		if out, code := runCmd(t, time.Minute, chrootEnv, "/", "dpkg-query", "--root="+croot, "-W", "-f=${Status}", dep); code != 0 || !strings.Contains(out, "install ok installed") {
			t.Errorf("%s was not installed with the packages (Depends/Recommends): %s", dep, out)
		}
	}
	for _, p := range names {
		if got := installedVersion(t, croot, p); got != v1 {
			t.Errorf("%s: installed version %q, want %q", p, got, v1)
		}
	}
	checkFiles(t, croot, slices.Contains(names, "ceo"))
	checkConffiles(t, croot)
	if mid := snapshot(t, croot); mid["usr/sbin/ceod"] == "" || before["usr/sbin/ceod"] != "" {
		t.Fatal("snapshot does not see the installed files: the purge check below would prove nothing")
	}
	runInstalled(t, croot, slices.Contains(names, "ceo"))

	// The administrator configures the host as the install guide says,
	// serves, and adds a member.
	followGuide(t, r, croot)

	// And a local edit of accounts.cf for the upgrade below.
	acc := filepath.Join(croot, "etc/csc/accounts.cf")
	edited := strings.Replace(readFile(t, acc), "member_shell = /bin/bash", "member_shell = /bin/zsh", 1)
	if !strings.Contains(edited, "/bin/zsh") {
		t.Fatal("accounts.cf has no member_shell = /bin/bash line to edit")
	}
	writeFile(t, acc, edited, 0o644)

	// Upgrade to N+1: the edit survives (the new version is put beside it
	// as .dpkg-dist), an unedited conffile is replaced, modes stay.
	mustRun(t, time.Minute, chrootEnv, work, "dpkg", "--compare-versions", v2, "gt", v1)
	dpkg(append([]string{"-i"}, values(pkgs2, names)...)...)
	for _, p := range names {
		if got := installedVersion(t, croot, p); got != v2 {
			t.Errorf("%s: version after upgrade %q, want %q", p, got, v2)
		}
	}
	if got := readFile(t, acc); got != edited {
		t.Errorf("upgrade lost the local edit of /etc/csc/accounts.cf; it is now:\n%s", got)
	}
	if dist, err := os.ReadFile(acc + ".dpkg-dist"); err != nil || !strings.Contains(string(dist), upgradeMarker) {
		t.Errorf("upgrade: /etc/csc/accounts.cf.dpkg-dist should hold the new version (%v)", err)
	}
	if !strings.Contains(readFile(t, filepath.Join(croot, "etc/csc/library.cf")), upgradeMarker) {
		t.Error("upgrade: the unedited /etc/csc/library.cf was not replaced by the new version")
	}
	if _, err := os.Stat(filepath.Join(croot, "etc/csc/ceod.cf")); err != nil {
		t.Errorf("upgrade: /etc/csc/ceod.cf: %v", err)
	}
	checkFiles(t, croot, slices.Contains(names, "ceo"))
	// The installed daemon reads the configuration of the guide.
	checkClient(t, croot, "upgrade")

	// Purge: nothing of the packages is left; /etc/csc keeps only the
	// keytab the administrator added (README.Debian says so).
	slices.SortFunc(names, func(a, b string) int { return purgeRank(a) - purgeRank(b) })
	dpkg(append([]string{"--purge"}, names...)...)
	for _, p := range names {
		if out, code := runCmd(t, time.Minute, chrootEnv, work, "dpkg-query", "--root="+croot, "-W", p); code == 0 {
			t.Errorf("after purge dpkg-query still knows %s: %s", p, out)
		}
	}
	if left := listDir(filepath.Join(croot, "etc/csc")); !slices.Equal(left, []string{"ceod-admin.keytab"}) {
		t.Errorf("after purge /etc/csc holds %v, want only the administrator's ceod-admin.keytab", left)
	}
	if out, _ := inRoot(t, croot, "", "", nil, "dpkg-statoverride", "--list"); strings.Contains(out, "/etc/csc") {
		t.Errorf("after purge dpkg-statoverride still lists:\n%s", out)
	}
	infos, _ := filepath.Glob(filepath.Join(croot, "var/lib/dpkg/info/ceo*"))
	if len(infos) > 0 {
		t.Errorf("after purge dpkg's database still has %v", infos)
	}
	// The packages the guide installed (krb5-user, quota) and the files
	// it made (keytabs, homes, krb5.conf) stay: only what is named for
	// ceo must be gone.
	ours := regexp.MustCompile(`(^|/)(ceo[^/]*|csc)(/|$)`)
	after := snapshot(t, croot)
	for p, kind := range after {
		if before[p] != kind && ours.MatchString(p) && p != "etc/csc" && p != "etc/csc/ceod-admin.keytab" {
			t.Errorf("after purge: %s (%s) was not there before install", p, kind)
		}
	}
	for p := range before {
		if _, ok := after[p]; !ok {
			t.Errorf("after purge: %s, there before install, is gone", p)
		}
	}
	t.Logf("TestPackages took %v", time.Since(t0).Round(time.Second))
}

// purgeRank orders packages for dpkg --purge: dependants first.
func purgeRank(p string) int {
	return map[string]int{"ceo": 0, "ceo-daemon": 1, "ceo-clients": 2, "ceo-common": 3}[p]
}

// checkFiles checks the installed files, their types, modes and owners.
func checkFiles(t *testing.T, croot string, frontEnd bool) {
	t.Helper()
	type want struct {
		path   string
		mode   fs.FileMode // type bits and permissions
		target string      // for symlinks
	}
	var wants []want
	add := func(mode fs.FileMode, paths ...string) {
		for _, p := range paths {
			wants = append(wants, want{p, mode, ""})
		}
	}
	add(fs.ModeDir|0o755, "usr/lib/ceod", "etc/csc", "etc/csc/ops")
	add(0o755, "usr/sbin/ceod", "usr/lib/ceod/ceoc",
		// Legacy ceo-clients' scripts and ceo-common's hooks.
		"usr/bin/addmember", "usr/bin/addclub", "etc/csc/spam/new-member", "etc/csc/spam/expired-account")
	wants = append(wants, want{"usr/bin/ceoc", fs.ModeSymlink, "../lib/ceod/ceoc"})
	add(0o644, "etc/csc/accounts.cf", "etc/csc/ops/ceo", "etc/csc/ceod.cf.example",
		"usr/lib/systemd/system/ceod.service", // /lib/systemd/system in the package; /lib is usr/lib
		"usr/share/man/man8/ceod.8.gz", "usr/share/man/man1/ceoc.1.gz",
		"usr/share/man/man1/addmember.1.gz", "usr/share/man/man1/addclub.1.gz",
		"usr/share/ceo-common/schema/csc.schema", "usr/share/ceo-common/schema/csc.ldif",
		"usr/share/doc/ceo-daemon/README.Debian")
	// The ops' admin passwords: root only; the library's: root and office.
	add(0o600, "etc/csc/mysql.cf", "etc/csc/postgresql.cf", "etc/csc/mailman.cf")
	add(0o640, "etc/csc/library.cf")
	if frontEnd {
		add(0o755, "usr/bin/ceo")
		add(0o644, "usr/share/man/man1/ceo.1.gz")
	}
	for _, w := range wants {
		p := filepath.Join(croot, w.path)
		fi, err := os.Lstat(p)
		if err != nil {
			t.Errorf("/%s: %v", w.path, err)
			continue
		}
		if w.mode&fs.ModeSymlink != 0 {
			if fi.Mode()&fs.ModeSymlink == 0 {
				t.Errorf("/%s: %v, want a symlink", w.path, fi.Mode())
			} else if got, _ := os.Readlink(p); got != w.target {
				t.Errorf("/%s -> %s, want -> %s", w.path, got, w.target)
			}
			continue
		}
		if got := fi.Mode() & (fs.ModeType | fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid); got != w.mode {
			t.Errorf("/%s: mode %v, want %v", w.path, got, w.mode)
		}
		gid := uint32(0)
		if w.path == "etc/csc/library.cf" {
			// The office staff's group, by ceo-common's postinst.
			gid = officeGID(t, croot)
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && (st.Uid != 0 || st.Gid != gid) {
			t.Errorf("/%s: owner %d:%d, want 0:%d", w.path, st.Uid, st.Gid, gid)
		}
	}
	// Enabled (dh_installsystemd), but not configured: no ceod.cf shipped.
	if _, err := os.Lstat(filepath.Join(croot, "etc/systemd/system/multi-user.target.wants/ceod.service")); err != nil {
		t.Errorf("ceod.service is not enabled: %v", err)
	}
}

// officeGID is the gid of the group office in the test root.
func officeGID(t *testing.T, croot string) uint32 {
	t.Helper()
	for line := range strings.Lines(readFile(t, filepath.Join(croot, "etc/group"))) {
		if f := strings.Split(line, ":"); len(f) > 2 && f[0] == "office" {
			n, err := strconv.Atoi(f[2])
			if err != nil {
				t.Fatal(err)
			}
			return uint32(n)
		}
	}
	t.Fatal("the test root has no group office")
	return 0
}

// checkConffiles checks that the files in /etc are dpkg conffiles.
func checkConffiles(t *testing.T, croot string) {
	t.Helper()
	want := map[string][]string{
		"ceo-common": {"/etc/csc/accounts.cf", "/etc/csc/library.cf", "/etc/csc/mailman.cf", "/etc/csc/mysql.cf", "/etc/csc/ops/ceo", "/etc/csc/postgresql.cf",
			"/etc/csc/spam/expired-account", "/etc/csc/spam/new-member"},
		"ceo-daemon": {"/etc/csc/ceod.acl", "/etc/csc/ceod.cf.example"},
	}
	for pkg, files := range want {
		out := mustRun(t, time.Minute, chrootEnv, "/", "dpkg-query", "--root="+croot, "-W", "-f=${Conffiles}\n", pkg)
		var got []string
		for _, line := range strings.Split(out, "\n") {
			if f := strings.Fields(line); len(f) >= 2 {
				got = append(got, f[0])
			}
		}
		slices.Sort(got)
		if !slices.Equal(got, files) {
			t.Errorf("%s conffiles %v, want %v", pkg, got, files)
		}
	}
	if _, err := os.Lstat(filepath.Join(croot, "etc/csc/ceod.cf")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("/etc/csc/ceod.cf exists after install (%v): the service must wait for the administrator", err)
	}
}

// runInstalled runs the installed binaries in the test root.
func runInstalled(t *testing.T, croot string, frontEnd bool) {
	t.Helper()
	chroot := func(args ...string) (string, int) {
		return runCmd(t, time.Minute, chrootEnv, "/", "chroot", append([]string{croot}, args...)...)
	}
	if out, code := chroot("/usr/sbin/ceod", "--help"); code != 0 || !strings.Contains(out, "usage: ceod") {
		t.Errorf("ceod --help: exit %d (want 0 and a usage message):\n%s", code, out)
	}
	for _, ceoc := range []string{"/usr/lib/ceod/ceoc", "/usr/bin/ceoc"} {
		if out, code := chroot(ceoc); code == 0 || !strings.Contains(out, "usage: ceoc") {
			t.Errorf("%s with no arguments: exit %d (want non-zero and a usage message):\n%s", ceoc, code, out)
		}
	}
	// Legacy's exit status 2 and usage for wrong arguments.
	for _, p := range []string{"addmember", "addclub"} {
		if out, code := chroot("/usr/bin/"+p, "x"); code != 2 || !strings.Contains(out, "usage: "+p) {
			t.Errorf("%s with one argument: exit %d (want 2 and a usage message):\n%s", p, code, out)
		}
	}
	if frontEnd {
		if out, code := chroot("/usr/bin/ceo", "--help"); code != 0 || !strings.Contains(out, "usage: ceo") {
			t.Errorf("ceo --help: exit %d (want 0 and a usage message):\n%s", code, out)
		}
	}
	// The shipped configuration as the installed daemon reads it, on a
	// host that owns no op (the ops hosts resolve through the root's
	// /etc/hosts). The adduser host's -check is the install guide's
	// (followGuide).
	checkClient(t, croot, "fresh install")
}

// checkClient runs ceod -check on the installed configuration as a host
// that owns no op: the configuration is read, and the problem is one
// that may pass (DNS late at boot), so systemd would retry.
func checkClient(t *testing.T, croot, when string) {
	t.Helper()
	out, code := runCmd(t, time.Minute, chrootEnv, "/", "chroot", croot, "/usr/sbin/ceod", "-check", "-hostname", clientHost)
	if code != checkTransient || !strings.Contains(out, "no op in the ops files (/etc/csc/ops) is owned by "+clientHost) {
		t.Errorf("%s: ceod -check as %s (no local op): exit %d (want %d, naming it):\n%s", when, clientHost, code, checkTransient, out)
	}
}

// lintian runs lintian on the .debs in dir: an E: line fails the test.
func lintian(t *testing.T, dir string) {
	t.Helper()
	debs, _ := filepath.Glob(filepath.Join(dir, "*.deb"))
	// lintian leaves temporary databases (mldbm-*) in $TMPDIR.
	env := append(os.Environ(), "TMPDIR="+t.TempDir())
	out, code := runCmd(t, 5*time.Minute, env, dir, "lintian", append([]string{"--pedantic", "-I", "--show-overrides"}, debs...)...)
	errs := 0
	for line := range strings.Lines(out) {
		switch {
		case strings.HasPrefix(line, "E: "):
			t.Errorf("lintian: %s", strings.TrimSpace(line))
			errs++
		case strings.HasPrefix(line, "W: "), strings.HasPrefix(line, "I: "), strings.HasPrefix(line, "O: "), strings.HasPrefix(line, "P: "), strings.HasPrefix(line, "X: "):
			t.Logf("lintian: %s", strings.TrimSpace(line))
		}
	}
	if code != 0 && errs == 0 {
		t.Errorf("lintian exited %d:\n%s", code, out)
	}
}

// verifyUnit runs systemd-analyze verify on ceod.service as the package
// installs it, in a root holding the ceo-daemon package and the host's
// systemd targets (the unit's dependencies); its man page is checked
// through MANPATH. Any message fails the test: unknown settings are
// only warnings to systemd.
func verifyUnit(t *testing.T, work, deb string) {
	t.Helper()
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Errorf("systemd-analyze: %v", err)
		return
	}
	vroot := filepath.Join(work, "verify")
	mustRun(t, time.Minute, os.Environ(), work, "dpkg-deb", "-x", deb, vroot)
	units := filepath.Join(vroot, "lib", "systemd", "system")
	targets, _ := filepath.Glob("/lib/systemd/system/*.target")
	if len(targets) == 0 {
		t.Fatal("the host has no systemd targets in /lib/systemd/system (is systemd installed?)")
	}
	mustRun(t, time.Minute, os.Environ(), work, "cp", append(append([]string{"-a"}, targets...), units)...)
	// The unit's ExecReload runs /bin/kill, from procps, which ceo-daemon
	// depends on: the verify root holds only the package, so add it.
	mustRun(t, time.Minute, os.Environ(), work, "mkdir", "-p", filepath.Join(vroot, "bin"))
	mustRun(t, time.Minute, os.Environ(), work, "cp", "-a", "/bin/kill", filepath.Join(vroot, "bin", "kill"))
	env := append(os.Environ(), "MANPATH="+filepath.Join(vroot, "usr", "share", "man"))
	out, code := runCmd(t, time.Minute, env, work, "systemd-analyze", "verify", "--root="+vroot, "ceod.service")
	if code != 0 || strings.TrimSpace(out) != "" {
		t.Errorf("systemd-analyze verify ceod.service: exit %d:\n%s", code, out)
	}
	os.RemoveAll(vroot)
}

// cleanRoot returns a fresh minimal Debian root of the host's release in
// work/root. The root made by debootstrap is cached as a tarball.
func cleanRoot(t *testing.T, work string) string {
	t.Helper()
	cache := os.Getenv("CEO_DEBTEST_CACHE")
	if cache == "" {
		cache = "/var/cache/ceo-debtest"
	}
	suite := osRelease(t)["VERSION_CODENAME"]
	if suite == "" {
		suite = "bookworm"
	}
	tarball := filepath.Join(cache, suite+"-minbase.tar")
	if _, err := os.Stat(tarball); err != nil {
		mirror := os.Getenv("CEO_DEBTEST_MIRROR")
		if mirror == "" {
			mirror = "http://deb.debian.org/debian"
		}
		td := time.Now()
		tmp := filepath.Join(work, "debootstrap")
		mustRun(t, 10*time.Minute, os.Environ(), work, "debootstrap", "--variant=minbase", suite, tmp, mirror)
		if err := os.MkdirAll(cache, 0o755); err != nil {
			t.Fatal(err)
		}
		mustRun(t, 5*time.Minute, os.Environ(), work, "tar", "-C", tmp, "-cf", tarball+".tmp", ".")
		if err := os.Rename(tarball+".tmp", tarball); err != nil {
			t.Fatal(err)
		}
		os.RemoveAll(tmp)
		t.Logf("debootstrap %s (%s): %v, cached in %s", suite, mirror, time.Since(td).Round(time.Second), tarball)
	}
	croot := filepath.Join(work, "root")
	if err := os.Mkdir(croot, 0o755); err != nil {
		t.Fatal(err)
	}
	mustRun(t, 5*time.Minute, os.Environ(), work, "tar", "-C", croot, "-xf", tarball)

	// No service starts in the root; its ops hosts resolve locally and
	// nothing else resolves at all.
	writeFile(t, filepath.Join(croot, "usr/sbin/policy-rc.d"), "#!/bin/sh\nexit 101\n", 0o755)
	var hosts strings.Builder
	hosts.WriteString("127.0.0.1\tlocalhost\n")
	for i, h := range append(slices.Clone(opsHosts), clientHost) {
		fmt.Fprintf(&hosts, "127.0.1.%d\t%s\n", i+1, h)
	}
	writeFile(t, filepath.Join(croot, "etc/hosts"), hosts.String(), 0o644)
	os.Remove(filepath.Join(croot, "etc/resolv.conf"))
	writeFile(t, filepath.Join(croot, "etc/resolv.conf"), "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n", 0o644)
	return croot
}

// snapshot lists every path in the root with its type, leaving out
// dpkg's own state and logs, which installing and purging change.
func snapshot(t *testing.T, croot string) map[string]string {
	t.Helper()
	skip := []string{"var/lib/dpkg", "var/log", "var/cache/debconf", "var/cache/ldconfig", "var/cache/apt", "var/lib/apt", "tmp", "proc", "run"}
	m := map[string]string{}
	err := filepath.WalkDir(croot, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(croot, p)
		if slices.Contains(skip, rel) {
			return filepath.SkipDir
		}
		m[rel] = d.Type().String()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// packages maps the package names of the .debs in dir (not the -dbgsym
// ones) to their files.
func packages(t *testing.T, dir string) map[string]string {
	t.Helper()
	debs, _ := filepath.Glob(filepath.Join(dir, "*.deb"))
	m := map[string]string{}
	for _, d := range debs {
		name := strings.TrimSpace(mustRun(t, time.Minute, os.Environ(), dir, "dpkg-deb", "-f", d, "Package"))
		if !strings.HasSuffix(name, "-dbgsym") {
			m[name] = d
		}
	}
	return m
}

func installedVersion(t *testing.T, croot, pkg string) string {
	t.Helper()
	return strings.TrimSpace(mustRun(t, time.Minute, chrootEnv, "/", "dpkg-query", "--root="+croot, "-W", "-f=${Version}", pkg))
}

// bumpChangelog adds an entry for version at the top of a changelog.
func bumpChangelog(t *testing.T, path, version string) {
	t.Helper()
	old := readFile(t, path)
	src, _, _ := strings.Cut(old, " ")
	entry := fmt.Sprintf("%s (%s) unstable; urgency=medium\n\n  * Upgrade test build (internal/debtest).\n\n -- ceo debtest <root@localhost>  %s\n\n",
		src, version, time.Now().Format(time.RFC1123Z))
	writeFile(t, path, entry+old, 0o644)
}

func osRelease(t *testing.T) map[string]string {
	t.Helper()
	m := map[string]string{}
	f, err := os.Open("/etc/os-release")
	if err != nil {
		return m
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			m[k] = strings.Trim(v, `"`)
		}
	}
	return m
}

// goCommand is the go command the packages are built with: $GO, the one
// on PATH, or /usr/local/go/bin/go.
func goCommand() string {
	if g := os.Getenv("GO"); g != "" {
		return g
	}
	if g, err := exec.LookPath("go"); err == nil {
		return g
	}
	return "/usr/local/go/bin/go"
}

// runCmd runs a command with env as its whole environment and returns
// its combined output and exit status. A command still running after
// timeout is killed with its process group, and the test fails.
func runCmd(t *testing.T, timeout time.Duration, env []string, dir, name string, args ...string) (string, int) {
	t.Helper()
	return runStdin(t, timeout, env, dir, "", name, args...)
}

// runStdin is runCmd with stdin as the command's standard input.
func runStdin(t *testing.T, timeout time.Duration, env []string, dir, stdin, name string, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = env
	cmd.Stdin = strings.NewReader(stdin)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("%s %s: killed after %v:\n%s", name, strings.Join(args, " "), timeout, tail(string(out)))
	}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("%s %s: %v", name, strings.Join(args, " "), err)
	}
	return string(out), cmd.ProcessState.ExitCode()
}

// mustRun is runCmd that fails the test on a non-zero exit status.
func mustRun(t *testing.T, timeout time.Duration, env []string, dir, name string, args ...string) string {
	t.Helper()
	out, code := runCmd(t, timeout, env, dir, name, args...)
	if code != 0 {
		t.Fatalf("%s %s: exit %d:\n%s", name, strings.Join(args, " "), code, tail(string(out)))
	}
	return out
}

// tail keeps the last 60 lines of a command's output for a failure.
func tail(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > 60 {
		lines = append([]string{"..."}, lines[len(lines)-60:]...)
	}
	return strings.Join(lines, "\n")
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func writeFile(t *testing.T, path, data string, mode fs.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

func appendFile(t *testing.T, path, data string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(data); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func listDir(dir string) []string {
	var out []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && p != dir {
			out = append(out, strings.TrimPrefix(p, dir+"/"))
		}
		return nil
	})
	return out
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func values(m map[string]string, keys []string) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = m[k]
	}
	return out
}
