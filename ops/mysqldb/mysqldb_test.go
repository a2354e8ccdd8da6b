package mysqldb

import (
	"bytes"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/go-sql-driver/mysql"
	"google.golang.org/protobuf/proto"

	"github.com/csclub/ceo/internal/realm"
	"github.com/csclub/ceo/ops"
	"github.com/csclub/ceo/ops/authz/authztest"
	"github.com/csclub/ceo/wire/ceopb"
)

func TestMain(m *testing.M) { os.Exit(realm.Main(m)) }

type msg struct {
	status  int32
	message string
}

func call(t *testing.T, h ops.Handler, caller string, username *string) ([]msg, *string) {
	t.Helper()
	body, err := proto.Marshal(&ceopb.AddMySQLUser{Username: username})
	if err != nil && username != nil {
		t.Fatal(err)
	}
	if username == nil {
		body = nil // a request without its required field
	}
	out, err := h.Serve(t.Context(), ops.Request{Caller: ops.Caller{User: caller, Principal: caller + "@CSCLUB.INTERNAL"}, Body: body})
	if err != nil {
		t.Fatalf("Serve: %v", err)
	}
	var resp ceopb.AddMySQLUserResponse
	if err := proto.Unmarshal(out.Body, &resp); err != nil {
		t.Fatalf("reply does not decode: %v", err)
	}
	var msgs []msg
	for _, m := range resp.GetMessages() {
		msgs = append(msgs, msg{m.GetStatus(), m.GetMessage()})
	}
	return msgs, resp.Password
}

func wantMsgs(t *testing.T, got []msg, want ...msg) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("reply messages:\n got %v\nwant %v", got, want)
	}
}

var passwordShape = regexp.MustCompile(`^[A-Za-z0-9]{20}$`)

type env struct {
	r     *realm.Realm
	admin *sql.DB
	h     ops.Handler
	logs  *bytes.Buffer
}

func newEnv(t *testing.T) *env {
	t.Helper()
	r := realm.Get(t)
	admin, err := Open(Config{AdminUser: r.MySQLAdminUser, AdminPassword: r.MySQLAdminPassword, Host: "127.0.0.1", Port: r.MySQLPort})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	logs := &bytes.Buffer{}
	h := mustNew(t, Deps{
		DB:        admin,
		Dir:       authztest.RealmDirectory(t, r),
		AdminUser: r.MySQLAdminUser,
		Realm:     r.Name,
		Log:       slog.New(slog.NewTextHandler(logs, nil)),
	})
	return &env{r: r, admin: admin, h: h, logs: logs}
}

// login opens a connection as user over TCP 127.0.0.1 or the socket.
func (e *env) login(t *testing.T, network, user, pw, db string) *sql.DB {
	t.Helper()
	mc := mysql.NewConfig()
	mc.User, mc.Passwd, mc.DBName, mc.Net = user, pw, db, network
	mc.Addr = fmt.Sprintf("127.0.0.1:%d", e.r.MySQLPort)
	if network == "unix" {
		mc.Addr = e.r.MySQLSocket
	}
	c, err := mysql.NewConnector(mc)
	if err != nil {
		t.Fatal(err)
	}
	db2 := sql.OpenDB(c)
	t.Cleanup(func() { db2.Close() })
	return db2
}

func mysqlErrno(err error) uint16 {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return me.Number
	}
	return 0
}

// state is every account (with its password hash) and database: what a
// refusal must leave alone.
func (e *env) state(t *testing.T) string {
	t.Helper()
	var lines []string
	rows, err := e.admin.Query("SELECT CONCAT(User, '@', Host, ' ', authentication_string) FROM mysql.user ORDER BY 1")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var s string
		rows.Scan(&s)
		lines = append(lines, s)
	}
	rows.Close()
	rows, err = e.admin.Query("SELECT SCHEMA_NAME FROM information_schema.SCHEMATA ORDER BY 1")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var s string
		rows.Scan(&s)
		lines = append(lines, "db "+s)
	}
	rows.Close()
	rows, err = e.admin.Query("SELECT CONCAT(GRANTEE, ' ', TABLE_SCHEMA, ' ', PRIVILEGE_TYPE) FROM information_schema.SCHEMA_PRIVILEGES ORDER BY 1")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var s string
		rows.Scan(&s)
		lines = append(lines, "grant "+s)
	}
	rows.Close()
	return strings.Join(lines, "\n")
}

