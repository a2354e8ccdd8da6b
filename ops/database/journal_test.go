package database

import (
	"log/slog"
	"path/filepath"
	"syscall"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/csclub/ceo/internal/opstest"
	"github.com/csclub/ceo/ops/config"
	"github.com/csclub/ceo/ops/journal"
)

// crashedRecord writes the journal record a ceod killed right after
// creating op's objects for name would have left.
func crashedRecord(t *testing.T, j *journal.Journal, op, name string, steps ...string) {
	t.Helper()
	r := &journal.Record{Op: op, Caller: name, Targets: []string{op + ":" + name}}
	if err := j.Begin(r); err != nil {
		t.Fatal(err)
	}
	for _, s := range steps {
		if err := j.Mark(r, s, journal.Begun, map[string]string{"name": name}); err != nil {
			t.Fatal(err)
		}
	}
	j.Release(r.ID)
}

func openJournal(t *testing.T) *journal.Journal {
	t.Helper()
	j, err := journal.Open(filepath.Join(t.TempDir(), "journal.db"), journal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	return j
}

// TestMariaDBRecovery: the database and user a crashed request made are
// dropped by recovery, and the same request then succeeds.
func TestMariaDBRecovery(t *testing.T) {
	e := newMariaEnv(t)
	j := openJournal(t)
	rc := &journal.Recoverer{J: j}
	h := mustNew(t, Deps{Dir: opstest.RealmDirectory(t, e.r), Journal: j, Recoverer: rc,
		Log: slog.New(slog.NewTextHandler(e.logs, nil))}, &MariaDB{DB: e.admin, AdminUser: e.r.MySQLAdminUser})
	name := account(t, e.r, "j")
	if _, err := e.admin.Exec("CREATE DATABASE " + quoteIdent(name)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.admin.Exec("CREATE USER " + quoteIdent(name) + "@'localhost'"); err != nil {
		t.Fatal(err)
	}
	crashedRecord(t, j, "mysql", name, stepDatabase, stepAccount)
	left, err := rc.Pass(t.Context())
	if err != nil || left != 0 {
		t.Fatalf("recovery: left %d, %v", left, err)
	}
	var n int
	e.admin.QueryRow("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?", name).Scan(&n)
	var u int
	e.admin.QueryRow("SELECT COUNT(*) FROM mysql.user WHERE User = ?", name).Scan(&u)
	if n != 0 || u != 0 {
		t.Fatalf("after recovery: %d databases, %d users named %s", n, u, name)
	}
	_, pw := call(t, mysqlMsgs, h, name, proto.String(name))
	requireCreated(t, pw, j, e.logs.String())
}

// requireCreated checks that a request succeeded and left no record.
func requireCreated(t *testing.T, pw *string, j *journal.Journal, logs string) {
	t.Helper()
	if pw == nil {
		t.Fatalf("the request after a crash failed:\n%s", logs)
	}
	if recs, _ := j.Unfinished(true); len(recs) != 0 {
		t.Fatalf("journal keeps %d records after a success", len(recs))
	}
}

// TestPostgreSQLRecovery: the same for the role and database of the
// postgresql op; a new request for the name settles the old one itself.
func TestPostgreSQLRecovery(t *testing.T) {
	e := newPGEnv(t)
	j := openJournal(t)
	h := mustNew(t, Deps{Dir: opstest.RealmDirectory(t, e.r), Journal: j,
		Log: slog.New(slog.NewTextHandler(e.logs, nil))}, &PostgreSQL{Pool: e.pool, AdminRole: e.r.PGAdminUser})
	name := account(t, e.r, "j")
	if _, err := e.pool.Exec(t.Context(), "CREATE ROLE "+name+" LOGIN"); err != nil {
		t.Fatal(err)
	}
	crashedRecord(t, j, "postgresql", name, stepAccount)
	_, pw := call(t, pgMsgs, h, name, proto.String(name))
	requireCreated(t, pw, j, e.logs.String())
}

// TestReservedServiceNames: the database ops refuse the service names
// and reserved_names, and create nothing.
func TestReservedServiceNames(t *testing.T) {
	e := newMariaEnv(t)
	acc := &config.Accounts{ReservedNames: []string{"postmaster"}}
	h := mustNew(t, Deps{Dir: (&opstest.Fake{}).AddToGroup("syscom", "syscom1"), Reserved: acc.Reserved},
		&MariaDB{DB: e.admin, AdminUser: e.r.MySQLAdminUser})
	before := e.state(t)
	for _, name := range append(config.BuiltinReservedNames, "postmaster") {
		got, pw := call(t, mysqlMsgs, h, "syscom1", proto.String(name))
		last := got[len(got)-1]
		if pw != nil || last.status != int32(syscall.EINVAL) {
			t.Errorf("%s: %v", name, got)
		}
	}
	if after := e.state(t); after != before {
		t.Errorf("a refusal changed the server:\n%s\n---\n%s", before, after)
	}
}
