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
	"github.com/csclub/ceo/ops/authz"
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

func TestPostgreSQLCreateSelfLoginAndIsolation(t *testing.T) {
	e := newPGEnv(t)
	// First without locking, on a cluster as initdb made it (other tests
	// lock "postgres"): the role can still reach "postgres", and the op
	// says so in the log.
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

	// With the deployment's lock on the shared databases.
	h := e.handler(t, "postgres", "template1")
	name := account(t, e.r, "p")
	got, pw := call(t, pgMsgs, h, name, proto.String(name))
	wantMsgs(t, got,
		msg{0, "postgresql create db=" + name + " by " + name},
		msg{0, "user " + name + " creating database for self"},
		msg{0, "successfully created database " + name})
	if pw == nil || !passwordShape.MatchString(*pw) {
		t.Fatalf("password %v does not look like 20 alphanumerics", pw)
	}
	c, err := e.connect(t, name, *pw, name)
	if err != nil {
		t.Fatalf("login with the returned password: %v", err)
	}
	var user, db string
	if err := c.QueryRow(t.Context(), "SELECT current_user, current_database()").Scan(&user, &db); err != nil || user != name || db != name {
		t.Fatalf("session %s@%s: %v", user, db, err)
	}
	usePostgreSQL(t, c)

	// The role is plain.
	var super, createdb, createrole, bypass bool
	err = e.pool.QueryRow(t.Context(), "SELECT rolsuper, rolcreatedb, rolcreaterole, rolbypassrls FROM pg_roles WHERE rolname = $1", name).
		Scan(&super, &createdb, &createrole, &bypass)
	if err != nil || super || createdb || createrole || bypass {
		t.Errorf("role attributes super=%v createdb=%v createrole=%v bypassrls=%v (%v)", super, createdb, createrole, bypass, err)
	}
	if _, err := c.Exec(t.Context(), "CREATE DATABASE "+pgx.Identifier{name + "-x"}.Sanitize()); sqlstate(err) != "42501" {
		t.Errorf("CREATE DATABASE as the new role: %v, want permission denied 42501", err)
	}

	// It reaches no other database: not postgres, not another member's.
	for _, target := range []string{"postgres", other, "template1"} {
		_, err := e.connect(t, name, *pw, target)
		if sqlstate(err) != "42501" || !strings.Contains(err.Error(), "permission denied for database") {
			t.Errorf("connect to %s as %s: %v, want permission denied (42501)", target, name, err)
		}
	}
	// And nobody else reaches its database: not the other member.
	if _, err := e.connect(t, other, *otherPW, name); sqlstate(err) != "42501" {
		t.Errorf("other member connecting to %s: %v, want 42501", name, err)
	}

	if logs := e.logs.String(); strings.Contains(logs, *pw) || strings.Contains(logs, *otherPW) ||
		strings.Contains(logs, e.r.PGAdminPassword) || strings.Contains(logs, "SCRAM-SHA-256$") {
		t.Errorf("a secret was logged:\n%s", logs)
	}
}

func TestPostgreSQLRerunResetsPassword(t *testing.T) {
	e := newPGEnv(t)
	h := e.handler(t)
	name := account(t, e.r, "p")
	_, pw1 := call(t, pgMsgs, h, name, proto.String(name))
	if pw1 == nil {
		t.Fatal("no password")
	}
	c, err := e.connect(t, name, *pw1, name)
	if err != nil {
		t.Fatal(err)
	}
	usePostgreSQL(t, c)
	c.Close(t.Context())

	got, pw2 := call(t, pgMsgs, h, name, proto.String(name))
	wantMsgs(t, got,
		msg{0, "postgresql create db=" + name + " by " + name},
		msg{0, "user " + name + " creating database for self"},
		msg{0, "successfully reset password for " + name})
	if pw2 == nil || *pw2 == *pw1 {
		t.Fatalf("no new password: %v", pw2)
	}
	if _, err := e.connect(t, name, *pw1, name); sqlstate(err) != "28P01" {
		t.Errorf("old password: %v, want invalid password 28P01", err)
	}
	c, err = e.connect(t, name, *pw2, name)
	if err != nil {
		t.Fatalf("new password: %v", err)
	}
	var v string
	if err := c.QueryRow(t.Context(), "SELECT v FROM keep WHERE id = 1").Scan(&v); err != nil || v != "hello" {
		t.Errorf("data after reset: %q %v", v, err)
	}
}

func TestPostgreSQLSyscomAndClubs(t *testing.T) {
	e := newPGEnv(t)
	h := e.handler(t)
	member := opstest.UniqueName("mem")
	club := opstest.UniqueName("club")
	opstest.AddAccount(t, e.r, opstest.Account{Name: member, UID: opstest.UniqueUID()})
	opstest.AddAccount(t, e.r, opstest.Account{Name: club, UID: opstest.UniqueUID(), Club: true, Members: []string{"regular1"}})

	got, pw := call(t, pgMsgs, h, "syscom1", proto.String(member))
	wantMsgs(t, got,
		msg{0, "postgresql create db=" + member + " by syscom1"},
		msg{0, "user syscom1 is on systems committee"},
		msg{0, "successfully created database " + member})
	if pw == nil {
		t.Fatal("no password")
	}
	if _, err := e.connect(t, member, *pw, member); err != nil {
		t.Error(err)
	}

	before := e.state(t)
	got, pw = call(t, pgMsgs, h, "office1", proto.String(club))
	wantMsgs(t, got,
		msg{0, "postgresql create db=" + club + " by office1"},
		msg{int32(syscall.EPERM), "denied, user office1 is not in club group " + club})
	if pw != nil {
		t.Error("refusal carries a password")
	}
	if after := e.state(t); after != before {
		t.Errorf("refusal changed the server:\n%s\n---\n%s", before, after)
	}

	got, pw = call(t, pgMsgs, h, "regular1", proto.String(club))
	wantMsgs(t, got,
		msg{0, "postgresql create db=" + club + " by regular1"},
		msg{0, "user regular1 is in club group " + club},
		msg{0, "successfully created database " + club})
	if pw == nil {
		t.Fatal("no password")
	}
	if _, err := e.connect(t, club, *pw, club); err != nil {
		t.Error(err)
	}
}