// useDatabase proves the account owns its database: it makes a table,
// writes and reads a row.
func useDatabase(t *testing.T, db *sql.DB, table string) {
	t.Helper()
	if _, err := db.Exec("CREATE TABLE IF NOT EXISTS " + table + " (id INT PRIMARY KEY, v VARCHAR(20))"); err != nil {
		t.Fatalf("create table: %v", err)
	}
	if _, err := db.Exec("REPLACE INTO "+table+" VALUES (1, ?)", "hello"); err != nil {
		t.Fatalf("insert: %v", err)
	}
	var v string
	if err := db.QueryRow("SELECT v FROM " + table + " WHERE id = 1").Scan(&v); err != nil || v != "hello" {
		t.Fatalf("select: %q %v", v, err)
	}
}

func TestCreateSelfAndLogin(t *testing.T) {
	e := newEnv(t)
	name := authztest.UniqueName("m")
	got, pw := call(t, e.h, name, proto.String(name))
	wantMsgs(t, got,
		msg{0, "mysql create db=" + name + " by " + name},
		msg{0, "user " + name + " creating database for self"},
		msg{0, "successfully created database " + name})
	if pw == nil || !passwordShape.MatchString(*pw) {
		t.Fatalf("password %v does not look like 20 alphanumerics", pw)
	}
	for _, network := range []string{"tcp", "unix"} {
		t.Run(network, func(t *testing.T) {
			db := e.login(t, network, name, *pw, name)
			var user string
			if err := db.QueryRow("SELECT CURRENT_USER()").Scan(&user); err != nil {
				t.Fatalf("login over %s: %v", network, err)
			}
			if user != name+"@localhost" {
				t.Errorf("CURRENT_USER() = %s", user)
			}
			useDatabase(t, db, "t_"+network)
			// Nothing beyond its own database.
			_, err := db.Exec("USE mysql")
			if n := mysqlErrno(err); n != 1044 {
				t.Errorf("USE mysql: %v (errno %d), want access denied 1044", err, n)
			}
			_, err = db.Exec("CREATE DATABASE " + quoteIdent(name+"-other"))
			if n := mysqlErrno(err); n != 1044 {
				t.Errorf("CREATE DATABASE elsewhere: %v, want 1044", err)
			}
		})
	}
	// Neither the password nor its hash is logged.
	if strings.Contains(e.logs.String(), *pw) || strings.Contains(e.logs.String(), nativeHash(*pw)) ||
		strings.Contains(e.logs.String(), e.r.MySQLAdminPassword) {
		t.Errorf("a secret was logged:\n%s", e.logs)
	}
	if !strings.Contains(e.logs.String(), "outcome=ok") {
		t.Errorf("no log record of the op:\n%s", e.logs)
	}
}

func TestRerunResetsPassword(t *testing.T) {
	e := newEnv(t)
	name := authztest.UniqueName("m")
	_, pw1 := call(t, e.h, name, proto.String(name))
	if pw1 == nil {
		t.Fatal("no password")
	}
	useDatabase(t, e.login(t, "tcp", name, *pw1, name), "keep")

	got, pw2 := call(t, e.h, name, proto.String(name))
	wantMsgs(t, got,
		msg{0, "mysql create db=" + name + " by " + name},
		msg{0, "user " + name + " creating database for self"},
		msg{0, "successfully created database " + name})
	if pw2 == nil || *pw2 == *pw1 {
		t.Fatalf("re-run did not give a new password: %v", pw2)
	}
	err := e.login(t, "tcp", name, *pw1, name).Ping()
	if n := mysqlErrno(err); n != 1045 {
		t.Errorf("old password: %v, want access denied 1045", err)
	}
	db := e.login(t, "unix", name, *pw2, name)
	var v string
	if err := db.QueryRow("SELECT v FROM keep WHERE id = 1").Scan(&v); err != nil || v != "hello" {
		t.Errorf("data after reset: %q %v", v, err)
	}
}

