package console_test

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
	_ "github.com/go-sql-driver/mysql"

	"github.com/csclub/ceo/ceo/app"
	"github.com/csclub/ceo/ceo/config"
	"github.com/csclub/ceo/ceo/console"
	"github.com/csclub/ceo/ceo/internal/ceotest"
	"github.com/csclub/ceo/ceo/terms"
	"github.com/csclub/ceo/internal/ceodtest/daemontest"
	"github.com/csclub/ceo/internal/realm"
)

func TestMain(m *testing.M) { os.Exit(ceotest.Main(m)) }

func current() terms.Term { return terms.Current(time.Now) }

// result is what one command run printed.
type result struct {
	code        int
	out, errOut string
}

// run runs `ceo NAME ARGS...` in-process as user (a seeded test user)
// with stdin.
func run(t *testing.T, r *realm.Realm, user, stdin string, args ...string) result {
	t.Helper()
	return runIO(t, r, user, stdin, false, args...)
}

func runIO(t *testing.T, r *realm.Realm, user, stdin string, interactive bool, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	io := console.IO{In: strings.NewReader(stdin), Out: &out, Err: &errOut, Interactive: interactive}
	connect := func(ctx context.Context) (*app.App, error) {
		cfg, err := config.Load(r.ConfigDir)
		if err != nil {
			return nil, err
		}
		return app.Connect(ctx, cfg, ceotest.Login(t, r, user))
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	code := console.Run(ctx, args[0], args[1:], io, connect)
	return result{code, out.String(), errOut.String()}
}

func row(uid, name, program string) string {
	return fmt.Sprintf("%-12s %-30s %s\n", uid, name, program)
}

func TestHelp(t *testing.T) {
	noLogin := func(context.Context) (*app.App, error) {
		t.Error("--help logged in")
		return nil, fmt.Errorf("no")
	}
	for _, cmd := range []string{"memberlist", "expiredaccounts", "inactive", "updateprograms", "mysql", "postgresql", "addmember", "addclub"} {
		var out, errOut bytes.Buffer
		code := console.Run(t.Context(), cmd, []string{"--help"}, console.IO{In: strings.NewReader(""), Out: &out, Err: &errOut}, noLogin)
		if code != 0 || !strings.HasPrefix(out.String(), "usage: ceo "+cmd) || strings.Count(out.String(), "usage:") != 1 || errOut.Len() != 0 {
			t.Errorf("%s --help: exit %d, want 0 and the usage once on stdout only\nstdout:\n%s\nstderr:\n%s", cmd, code, out.String(), errOut.String())
		}
	}
	var out bytes.Buffer
	console.Usage(&out)
	for _, cmd := range []string{"memberlist", "expiredaccounts", "inactive", "updateprograms", "mysql", "addmember", "addclub"} {
		if !strings.Contains(out.String(), "  "+cmd) {
			t.Errorf("usage lacks %s:\n%s", cmd, out.String())
		}
	}
}

// TestUsageErrors: as legacy ceo, a usage error prints the command's usage
// on stdout and exits 0, and an unknown command prints "Invalid command
// 'NAME'" on stdout and exits 0; nothing logs in.
func TestUsageErrors(t *testing.T) {
	noLogin := func(context.Context) (*app.App, error) {
		t.Error("a usage error logged in")
		return nil, fmt.Errorf("no")
	}
	for _, args := range [][]string{
		{"memberlist", "x2024"},
		{"memberlist", "f2024", "w2025"},
		{"inactive"},
		{"inactive", "three"},
		{"mysql", "drop", "alice"},
		{"mysql", "create"},
		{"addmember", "alice"},
		{"addclub", "club"},
		{"expiredaccounts", "--bogus"},
		// Commands with a fixed count of operands (command.want).
		{"renew"},
		{"shell", "alice"},
		{"passwd", "alice", "bob"},
		{"deluser", "--remove-home"},
		{"passwd", "alice", "--bogus"}, // a bad flag after the operand
		{"shell", "alice", "--", "/bin/sh", "x"},
	} {
		var out, errOut bytes.Buffer
		code := console.Run(t.Context(), args[0], args[1:], console.IO{In: strings.NewReader(""), Out: &out, Err: &errOut}, noLogin)
		if code != 0 || strings.Count(out.String(), "usage: ceo "+args[0]+" ") != 1 || errOut.Len() != 0 {
			t.Errorf("%v: exit %d\nstdout:\n%s\nstderr:\n%s", args, code, out.String(), errOut.String())
		}
		if want := map[string]string{"renew": "USER", "shell": "USER SHELL", "passwd": "USER", "deluser": "USER"}[args[0]]; want != "" && !slices.Contains(args, "--bogus") &&
			!strings.HasPrefix(out.String(), "ceo "+args[0]+": want "+want+"\n") {
			t.Errorf("%v: stdout %q, want it to start with the operands wanted (%s)", args, out.String(), want)
		}
	}
	var out, errOut bytes.Buffer
	code := console.Run(t.Context(), "nosuchcommand", nil, console.IO{In: strings.NewReader(""), Out: &out, Err: &errOut}, noLogin)
	if code != 0 || out.String() != "Invalid command 'nosuchcommand'\n" || errOut.Len() != 0 {
		t.Errorf("unknown command: exit %d %q %q", code, out.String(), errOut.String())
	}
}

func TestMemberlist(t *testing.T) {
	r := ceotest.Setup(t)
	res := run(t, r, "regular1", "", "memberlist")
	want := row("office1", "Test office1", "Testing") + row("regular1", "Test regular1", "Testing") + row("syscom1", "Test syscom1", "Testing")
	if res.code != 0 || res.out != want {
		t.Fatalf("memberlist: exit %d\nstdout:\n%s\nwant:\n%s\nstderr:\n%s", res.code, res.out, want, res.errOut)
	}
	res = run(t, r, "regular1", "", "memberlist", current().String())
	if res.code != 0 || res.out != want {
		t.Fatalf("memberlist %s:\n%s", current(), res.out)
	}
	res = run(t, r, "regular1", "", "memberlist", "w1999")
	if res.code != 0 || res.out != "" {
		t.Fatalf("memberlist w1999: exit %d %q", res.code, res.out)
	}
}

func TestInactive(t *testing.T) {
	r := ceotest.Setup(t)
	admin := ceotest.Admin(t, r)
	cur := current()
	ceotest.AddEntry(t, r, admin, ceotest.Entry{UID: "ancient", UIDNumber: 27001, Terms: []string{"f2001", "w2001"}})
	ceotest.AddEntry(t, r, admin, ceotest.Entry{UID: "threeago", UIDNumber: 27002, Terms: []string{cur.Add(-3).String()}})
	ceotest.AddEntry(t, r, admin, ceotest.Entry{UID: "lastterm", UIDNumber: 27003, NonMember: []string{cur.Prev().String()}})
	ceotest.AddEntry(t, r, admin, ceotest.Entry{UID: "never", UIDNumber: 27004})

	res := run(t, r, "regular1", "", "inactive", "2")
	want := "ancient      f2001\nnever        f0000\nthreeago     " + cur.Add(-3).String() + "\n"
	if res.code != 0 || res.out != want {
		t.Fatalf("inactive 2: exit %d\n%s\nwant:\n%s%s", res.code, res.out, want, res.errOut)
	}
	res = run(t, r, "regular1", "", "inactive", "1")
	if !strings.Contains(res.out, "lastterm     "+cur.Prev().String()+"\n") || strings.Contains(res.out, "regular1") {
		t.Fatalf("inactive 1:\n%s", res.out)
	}
}

func TestExpiredAccounts(t *testing.T) {
	r := ceotest.Setup(t)
	admin := ceotest.Admin(t, r)
	cur := current()
	ceotest.AddEntry(t, r, admin, ceotest.Entry{UID: "lapsed", Name: "Lapsed Member", UIDNumber: 27101, Terms: []string{cur.Prev().String()}})
	ceotest.AddEntry(t, r, admin, ceotest.Entry{UID: "longgone", Name: "Long Gone", UIDNumber: 27102, Terms: []string{"f2001"}})
	ceotest.AddEntry(t, r, admin, ceotest.Entry{UID: "threeback", Name: "Three Back", UIDNumber: 27103, NonMember: []string{cur.Add(-3).String()}, Terms: []string{cur.Add(-5).String()}})
	ceotest.AddEntry(t, r, admin, ceotest.Entry{UID: "fourback", Name: "Four Back", UIDNumber: 27104, Terms: []string{cur.Add(-4).String()}})
	ceotest.AddEntry(t, r, admin, ceotest.Entry{UID: "nevereg", Name: "Never Registered", UIDNumber: 27105})
	log := filepath.Join(r.Dir, "hooks", "notify.log")
	logSize := func() int64 {
		st, err := os.Stat(log)
		if err != nil {
			return 0
		}
		return st.Size()
	}

	// Legacy's selection and words: not registered now, latest term (member
	// or club rep) 1 to 3 terms back.
	res := run(t, r, "regular1", "", "expiredaccounts")
	if want := "lapsed (expired for 1 terms)\nthreeback (expired for 3 terms)\n"; res.code != 0 || res.out != want {
		t.Fatalf("expiredaccounts: exit %d\n%q\nwant %q\n%s", res.code, res.out, want, res.errOut)
	}
	res = run(t, r, "regular1", "", "expiredaccounts", "--all")
	want := "fourback (expired for 4 terms)\nlapsed (expired for 1 terms)\nlonggone (expired for " +
		strconv.Itoa(terms.Delta(terms.MustParse("f2001"), cur)) + " terms)\nnevereg (never registered)\nthreeback (expired for 3 terms)\n"
	if res.code != 0 || res.out != want {
		t.Fatalf("expiredaccounts --all:\n%s\nwant:\n%s", res.out, want)
	}

	// --email without the exact phrase sends nothing.
	before := logSize()
	res = run(t, r, "regular1", "yes\n", "expiredaccounts", "--email")
	if res.code != 0 || !strings.Contains(res.errOut, "type 'Yes, do this'") || !strings.Contains(res.errOut, "Not sending") {
		t.Fatalf("--email, declined: exit %d\n%s", res.code, res.errOut)
	}
	if logSize() != before {
		t.Fatal("the hook ran without confirmation")
	}
	// With it, the hook runs once per listed account as HOOK NAME USERNAME,
	// and the same list is printed.
	res = runIO(t, r, "regular1", "Yes, do this\n", true, "expiredaccounts", "--email")
	if res.code != 0 || !strings.Contains(res.errOut, "Sent 2 notices.") ||
		res.out != "lapsed (expired for 1 terms)\nthreeback (expired for 3 terms)\n" {
		t.Fatalf("--email: exit %d\n%s\n%s", res.code, res.out, res.errOut)
	}
	if !strings.Contains(res.errOut, "\rnotifying 0/2") {
		t.Errorf("no progress on a terminal: %q", res.errOut)
	}
	b, _ := os.ReadFile(log)
	sent := string(b)[int(before):]
	if strings.Count(sent, "argv: ") != 2 || !strings.Contains(sent, "argv: Lapsed Member lapsed") || !strings.Contains(sent, "argv: Three Back threeback") {
		t.Fatalf("notify.log:\n%s", sent)
	}
}

// TestUpdatePrograms reads programs from a source directory (here a
// subtree of the realm's own, read anonymously) and changes them as a
// syscom member after a y/n question.
func TestUpdatePrograms(t *testing.T) {
	r := ceotest.Setup(t)
	daemontest.Start(t, r, daemontest.Options{}).RequireServed(t, "program")
	admin := ceotest.Admin(t, r)
	base := "ou=UW," + r.LDAPBase
	add := func(dn string, attrs map[string][]string) {
		req := ldap.NewAddRequest(dn, nil)
		for k, v := range attrs {
			req.Attribute(k, v)
		}
		if err := admin.Add(req); err != nil {
			t.Fatalf("adding %s: %v", dn, err)
		}
	}
	add(base, map[string][]string{"objectClass": {"top", "organizationalUnit"}, "ou": {"UW"}})
	add("uid=regular1,"+base, map[string][]string{"objectClass": {"top", "account"}, "uid": {"regular1"}, "ou": {"Mathematics"}})
	add("uid=office1,"+base, map[string][]string{"objectClass": {"top", "account"}, "uid": {"office1"}, "ou": {"Testing"}})
	add("uid=syscom1,"+base, map[string][]string{"objectClass": {"top", "account"}, "uid": {"syscom1"}, "ou": {"Engineering"}})
	// The university's placeholders for people who left: legacy skipped them.
	ceotest.AddEntry(t, r, admin, ceotest.Entry{UID: "upgone", UIDNumber: 27201})
	ceotest.AddEntry(t, r, admin, ceotest.Entry{UID: "uporphan", UIDNumber: 27202})
	add("uid=upgone,"+base, map[string][]string{"objectClass": {"top", "account"}, "uid": {"upgone"}, "ou": {"expired"}})
	add("uid=uporphan,"+base, map[string][]string{"objectClass": {"top", "account"}, "uid": {"uporphan"}, "ou": {"orphaned"}})
	t.Cleanup(func() {
		for _, u := range []string{"upgone", "uporphan"} {
			admin.Del(ldap.NewDelRequest("uid="+u+","+base, nil))
		}
		for _, u := range []string{"regular1", "office1", "syscom1"} {
			admin.Del(ldap.NewDelRequest("uid="+u+","+base, nil))
			ceotest.SetAttr(t, admin, r.UserDN(u), "program", "Testing")
		}
		admin.Del(ldap.NewDelRequest(base, nil))
	})
	src := []string{"updateprograms", "--source", r.LDAPURL, "--source-base", base}

	res := run(t, r, "syscom1", "", append(src, "--dry-run")...)
	want := "regular1: 'Testing' => 'Mathematics'\nsyscom1: 'Testing' => 'Engineering'\n"
	if res.code != 0 || res.out != want {
		t.Fatalf("--dry-run: exit %d\n%s\nwant:\n%s%s", res.code, res.out, want, res.errOut)
	}
	// y for regular1, n for syscom1.
	res = run(t, r, "syscom1", "y\nn\n", src...)
	if res.code != 0 || res.out != "regular1: program set to 'Mathematics'\n" {
		t.Fatalf("updateprograms: exit %d\n%s\n%s", res.code, res.out, res.errOut)
	}
	if !strings.Contains(res.errOut, "regular1: 'Testing' => 'Mathematics'? (y/n)") || !strings.Contains(res.errOut, "1 programs changed, 1 left as they were.") {
		t.Errorf("questions:\n%s", res.errOut)
	}
	if got := ceotest.Attr(t, admin, r.UserDN("regular1"), "program"); !slices.Equal(got, []string{"Mathematics"}) {
		t.Errorf("regular1 program = %v", got)
	}
	if got := ceotest.Attr(t, admin, r.UserDN("syscom1"), "program"); !slices.Equal(got, []string{"Testing"}) {
		t.Errorf("syscom1 program = %v", got)
	}
	// A member may not change programs: ceod.acl says no.
	res = run(t, r, "regular1", "y\n", src...)
	if res.code != 1 || !strings.Contains(res.errOut, "no rule of program in ceod.acl allows it") {
		t.Errorf("as regular1: exit %d\n%s", res.code, res.errOut)
	}
	// An unreachable source is a plain error.
	res = run(t, r, "syscom1", "", "updateprograms", "--source", "ldap://127.0.0.1:1", "--source-base", base)
	if res.code != 1 || !strings.Contains(res.errOut, "cannot reach the university directory") {
		t.Errorf("unreachable source: exit %d\n%s", res.code, res.errOut)
	}
}

// TestMySQLCreate: `ceo mysql create` through ceod; the info file is
// written as legacy and its password works.
func TestMySQLCreate(t *testing.T) {
	r := ceotest.Setup(t)
	daemontest.Start(t, r, daemontest.Options{}).RequireServed(t, "mysql")
	home := filepath.Join(r.HomeRoot, "regular1")
	if err := os.MkdirAll(home, 0o755); err != nil {
		t.Fatal(err)
	}
	res := run(t, r, "regular1", "", "mysql", "create", "regular1")
	if res.code != 0 {
		t.Fatalf("mysql create: exit %d\n%s%s", res.code, res.out, res.errOut)
	}
	info := filepath.Join(home, "ceo-mysql-info")
	st, err := os.Stat(info)
	if err != nil || st.Mode().Perm() != 0o660 {
		t.Fatalf("info file: %v %v", st, err)
	}
	b, _ := os.ReadFile(info)
	var pw string
	for _, l := range strings.Split(string(b), "\n") {
		if p, ok := strings.CutPrefix(l, "Password: "); ok {
			pw = p
		}
	}
	// Legacy ceo's output byte for byte, password included: scripts read it.
	want := "MySQL database created\nConnection Information: \n\nDatabase: regular1\nUsername: regular1\nHostname: localhost\n" +
		"Password: " + pw + "\n\nSettings written to ~regular1/ceo-mysql-info.\n\n"
	if pw == "" || res.out != want {
		t.Fatalf("output:\n%q\nwant:\n%q", res.out, want)
	}
	db, err := sql.Open("mysql", fmt.Sprintf("regular1:%s@tcp(127.0.0.1:%d)/regular1", pw, r.MySQLPort))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.PingContext(t.Context()); err != nil {
		t.Fatalf("logging in with the new password: %v", err)
	}
	// Again: the old file is kept as .old.
	if res := run(t, r, "regular1", "", "mysql", "create", "regular1"); res.code != 0 {
		t.Fatalf("second run: %s", res.errOut)
	}
	if _, err := os.Stat(info + ".old"); err != nil {
		t.Fatal(err)
	}
	// A refusal is legacy's text on stdout, exit 0.
	res = run(t, r, "regular1", "", "mysql", "create", "office1")
	if res.code != 0 || !strings.HasPrefix(res.out, "Failed to create MySQL database\n\nWe failed to create the database. The error was:\n\n") {
		t.Fatalf("refused: exit %d\n%q\n%s", res.code, res.out, res.errOut)
	}
}

// TestAddMemberAndClub: scripted account creation through ceod, with the
// terms registered in LDAP.
func TestAddMemberAndClub(t *testing.T) {
	r := ceotest.Setup(t)
	daemontest.Start(t, r, daemontest.Options{}).RequireServed(t, "adduser")
	admin := ceotest.Admin(t, r)
	const pw = "scripted-pw-9"

	res := run(t, r, "regular1", pw+"\n", "addmember", "notallowed", "Not Allowed")
	if res.code != 1 {
		t.Fatalf("addmember as regular1: exit %d\n%s%s", res.code, res.out, res.errOut)
	}
	res = run(t, r, "office1", "abc\n", "addmember", "shortpw", "Short Password")
	if res.code != 1 || !strings.Contains(res.errOut, "Password is too short") {
		t.Fatalf("short password: exit %d\n%s", res.code, res.errOut)
	}

	res = run(t, r, "office1", pw+"\n", "addmember", "--terms", "2", "scripted", "Scripted Member", "Statistics")
	if res.code != 0 {
		t.Fatalf("addmember: exit %d\n%s%s", res.code, res.out, res.errOut)
	}
	wantTerms := terms.Strings(terms.Interval(current(), 2))
	if !strings.Contains(res.out, "Registered scripted for "+strings.Join(wantTerms, ", ")+".") {
		t.Errorf("output:\n%s", res.out)
	}
	got := ceotest.Attr(t, admin, r.UserDN("scripted"), "term")
	slices.Sort(got)
	slices.Sort(wantTerms)
	if !slices.Equal(got, wantTerms) {
		t.Errorf("term = %v, want %v", got, wantTerms)
	}
	r.Kinit(t, "scripted", pw)

	res = run(t, r, "office1", pw+"\n", "addmember", "--clubrep", "scriptrep", "Scripted Rep")
	if res.code != 0 {
		t.Fatalf("addmember --clubrep: exit %d\n%s%s", res.code, res.out, res.errOut)
	}
	if got := ceotest.Attr(t, admin, r.UserDN("scriptrep"), "nonMemberTerm"); !slices.Equal(got, []string{current().String()}) {
		t.Errorf("nonMemberTerm = %v", got)
	}

	res = run(t, r, "office1", "", "addclub", "scriptclub", "Scripted Club")
	if res.code != 0 {
		t.Fatalf("addclub: exit %d\n%s%s", res.code, res.out, res.errOut)
	}
	if oc := ceotest.Attr(t, admin, r.UserDN("scriptclub"), "objectClass"); !slices.Contains(oc, "club") {
		t.Errorf("objectClass = %v", oc)
	}
	res = run(t, r, "office1", "", "addclub", "scriptclub", "Scripted Club")
	if res.code != 1 || !strings.Contains(res.errOut, "already exists") {
		t.Errorf("addclub twice: exit %d\n%s", res.code, res.errOut)
	}
}

// TestMemberOpCommands: the scripts' commands for ceod's member ops,
// against the whole daemon: each changes the directory or Kerberos as
// asked, and a refusal exits 1 naming the ACL rule with nothing changed.
func TestMemberOpCommands(t *testing.T) {
	r := ceotest.Setup(t)
	daemontest.Start(t, r, daemontest.Options{}).RequireServed(t, "renew")
	admin := ceotest.Admin(t, r)
	const pw = "scripted-pw-10"
	name := fmt.Sprintf("mop%d", time.Now().UnixNano()%1000000)
	if res := run(t, r, "office1", pw+"\n", "addmember", "--terms", "0", name, "Member Ops"); res.code != 0 {
		t.Fatalf("addmember: exit %d\n%s%s", res.code, res.out, res.errOut)
	}
	dn := r.UserDN(name)
	ok := func(user, stdin string, args ...string) result {
		t.Helper()
		res := run(t, r, user, stdin, args...)
		if res.code != 0 {
			t.Fatalf("%v: exit %d\n%s%s", args, res.code, res.out, res.errOut)
		}
		return res
	}

	ok("office1", "", "renew", name, "--terms", "2") // flags after the operand, as getopt allows
	if got := ceotest.Attr(t, admin, dn, "term"); !slices.Equal(got, terms.Strings(terms.Interval(current(), 2))) {
		t.Errorf("term = %v", got)
	}
	res := run(t, r, "regular1", "", "renew", name)
	if res.code != 1 || !strings.Contains(res.errOut, "no rule of renew in ceod.acl") {
		t.Errorf("renew as regular1: exit %d\n%s", res.code, res.errOut)
	}
	if got := ceotest.Attr(t, admin, dn, "term"); len(got) != 2 {
		t.Errorf("refused renew changed terms: %v", got)
	}

	ok("syscom1", "", "group", "add", "office", name)
	if got := ceotest.Attr(t, admin, r.GroupDN("office"), "memberUid"); !slices.Contains(got, name) {
		t.Errorf("office memberUid = %v", got)
	}
	ok("syscom1", "", "group", "remove", "office", name)
	if got := ceotest.Attr(t, admin, r.GroupDN("office"), "memberUid"); slices.Contains(got, name) {
		t.Errorf("still in office: %v", got)
	}

	ok("office1", "", "positions", "set", "librarian", name)
	if got := ceotest.Attr(t, admin, dn, "position"); !slices.Equal(got, []string{"librarian"}) {
		t.Errorf("position = %v", got)
	}
	ok("office1", "", "positions", "set", "librarian")
	if got := ceotest.Attr(t, admin, dn, "position"); len(got) != 0 {
		t.Errorf("position = %v after vacating", got)
	}

	ok("syscom1", "", "shell", name, "/bin/sh")
	if got := ceotest.Attr(t, admin, dn, "loginShell"); !slices.Equal(got, []string{"/bin/sh"}) {
		t.Errorf("loginShell = %v", got)
	}

	res = ok("office1", "", "passwd", name, "--random")
	newPW := strings.TrimSpace(res.out)
	if newPW == "" || newPW == pw {
		t.Fatalf("passwd --random printed %q", res.out)
	}
	r.Kinit(t, name, newPW)
	res = run(t, r, "office1", "x-stolen-1\n", "passwd", "syscom1")
	if res.code != 1 || !strings.Contains(res.errOut, "denied by ceod.acl:") {
		t.Errorf("passwd syscom1 as office1: exit %d\n%s", res.code, res.errOut)
	}
	r.Kinit(t, "syscom1", r.Users["syscom1"].Password)

	res = run(t, r, "office1", "", "deluser", name)
	if res.code != 1 || !strings.Contains(res.errOut, "no rule of deluser") {
		t.Errorf("deluser as office1: exit %d\n%s", res.code, res.errOut)
	}
	home := ceotest.Attr(t, admin, dn, "homeDirectory")
	if len(home) != 1 {
		t.Fatalf("homeDirectory = %v", home)
	}
	if _, err := os.Stat(home[0]); err != nil {
		t.Fatalf("home before deluser: %v", err)
	}
	ok("syscom1", "", "deluser", name, "--remove-home")
	if _, err := os.Stat(home[0]); !os.IsNotExist(err) {
		t.Errorf("deluser --remove-home left %s: %v", home[0], err)
	}
	if got := ceotest.Attr(t, admin, dn, "uid"); len(got) != 0 {
		t.Errorf("entry left: uid = %v", got)
	}
}