func TestPostgreSQLRefusalsChangeNothing(t *testing.T) {
	e := newPGEnv(t)
	h := e.handler(t, "postgres")
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
	cases := append(commonRefusals("postgresql", PostgreSQLMaxName), []refusalCase{
		{"quote", "syscom1", proto.String(`x"; DROP DATABASE postgres; --`), []msg{
			{0, `postgresql create db=x"; DROP DATABASE postgres; -- by syscom1`},
			{0, "user syscom1 is on systems committee"},
			{int32(syscall.EINVAL), `invalid characters in username x"; DROP DATABASE postgres; --`}}},
		{"reserved postgres", "syscom1", proto.String("postgres"), []msg{
			{0, "postgresql create db=postgres by syscom1"},
			{0, "user syscom1 is on systems committee"},
			{int32(syscall.EINVAL), "username postgres is reserved"}}},
		{"reserved template1", "template1", proto.String("template1"), []msg{
			{0, "postgresql create db=template1 by template1"},
			{0, "user template1 creating database for self"},
			{int32(syscall.EINVAL), "username template1 is reserved"}}},
		{"privileged role", "syscom1", proto.String(adm), []msg{
			{0, "postgresql create db=" + adm + " by syscom1"},
			{0, "user syscom1 is on systems committee"},
			{int32(syscall.EPERM), "denied, " + adm + " is a privileged PostgreSQL role"}}},
		{"role with memberships", member, proto.String(member), []msg{
			{0, "postgresql create db=" + member + " by " + member},
			{0, "user " + member + " creating database for self"},
			{int32(syscall.EPERM), "denied, " + member + " is a privileged PostgreSQL role"}}},
		{"database of another role", taken, proto.String(taken), []msg{
			{0, "postgresql create db=" + taken + " by " + taken},
			{0, "user " + taken + " creating database for self"},
			{int32(syscall.EEXIST), "database " + taken + " exists and belongs to another role"}}},
	}...)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := e.state(t)
			got, pw := call(t, pgMsgs, h, tc.caller, tc.target)
			wantMsgs(t, got, tc.want...)
			if pw != nil {
				t.Error("refusal carries a password")
			}
			if after := e.state(t); after != before {
				t.Errorf("refusal changed the server:\n%s\n---\n%s", before, after)
			}
		})
	}
	if _, err := e.connect(t, adm, "old-admin-pw", "postgres"); err != nil && sqlstate(err) != "42501" {
		t.Errorf("admin's old password no longer works: %v", err)
	}
}

// A failure half-way leaves nothing behind: here the database cannot be
// created (a name the template copy rejects is hard to provoke, so the
// admin lacks the right: a CREATEROLE-only admin).
func TestPostgreSQLFailureRollsBack(t *testing.T) {
	e := newPGEnv(t)
	limited := opstest.UniqueName("lim")
	if _, err := e.pool.Exec(t.Context(), "CREATE ROLE "+limited+" LOGIN CREATEROLE PASSWORD 'limited-pw'"); err != nil {
		t.Fatal(err)
	}
	// Other tests lock "postgres" for PUBLIC.
	if _, err := e.pool.Exec(t.Context(), "GRANT CONNECT ON DATABASE postgres TO "+limited); err != nil {
		t.Fatal(err)
	}
	u := url.URL{Scheme: "postgres", User: url.UserPassword(limited, "limited-pw"),
		Host: fmt.Sprintf("127.0.0.1:%d", e.r.PGPort), Path: "/postgres", RawQuery: "sslmode=disable"}
	pool, err := OpenPostgreSQL(t.Context(), u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	name := opstest.UniqueName("p")
	h := mustNew(t, Deps{Dir: (&opstest.Fake{}).AddUser(authz.User{Name: name})}, &PostgreSQL{Pool: pool})
	before := e.state(t)
	got, pw := call(t, pgMsgs, h, name, proto.String(name))
	if len(got) != 3 || got[2].status != 1 || !strings.Contains(got[2].message, "creating database: permission denied") {
		t.Errorf("reply %v, want a status-1 failure creating the database", got)
	}
	if pw != nil {
		t.Error("failure carries a password")
	}
	if after := e.state(t); after != before {
		t.Errorf("failure left changes:\n%s\n---\n%s", before, after)
	}
}

func TestPostgreSQLOpenHidesPassword(t *testing.T) {
	_, err := OpenPostgreSQL(t.Context(), "postgres://ceod:sekrit-admin@127.0.0.1:notaport/postgres")
	if err == nil || strings.Contains(err.Error(), "sekrit") {
		t.Errorf("Open error %v: want an error without the password", err)
	}
}
