package database

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"syscall"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/csclub/ceo/ops"
	"github.com/csclub/ceo/wire/ceopb"
)

// PostgreSQLMaxName is PostgreSQL's identifier limit (NAMEDATALEN-1);
// longer names would be silently truncated by the server.
const PostgreSQLMaxName = 63

// postgreSQLReserved names are refused whoever asks: the server's own
// databases and roles, and role names PostgreSQL treats specially; so is
// every name starting with "pg_".
var postgreSQLReserved = []string{"postgres", "template0", "template1", "public", "none",
	"current_user", "session_user", "current_role", "pg_signal_backend"}

// OpenPostgreSQL returns a pool for the admin connection string
// (postgresql_admin_url). It does not connect. The admin needs to be a
// superuser, or have CREATEROLE and CREATEDB and be allowed to create
// databases owned by the new roles.
func OpenPostgreSQL(ctx context.Context, url string) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// pgx redacts passwords in its parse errors only on a best-effort
		// basis: say nothing about the string.
		return nil, errors.New("database: postgresql_admin_url cannot be parsed (check its syntax; not shown because it may hold a password)")
	}
	cfg.MaxConns = 2
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("database: %w", err)
	}
	return pool, nil
}

// PostgreSQL is the engine of the "postgresql" op.
type PostgreSQL struct {
	// Pool connects as the admin role (see OpenPostgreSQL). Required.
	Pool *pgxpool.Pool
	// AdminRole, if set, is refused as a target too.
	AdminRole string
	// LockDatabases are databases (such as "postgres" and "template1")
	// from which the op revokes CONNECT from PUBLIC before creating a
	// role, so that the new roles can reach no database but their own.
	// Empty means the cluster is left alone and the op logs a warning for
	// each other database the new role can connect to; the deployment
	// must then restrict them itself (pg_hba.conf "sameuser", or a
	// REVOKE by the DBA).
	LockDatabases []string
}

func (p *PostgreSQL) check() error {
	if p.Pool == nil {
		return errors.New("database: PostgreSQL.Pool is required")
	}
	return nil
}

func (p *PostgreSQL) rules() rules {
	return rules{op: "postgresql", maxName: PostgreSQLMaxName, reserved: postgreSQLReserved, prefix: "pg_", admin: p.AdminRole, account: "ROLE",
		secretShape: verifierRule}
}

func (p *PostgreSQL) handler(o *op) ops.Handler {
	return protoHandler[*ceopb.AddPostgreSQLUser](o, func(msgs []*ceopb.StatusMessage, pw *string) *ceopb.AddPostgreSQLUserResponse {
		return &ceopb.AddPostgreSQLUserResponse{Messages: msgs, Password: pw}
	})
}

// secret is the password's SCRAM-SHA-256 verifier with a fresh salt.
func (p *PostgreSQL) secret(pw string, rand io.Reader) (string, error) {
	return scramVerifier(pw, rand)
}