func TestSyscomAndClubs(t *testing.T) {
	e := newEnv(t)
	member := authztest.UniqueName("mem")
	club := authztest.UniqueName("club")
	authztest.AddAccount(t, e.r, authztest.Account{Name: member, UID: authztest.UniqueUID()})
	authztest.AddAccount(t, e.r, authztest.Account{Name: club, UID: authztest.UniqueUID(), Club: true, Members: []string{"regular1"}})

	got, pw := call(t, e.h, "syscom1", proto.String(member))
	wantMsgs(t, got,
		msg{0, "mysql create db=" + member + " by syscom1"},
		msg{0, "user syscom1 is on systems committee"},
		msg{0, "successfully created database " + member})
	if pw == nil {
		t.Fatal("no password")
	}
	useDatabase(t, e.login(t, "tcp", member, *pw, member), "t")

	// office1 is not in the club: refused, nothing made.
	before := e.state(t)
	got, pw = call(t, e.h, "office1", proto.String(club))
	wantMsgs(t, got,
		msg{0, "mysql create db=" + club + " by office1"},
		msg{int32(syscall.EPERM), "denied, user office1 is not in club group " + club})
	if pw != nil {
		t.Error("a refusal carries a password")
	}
	if after := e.state(t); after != before {
		t.Errorf("refusal changed the server:\n%s\n---\n%s", before, after)
	}

	got, pw = call(t, e.h, "regular1", proto.String(club))
	wantMsgs(t, got,
		msg{0, "mysql create db=" + club + " by regular1"},
		msg{0, "user regular1 is in club group " + club},
		msg{0, "successfully created database " + club})
	if pw == nil {
		t.Fatal("no password")
	}
	useDatabase(t, e.login(t, "unix", club, *pw, club), "t")
}

