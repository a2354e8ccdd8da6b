package database

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/protobuf/proto"

	"github.com/csclub/ceo/internal/opstest"
	"github.com/csclub/ceo/internal/realm"
	"github.com/csclub/ceo/ops"
)

type pgEnv struct {
	r    *realm.Realm
	pool *pgxpool.Pool
	logs *bytes.Buffer
}

// waitPG waits until the realm's server accepts logins: the realm
// reports it up once its port is open, which can be before the end of
// its startup ("the database system is starting up", 57P03).
func waitPG(t *testing.T, r *realm.Realm) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		c, err := pgx.Connect(t.Context(), r.PGURL(""))
		if err == nil {
			c.Close(t.Context())
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("postgres not ready: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func newPGEnv(t *testing.T) *pgEnv {
	t.Helper()
	r := realm.Get(t)
	waitPG(t, r)
	pool, err := OpenPostgreSQL(t.Context(), r.PGURL(""))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return &pgEnv{r: r, pool: pool, logs: &bytes.Buffer{}}
}

func (e *pgEnv) handler(t *testing.T, lock ...string) ops.Handler {
	return mustNew(t, Deps{
		Dir: opstest.RealmDirectory(t, e.r),
		Log: slog.New(slog.NewTextHandler(e.logs, nil)),
	}, &PostgreSQL{Pool: e.pool, AdminRole: e.r.PGAdminUser, LockDatabases: lock})
}

// connect logs in as role over TCP 127.0.0.1 (scram-sha-256 in the
// realm's pg_hba.conf).
func (e *pgEnv) connect(t *testing.T, role, pw, db string) (*pgx.Conn, error) {
	t.Helper()
	u := url.URL{Scheme: "postgres", User: url.UserPassword(role, pw),
		Host: fmt.Sprintf("127.0.0.1:%d", e.r.PGPort), Path: "/" + db, RawQuery: "sslmode=disable"}
	c, err := pgx.Connect(t.Context(), u.String())
	if err == nil {
		t.Cleanup(func() { c.Close(context.Background()) })
	}
	return c, err
}

func sqlstate(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// state is every role (with its verifier and attributes) and database
// (with owner and ACL): what a refusal must leave alone.
func (e *pgEnv) state(t *testing.T) string {
	t.Helper()
	rows, err := e.pool.Query(t.Context(), `
		SELECT format('role %s %s super=%s createdb=%s createrole=%s login=%s', rolname, coalesce(rolpassword, '-'),
		              rolsuper, rolcreatedb, rolcreaterole, rolcanlogin) FROM pg_authid
		UNION ALL
		SELECT format('db %s owner=%s acl=%s', datname, pg_get_userbyid(datdba), coalesce(datacl::text, '-')) FROM pg_database
		ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(lines, "\n")
}

func usePostgreSQL(t *testing.T, c *pgx.Conn) {
	t.Helper()
	ctx := t.Context()
	if _, err := c.Exec(ctx, "CREATE TABLE IF NOT EXISTS keep (id int PRIMARY KEY, v text)"); err != nil {
		t.Fatalf("create table: %v", err)
	}
	if _, err := c.Exec(ctx, "INSERT INTO keep VALUES (1, $1) ON CONFLICT (id) DO UPDATE SET v = EXCLUDED.v", "hello"); err != nil {
		t.Fatalf("insert: %v", err)
	}
	var v string
	if err := c.QueryRow(ctx, "SELECT v FROM keep WHERE id = 1").Scan(&v); err != nil || v != "hello" {
		t.Fatalf("select: %q %v", v, err)
	}
}

// engine is the environment as the tests of both engines drive it.
func (e *pgEnv) engine(t *testing.T) *engineEnv {
	return &engineEnv{d: pgMsgs, id: 0x05, maxName: PostgreSQLMaxName, r: e.r, h: e.handler(t, "postgres", "template1"), logs: e.logs,
		state: e.state,
		login: func(t *testing.T, user, pw, db string) error { _, err := e.connect(t, user, pw, db); return err },
		use: func(t *testing.T, user, pw string) {
			c, err := e.connect(t, user, pw, user)
			if err != nil {
				t.Fatalf("login with the returned password: %v", err)
			}
			usePostgreSQL(t, c)
		},
		kept: func(t *testing.T, user, pw string) (v string, err error) {
			c, err := e.connect(t, user, pw, user)
			if err == nil {
				err = c.QueryRow(t.Context(), "SELECT v FROM keep WHERE id = 1").Scan(&v)
			}
			return v, err
		},
		confined:    e.confined,
		code:        sqlstate,
		badPassword: "28P01", // invalid password
		rerun:       "successfully reset password for ",
		secrets:     func(pw string) []string { return []string{pw, e.r.PGAdminPassword, "SCRAM-SHA-256$"} },
		limited:     e.limited,
		failure:     "exception occured creating database: creating database: permission denied",
		refusals:    e.refusals,
		drop: func(t *testing.T, name string) {
			ident := pgx.Identifier{name}.Sanitize()
			for _, q := range []string{"DROP DATABASE IF EXISTS " + ident, "DROP ROLE IF EXISTS " + ident} {
				if _, err := e.pool.Exec(t.Context(), q); err != nil {
					t.Fatal(err)
				}
			}
		},
	}
}

// confined: the role is plain, reaches no other database, and may not
// make one.
func (e *pgEnv) confined(t *testing.T, user, pw string) {
	t.Helper()
	c, err := e.connect(t, user, pw, user)
	if err != nil {
		t.Fatal(err)
	}
	var current, db string
	if err := c.QueryRow(t.Context(), "SELECT current_user, current_database()").Scan(&current, &db); err != nil || current != user || db != user {
		t.Errorf("session %s@%s: %v", current, db, err)
	}
	var super, createdb, createrole, bypass bool
	err = e.pool.QueryRow(t.Context(), "SELECT rolsuper, rolcreatedb, rolcreaterole, rolbypassrls FROM pg_roles WHERE rolname = $1", user).
		Scan(&super, &createdb, &createrole, &bypass)
	if err != nil || super || createdb || createrole || bypass {
		t.Errorf("role attributes super=%v createdb=%v createrole=%v bypassrls=%v (%v)", super, createdb, createrole, bypass, err)
	}
	if _, err := c.Exec(t.Context(), "CREATE DATABASE "+pgx.Identifier{user + "-x"}.Sanitize()); sqlstate(err) != "42501" {
		t.Errorf("CREATE DATABASE as the new role: %v, want permission denied 42501", err)
	}
	for _, target := range []string{"postgres", "template1"} {
		_, err := e.connect(t, user, pw, target)
		if sqlstate(err) != "42501" || !strings.Contains(err.Error(), "permission denied for database") {
			t.Errorf("connect to %s as %s: %v, want permission denied (42501)", target, user, err)
		}
	}
}

// refusals are PostgreSQL's own: quoting, its reserved names, roles with
// privileges, a database of another role.
func (e *pgEnv) refusals(t *testing.T) []refusalCase {
	// A database that exists and belongs to someone else.
	taken := account(t, e.r, "taken")
	if _, err := e.pool.Exec(t.Context(), "CREATE DATABASE "+pgx.Identifier{taken}.Sanitize()); err != nil {
		t.Fatal(err)
	}
	// An administrator role.
	adm := account(t, e.r, "adm")
	if _, err := e.pool.Exec(t.Context(), "CREATE ROLE "+adm+" LOGIN CREATEDB PASSWORD 'old-admin-pw'"); err != nil {
		t.Fatal(err)
	}
	member := account(t, e.r, "memb")
	if _, err := e.pool.Exec(t.Context(), "CREATE ROLE "+member+" LOGIN IN ROLE pg_read_all_data PASSWORD 'old-member-pw'"); err != nil {
		t.Fatal(err)
	}
	privileged := "is a privileged PostgreSQL role"
	admRefused := refusedName("postgresql", "privileged role", "syscom1", adm, syscall.EPERM, "denied, "+adm+" "+privileged)
	admRefused.after = func(t *testing.T) {
		if _, err := e.connect(t, adm, "old-admin-pw", "postgres"); err != nil && sqlstate(err) != "42501" {
			t.Errorf("admin's old password no longer works: %v", err)
		}
	}
	return []refusalCase{
		invalidName("postgresql", "quote", "syscom1", `x"; DROP DATABASE postgres; --`),
		reservedName("postgresql", "syscom1", "postgres"),
		reservedName("postgresql", "template1", "template1"),
		admRefused,
		refusedName("postgresql", "role with memberships", member, member, syscall.EPERM, "denied, "+member+" "+privileged),
		refusedName("postgresql", "database of another role", taken, taken, syscall.EEXIST, "database "+taken+" exists and belongs to another role"),
	}
}

// limited is the engine on a CREATEROLE-only admin: the role is made,
// the database cannot be (a name the template copy rejects is hard to
// provoke).
func (e *pgEnv) limited(t *testing.T) Engine {
	limited := opstest.UniqueName("lim")
	for _, q := range []string{
		"CREATE ROLE " + limited + " LOGIN CREATEROLE PASSWORD 'limited-pw'",
		// Other tests lock "postgres" for PUBLIC.
		"GRANT CONNECT ON DATABASE postgres TO " + limited,
	} {
		if _, err := e.pool.Exec(t.Context(), q); err != nil {
			t.Fatal(err)
		}
	}
	u := url.URL{Scheme: "postgres", User: url.UserPassword(limited, "limited-pw"),
		Host: fmt.Sprintf("127.0.0.1:%d", e.r.PGPort), Path: "/postgres", RawQuery: "sslmode=disable"}
	pool, err := OpenPostgreSQL(t.Context(), u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return &PostgreSQL{Pool: pool}
}

// Without locking, on a cluster as initdb made it (other tests lock
// "postgres"), a new role can still reach "postgres", and the op says so
// in the log; with the deployment's lock, the roles reach only their own
// databases, not each other's.
func TestPostgreSQLIsolation(t *testing.T) {
	e := newPGEnv(t)
	for _, db := range []string{"postgres", "template1"} {
		if _, err := e.pool.Exec(t.Context(), "GRANT CONNECT ON DATABASE "+db+" TO PUBLIC"); err != nil {
			t.Fatal(err)
		}
	}
	other := account(t, e.r, "p")
	_, otherPW := call(t, pgMsgs, e.handler(t), other, proto.String(other))
	if otherPW == nil {
		t.Fatal("no password")
	}
	if !strings.Contains(e.logs.String(), "database=postgres") {
		t.Errorf("no warning about the reachable postgres database:\n%s", e.logs)
	}

	name := account(t, e.r, "p")
	_, pw := call(t, pgMsgs, e.handler(t, "postgres", "template1"), name, proto.String(name))
	if pw == nil {
		t.Fatal("no password")
	}
	e.confined(t, name, *pw)
	if _, err := e.connect(t, name, *pw, other); sqlstate(err) != "42501" {
		t.Errorf("connect to %s as %s: %v, want permission denied (42501)", other, name, err)
	}
	if _, err := e.connect(t, other, *otherPW, name); sqlstate(err) != "42501" {
		t.Errorf("other member connecting to %s: %v, want 42501", name, err)
	}
	if strings.Contains(e.logs.String(), *otherPW) {
		t.Errorf("a password was logged:\n%s", e.logs)
	}
}

func TestPostgreSQLOpenHidesPassword(t *testing.T) {
	_, err := OpenPostgreSQL(t.Context(), "postgres://ceod:sekrit-admin@127.0.0.1:notaport/postgres")
	if err == nil || strings.Contains(err.Error(), "sekrit") {
		t.Errorf("Open error %v: want an error without the password", err)
	}
}