// apply makes the role and database. Identifiers go through
// pgx.Identifier.Sanitize; values that can be bound are bound. DDL takes
// no parameters, so the password is given as its SCRAM-SHA-256 verifier,
// computed here and checked against verifierRule (base64 and separators
// only) before it is put between single quotes: it cannot end the
// literal, and the plain password never reaches the server. PostgreSQL
// stores such a verifier as is. Other databases the role can reach are
// logged as warnings.
func (p *PostgreSQL) apply(ctx context.Context, log *slog.Logger, name, verifier string, st stepper) (reset bool, err error) {
	conn, err := p.Pool.Acquire(ctx)
	if err != nil {
		return false, &ops.StepError{Step: "connecting", Err: err}
	}
	defer conn.Release()
	ident := pgx.Identifier{name}.Sanitize()

	// The role, if any: an administrator is never reset.
	var roleExists, privileged bool
	err = conn.QueryRow(ctx, `SELECT true,
		       r.rolsuper OR r.rolcreaterole OR r.rolcreatedb OR r.rolreplication OR r.rolbypassrls
		       OR EXISTS (SELECT 1 FROM pg_auth_members m WHERE m.member = r.oid)
		  FROM pg_roles r WHERE r.rolname = $1`, name).Scan(&roleExists, &privileged)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return false, &ops.StepError{Step: "checking role", Err: err}
	}
	if privileged {
		return false, &refusal{syscall.EPERM, fmt.Sprintf("denied, %s is a privileged PostgreSQL role", name)}
	}
	// The database, if any, must already be the role's.
	var owner string
	dbExists := true
	err = conn.QueryRow(ctx, `SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = $1`, name).Scan(&owner)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		dbExists = false
	case err != nil:
		return false, &ops.StepError{Step: "checking database", Err: err}
	case owner != name:
		return false, &refusal{syscall.EEXIST, fmt.Sprintf("database %s exists and belongs to another role", name)}
	}

	for _, db := range p.LockDatabases {
		if _, err := conn.Exec(ctx, "REVOKE CONNECT ON DATABASE "+pgx.Identifier{db}.Sanitize()+" FROM PUBLIC"); err != nil {
			return false, &ops.StepError{Step: "locking database " + db, Err: err}
		}
	}

	// Undo what this run made if a later step fails.
	var createdRole, createdDB bool
	defer func() {
		if err == nil {
			return
		}
		cleanup := context.WithoutCancel(ctx)
		if createdDB {
			if _, e := conn.Exec(cleanup, drop(p, stepDatabase, name)); e != nil {
				log.Error("cleanup failed", "step", "drop database", "target", name, "err", e)
			}
		}
		if createdRole {
			if _, e := conn.Exec(cleanup, drop(p, stepAccount, name)); e != nil {
				log.Error("cleanup failed", "step", "drop role", "target", name, "err", e)
			}
		}
	}()

	const attrs = " WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS INHERIT PASSWORD '"
	if !roleExists {
		if err = st.begin(stepAccount); err != nil {
			return false, &ops.StepError{Step: "writing the journal", Err: err}
		}
		if _, err = conn.Exec(ctx, "CREATE ROLE "+ident+attrs+verifier+"'"); err != nil {
			return false, &ops.StepError{Step: "creating role", Err: redactPostgreSQL(err, verifier)}
		}
		st.done(stepAccount)
		createdRole = true
	} else {
		if _, err = conn.Exec(ctx, "ALTER ROLE "+ident+attrs+verifier+"'"); err != nil {
			return false, &ops.StepError{Step: "setting password", Err: redactPostgreSQL(err, verifier)}
		}
	}
	if !dbExists {
		if err = st.begin(stepDatabase); err != nil {
			return false, &ops.StepError{Step: "writing the journal", Err: err}
		}
		if _, err = conn.Exec(ctx, "CREATE DATABASE "+ident+" OWNER "+ident); err != nil {
			return false, &ops.StepError{Step: "creating database", Err: err}
		}
		st.done(stepDatabase)
		createdDB = true
	}
	// Only the owner (and superusers) may connect or make temporary
	// tables: PUBLIC's default CONNECT and TEMPORARY go.
	if _, err = conn.Exec(ctx, "REVOKE ALL ON DATABASE "+ident+" FROM PUBLIC"); err != nil {
		return false, &ops.StepError{Step: "revoking public access", Err: err}
	}

	// What else can the role reach? Only reported: failing here must not
	// undo a finished job.
	rows, qerr := conn.Query(ctx, `SELECT datname FROM pg_database
		WHERE datallowconn AND datname <> $1 AND has_database_privilege($1, oid, 'CONNECT')
		ORDER BY datname`, name)
	var reachable []string
	if qerr == nil {
		reachable, qerr = pgx.CollectRows(rows, pgx.RowTo[string])
	}
	if qerr != nil {
		log.Warn("checking the new role's access failed", "role", name, "err", qerr)
	}
	for _, db := range reachable {
		log.Warn("new role can connect to another database; revoke CONNECT from PUBLIC there or restrict pg_hba.conf",
			"role", name, "database", db)
	}
	return !createdDB, nil
}

func (p *PostgreSQL) ident(name string) string   { return pgx.Identifier{name}.Sanitize() }
func (p *PostgreSQL) account(name string) string { return p.ident(name) }

func (p *PostgreSQL) exec(ctx context.Context, stmt string) error {
	_, err := p.Pool.Exec(ctx, stmt)
	return err
}

// serverError is the server's message and SQLSTATE.
func (p *PostgreSQL) serverError(err error) (string, bool) {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return fmt.Sprintf("%s (SQLSTATE %s)", pe.Message, pe.Code), true
	}
	return "", false
}

// redactPostgreSQL hides secret should a server message quote a
// statement.
func redactPostgreSQL(err error, secret string) error {
	return redactServer(err, secret, func(e *pgconn.PgError) []*string { return []*string{&e.Message, &e.Detail} })
}