func TestRefusalsChangeNothing(t *testing.T) {
	e := newEnv(t)
	long := strings.Repeat("a", MaxNameLength+1)
	cases := []struct {
		name, caller string
		target       *string
		want         []msg
	}{
		{"other member", "regular1", proto.String("office1"), []msg{
			{0, "mysql create db=office1 by regular1"},
			{int32(syscall.EPERM), "denied, you may not create databases for other members"}}},
		{"office is not enough", "office1", proto.String("regular1"), []msg{
			{0, "mysql create db=regular1 by office1"},
			{int32(syscall.EPERM), "denied, you may not create databases for other members"}}},
		{"semicolon", "a;b", proto.String("a;b"), []msg{
			{0, "mysql create db=a;b by a;b"},
			{0, "user a;b creating database for self"},
			{int32(syscall.EINVAL), "invalid characters in username a;b"}}},
		{"backtick", "syscom1", proto.String("x`; DROP DATABASE mysql; --"), []msg{
			{0, "mysql create db=x`; DROP DATABASE mysql; -- by syscom1"},
			{0, "user syscom1 is on systems committee"},
			{int32(syscall.EINVAL), "invalid characters in username x`; DROP DATABASE mysql; --"}}},
		{"quote", "syscom1", proto.String("x'y"), []msg{
			{0, "mysql create db=x'y by syscom1"},
			{0, "user syscom1 is on systems committee"},
			{int32(syscall.EINVAL), "invalid characters in username x'y"}}},
		{"underscore wildcard", "syscom1", proto.String("a_b"), []msg{
			{0, "mysql create db=a_b by syscom1"},
			{0, "user syscom1 is on systems committee"},
			{int32(syscall.EINVAL), "invalid characters in username a_b"}}},
		{"trailing newline", "syscom1", proto.String("regular1\n"), []msg{
			// The name is echoed escaped, never with its line break.
			{0, `mysql create db=regular1\n by syscom1`},
			{0, "user syscom1 is on systems committee"},
			{int32(syscall.EINVAL), `invalid characters in username regular1\n`}}},
		{"too long", long, proto.String(long), []msg{
			{0, "mysql create db=" + long + " by " + long},
			{0, "user " + long + " creating database for self"},
			{int32(syscall.EINVAL), "invalid characters in username " + long}}},
		{"reserved root", "syscom1", proto.String("root"), []msg{
			{0, "mysql create db=root by syscom1"},
			{0, "user syscom1 is on systems committee"},
			{int32(syscall.EINVAL), "username root is reserved"}}},
		{"reserved mysql", "mysql", proto.String("mysql"), []msg{
			{0, "mysql create db=mysql by mysql"},
			{0, "user mysql creating database for self"},
			{int32(syscall.EINVAL), "username mysql is reserved"}}},
		{"missing username", "regular1", nil, []msg{
			{int32(syscall.EINVAL), "missing required argument: username"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := e.state(t)
			got, pw := call(t, e.h, tc.caller, tc.target)
			wantMsgs(t, got, tc.want...)
			if pw != nil {
				t.Error("a refusal carries a password")
			}
			if after := e.state(t); after != before {
				t.Errorf("refusal changed the server:\n%s\n---\n%s", before, after)
			}
		})
	}
}

// An existing administrator account is never reset, even for syscom.
func TestPrivilegedAccountNotReset(t *testing.T) {
	e := newEnv(t)
	name := authztest.UniqueName("adm")
	const oldPW = "old-admin-pw"
	if _, err := e.admin.Exec("CREATE USER " + quoteIdent(name) + "@`localhost` IDENTIFIED BY '" + oldPW + "'"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.admin.Exec("GRANT RELOAD ON *.* TO " + quoteIdent(name) + "@`localhost`"); err != nil {
		t.Fatal(err)
	}
	before := e.state(t)
	got, pw := call(t, e.h, "syscom1", proto.String(name))
	wantMsgs(t, got,
		msg{0, "mysql create db=" + name + " by syscom1"},
		msg{0, "user syscom1 is on systems committee"},
		msg{int32(syscall.EPERM), "denied, " + name + " is a privileged MariaDB account"})
	if pw != nil {
		t.Error("refusal carries a password")
	}
	if after := e.state(t); after != before {
		t.Errorf("changed:\n%s\n---\n%s", before, after)
	}
	if err := e.login(t, "tcp", name, oldPW, "").Ping(); err != nil {
		t.Errorf("old admin password no longer works: %v", err)
	}
}

// A server that cannot be reached gives a status-1 reply (the legacy
// "exception occured"), no password, and no secret.
func TestServerDown(t *testing.T) {
	db, err := Open(Config{AdminUser: "ceod_admin", AdminPassword: "sekrit-admin", Socket: "/nonexistent/mysqld.sock"})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	h := mustNew(t, Deps{DB: db, Dir: &authztest.Fake{}})
	got, pw := call(t, h, "alice", proto.String("alice"))
	wantMsgs(t, got,
		msg{0, "mysql create db=alice by alice"},
		msg{0, "user alice creating database for self"},
		msg{1, "exception occured creating database: connecting: server unavailable"})
	if pw != nil {
		t.Error("failure carries a password")
	}
}

func TestDirectoryOutage(t *testing.T) {
	db, err := Open(Config{AdminUser: "x", Socket: "/nonexistent"})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	h := mustNew(t, Deps{DB: db, Dir: &authztest.Fake{Err: errors.New("ldap down")}})
	got, pw := call(t, h, "syscom1", proto.String("alice"))
	wantMsgs(t, got,
		msg{0, "mysql create db=alice by syscom1"},
		msg{ops.ELDAP, "unable to check authorization for syscom1: directory error"})
	if pw != nil {
		t.Error("failure carries a password")
	}
}

func TestMalformedRequest(t *testing.T) {
	db, _ := Open(Config{AdminUser: "x"})
	defer db.Close()
	h := mustNew(t, Deps{DB: db, Dir: &authztest.Fake{}})
	if _, err := h.Serve(t.Context(), ops.Request{Caller: ops.Caller{User: "a"}, Body: []byte{0x0a, 0x05, 'a'}}); err == nil {
		t.Error("truncated request accepted")
	}
}

func TestForeignRealmRefused(t *testing.T) {
	db, _ := Open(Config{AdminUser: "x", Socket: "/nonexistent"})
	defer db.Close()
	dir := &authztest.Fake{}
	dir.AddToGroup("syscom", "syscom1")
	h := mustNew(t, Deps{DB: db, Dir: dir, Realm: "CSCLUB.INTERNAL"})
	for _, p := range []string{"alice@EVIL.ORG", "syscom1@EVIL.ORG"} {
		user, _, _ := strings.Cut(p, "@")
		body, _ := proto.Marshal(&ceopb.AddMySQLUser{Username: proto.String("alice")})
		out, err := h.Serve(t.Context(), ops.Request{Caller: ops.Caller{User: user, Principal: p}, Body: body})
		if err != nil {
			t.Fatal(err)
		}
		var resp ceopb.AddMySQLUserResponse
		proto.Unmarshal(out.Body, &resp)
		ms := resp.GetMessages()
		if len(ms) != 2 || ms[1].GetStatus() != int32(syscall.EPERM) || resp.Password != nil {
			t.Errorf("%s: reply %v, want a refusal", p, ms)
		}
	}
}

// A failure half-way leaves nothing of this run behind: an admin that may
// create databases and users but not grant privileges fails at GRANT.
func TestFailureRollsBack(t *testing.T) {
	e := newEnv(t)
	lim := authztest.UniqueName("lim")
	for _, host := range []string{"localhost", "127.0.0.1"} {
		for _, q := range []string{
			"CREATE USER " + quoteIdent(lim) + "@" + quoteIdent(host) + " IDENTIFIED BY 'limited-pw'",
			"GRANT CREATE, DROP, CREATE USER ON *.* TO " + quoteIdent(lim) + "@" + quoteIdent(host),
			"GRANT SELECT ON mysql.user TO " + quoteIdent(lim) + "@" + quoteIdent(host),
		} {
			if _, err := e.admin.Exec(q); err != nil {
				t.Fatal(err)
			}
		}
	}
	db, err := Open(Config{AdminUser: lim, AdminPassword: "limited-pw", Host: "127.0.0.1", Port: e.r.MySQLPort})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	h := mustNew(t, Deps{DB: db, Dir: &authztest.Fake{}})
	name := authztest.UniqueName("m")
	before := e.state(t)
	got, pw := call(t, h, name, proto.String(name))
	if len(got) != 3 || got[2].status != 1 || !strings.HasPrefix(got[2].message, "exception occured creating database: granting privileges: (1044,") {
		t.Errorf("reply %v, want a status-1 failure granting privileges", got)
	}
	if pw != nil {
		t.Error("failure carries a password")
	}
	if after := e.state(t); after != before {
		t.Errorf("failure left changes:\n%s\n---\n%s", before, after)
	}
}

// mustNew is New for a test.
func mustNew(t testing.TB, d Deps) ops.Handler {
	t.Helper()
	h, err := New(d)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestNewRefusesMissingDeps(t *testing.T) {
	if _, err := New(Deps{}); err == nil {
		t.Error("New without dependencies: no error")
	}
}
