package database

import (
	"bytes"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/go-sql-driver/mysql"
	"google.golang.org/protobuf/proto"

	"github.com/csclub/ceo/internal/opstest"
	"github.com/csclub/ceo/internal/realm"
	"github.com/csclub/ceo/ops"
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

// engine is the environment as the tests of both engines drive it.
func (e *mariaEnv) engine(t *testing.T) *engineEnv {
	return &engineEnv{d: mysqlMsgs, id: 0x03, maxName: MariaDBMaxName, r: e.r, h: e.h, logs: e.logs,
		state: e.state,
		login: func(t *testing.T, user, pw, db string) error { return e.login(t, "tcp", user, pw, db).Ping() },
		// Over both the socket and TCP: the account is user@localhost.
		use: func(t *testing.T, user, pw string) {
			useMariaDB(t, e.login(t, "unix", user, pw, user), "keep")
			useMariaDB(t, e.login(t, "tcp", user, pw, user), "keep")
		},
		kept: func(t *testing.T, user, pw string) (v string, err error) {
			err = e.login(t, "unix", user, pw, user).QueryRow("SELECT v FROM keep WHERE id = 1").Scan(&v)
			return v, err
		},
		confined: e.confined,
		code: func(err error) string {
			var me *mysql.MySQLError
			if errors.As(err, &me) {
				return strconv.Itoa(int(me.Number))
			}
			return ""
		},
		badPassword: "1045", // access denied
		rerun:       "successfully created database ",
		secrets:     func(pw string) []string { return []string{pw, nativeHash(pw), e.r.MySQLAdminPassword} },
		limited:     e.limited,
		failure:     "exception occured creating database: granting privileges: (1044,",
		refusals: func(*testing.T) []refusalCase {
			return []refusalCase{
				invalidName("mysql", "semicolon", "a;b", "a;b"),
				invalidName("mysql", "backtick", "syscom1", "x`; DROP DATABASE mysql; --"),
				invalidName("mysql", "quote", "syscom1", "x'y"),
				invalidName("mysql", "underscore wildcard", "syscom1", "a_b"),
				reservedName("mysql", "syscom1", "root"),
				reservedName("mysql", "mysql", "mysql"),
			}
		},
		drop: func(t *testing.T, name string) {
			for _, q := range []string{"DROP DATABASE IF EXISTS " + quoteIdent(name), "DROP USER IF EXISTS " + quoteIdent(name) + "@`localhost`"} {
				if _, err := e.admin.Exec(q); err != nil {
					t.Fatal(err)
				}
			}
		},
	}
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

// confined: the account is user@localhost and reaches nothing beyond its
// own database.
func (e *mariaEnv) confined(t *testing.T, user, pw string) {
	t.Helper()
	db := e.login(t, "tcp", user, pw, user)
	var current string
	if err := db.QueryRow("SELECT CURRENT_USER()").Scan(&current); err != nil || current != user+"@localhost" {
		t.Errorf("CURRENT_USER() = %s, %v", current, err)
	}
	_, err := db.Exec("USE mysql")
	if n := mysqlErrno(err); n != 1044 {
		t.Errorf("USE mysql: %v (errno %d), want access denied 1044", err, n)
	}
	_, err = db.Exec("CREATE DATABASE " + quoteIdent(user+"-other"))
	if n := mysqlErrno(err); n != 1044 {
		t.Errorf("CREATE DATABASE elsewhere: %v, want 1044", err)
	}
}

// state is every account (with its password hash) and database: what a
// refusal must leave alone.
func (e *mariaEnv) state(t *testing.T) string {
	t.Helper()
	var lines []string
	for _, q := range []string{
		"SELECT CONCAT(User, '@', Host, ' ', authentication_string) FROM mysql.user ORDER BY 1",
		"SELECT CONCAT('db ', SCHEMA_NAME) FROM information_schema.SCHEMATA ORDER BY 1",
		"SELECT CONCAT('grant ', GRANTEE, ' ', TABLE_SCHEMA, ' ', PRIVILEGE_TYPE) FROM information_schema.SCHEMA_PRIVILEGES ORDER BY 1",
	} {
		rows, err := e.admin.Query(q)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var s string
			rows.Scan(&s)
			lines = append(lines, s)
		}
		rows.Close()
	}
	return strings.Join(lines, "\n")
}

// limited is the engine on an admin account that may create databases
// and users but not grant: the request fails at its last step.
func (e *mariaEnv) limited(t *testing.T) Engine {
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
	t.Cleanup(func() { db.Close() })
	return &MariaDB{DB: db}
}

// useMariaDB proves the account owns its database: it makes a table,
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
	e.engine(t).refused(t, e.h, "syscom1", proto.String(name),
		msg{0, "mysql create db=" + name + " by syscom1"},
		msg{0, bySyscom},
		msg{int32(syscall.EPERM), "denied, " + name + " is a privileged MariaDB account"})
	if err := e.login(t, "tcp", name, oldPW, "").Ping(); err != nil {
		t.Errorf("old admin password no longer works: %v", err)
	}
}
