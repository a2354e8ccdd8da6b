package database

import (
	"bytes"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"syscall"
	"testing"

	"github.com/go-sql-driver/mysql"
	"google.golang.org/protobuf/proto"

	"github.com/csclub/ceo/internal/opstest"
	"github.com/csclub/ceo/internal/realm"
	"github.com/csclub/ceo/ops"
	"github.com/csclub/ceo/ops/authz"
)

type mariaEnv struct {
	r     *realm.Realm
	admin *sql.DB
	h     ops.Handler
	logs  *bytes.Buffer
}

func newMariaEnv(t *testing.T) *mariaEnv {
	t.Helper()
	r := realm.Get(t)
	admin, err := OpenMariaDB(MariaDBConfig{AdminUser: r.MySQLAdminUser, AdminPassword: r.MySQLAdminPassword, Host: "127.0.0.1", Port: r.MySQLPort})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	logs := &bytes.Buffer{}
	h := mustNew(t, Deps{
		Dir: opstest.RealmDirectory(t, r),
		Log: slog.New(slog.NewTextHandler(logs, nil)),
	}, &MariaDB{DB: admin, AdminUser: r.MySQLAdminUser})
	return &mariaEnv{r: r, admin: admin, h: h, logs: logs}
}

// login opens a connection as user over TCP 127.0.0.1 or the socket.
func (e *mariaEnv) login(t *testing.T, network, user, pw, db string) *sql.DB {
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
func (e *mariaEnv) state(t *testing.T) string {
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
func useMariaDB(t *testing.T, db *sql.DB, table string) {
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

func TestMariaDBCreateSelfAndLogin(t *testing.T) {
	e := newMariaEnv(t)
	name := account(t, e.r, "m")
	got, pw := call(t, mysqlMsgs, e.h, name, proto.String(name))
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
			useMariaDB(t, db, "t_"+network)
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

func TestMariaDBRerunResetsPassword(t *testing.T) {
	e := newMariaEnv(t)
	name := account(t, e.r, "m")
	_, pw1 := call(t, mysqlMsgs, e.h, name, proto.String(name))
	if pw1 == nil {
		t.Fatal("no password")
	}
	useMariaDB(t, e.login(t, "tcp", name, *pw1, name), "keep")

	got, pw2 := call(t, mysqlMsgs, e.h, name, proto.String(name))
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

func TestMariaDBSyscomAndClubs(t *testing.T) {
	e := newMariaEnv(t)
	member := opstest.UniqueName("mem")
	club := opstest.UniqueName("club")
	opstest.AddAccount(t, e.r, opstest.Account{Name: member, UID: opstest.UniqueUID()})
	opstest.AddAccount(t, e.r, opstest.Account{Name: club, UID: opstest.UniqueUID(), Club: true, Members: []string{"regular1"}})

	got, pw := call(t, mysqlMsgs, e.h, "syscom1", proto.String(member))
	wantMsgs(t, got,
		msg{0, "mysql create db=" + member + " by syscom1"},
		msg{0, "user syscom1 is on systems committee"},
		msg{0, "successfully created database " + member})
	if pw == nil {
		t.Fatal("no password")
	}
	useMariaDB(t, e.login(t, "tcp", member, *pw, member), "t")

	// office1 is not in the club: refused, nothing made.
	before := e.state(t)
	got, pw = call(t, mysqlMsgs, e.h, "office1", proto.String(club))
	wantMsgs(t, got,
		msg{0, "mysql create db=" + club + " by office1"},
		msg{int32(syscall.EPERM), "denied, user office1 is not in club group " + club})
	if pw != nil {
		t.Error("a refusal carries a password")
	}
	if after := e.state(t); after != before {
		t.Errorf("refusal changed the server:\n%s\n---\n%s", before, after)
	}

	got, pw = call(t, mysqlMsgs, e.h, "regular1", proto.String(club))
	wantMsgs(t, got,
		msg{0, "mysql create db=" + club + " by regular1"},
		msg{0, "user regular1 is in club group " + club},
		msg{0, "successfully created database " + club})
	if pw == nil {
		t.Fatal("no password")
	}
	useMariaDB(t, e.login(t, "unix", club, *pw, club), "t")
}

func TestMariaDBRefusalsChangeNothing(t *testing.T) {
	e := newMariaEnv(t)
	cases := append(commonRefusals("mysql", MariaDBMaxName), []refusalCase{
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
		{"reserved root", "syscom1", proto.String("root"), []msg{
			{0, "mysql create db=root by syscom1"},
			{0, "user syscom1 is on systems committee"},
			{int32(syscall.EINVAL), "username root is reserved"}}},
		{"reserved mysql", "mysql", proto.String("mysql"), []msg{
			{0, "mysql create db=mysql by mysql"},
			{0, "user mysql creating database for self"},
			{int32(syscall.EINVAL), "username mysql is reserved"}}},
	}...)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := e.state(t)
			got, pw := call(t, mysqlMsgs, e.h, tc.caller, tc.target)
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
func TestMariaDBPrivilegedAccountNotReset(t *testing.T) {
	e := newMariaEnv(t)
	name := account(t, e.r, "adm")
	const oldPW = "old-admin-pw"
	if _, err := e.admin.Exec("CREATE USER " + quoteIdent(name) + "@`localhost` IDENTIFIED BY '" + oldPW + "'"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.admin.Exec("GRANT RELOAD ON *.* TO " + quoteIdent(name) + "@`localhost`"); err != nil {
		t.Fatal(err)
	}
	before := e.state(t)
	got, pw := call(t, mysqlMsgs, e.h, "syscom1", proto.String(name))
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

func TestMariaDBFailureRollsBack(t *testing.T) {
	e := newMariaEnv(t)
	lim := opstest.UniqueName("lim")
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
	db, err := OpenMariaDB(MariaDBConfig{AdminUser: lim, AdminPassword: "limited-pw", Host: "127.0.0.1", Port: e.r.MySQLPort})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	name := opstest.UniqueName("m")
	h := mustNew(t, Deps{Dir: (&opstest.Fake{}).AddUser(authz.User{Name: name})}, &MariaDB{DB: db})
	before := e.state(t)
	got, pw := call(t, mysqlMsgs, h, name, proto.String(name))
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
