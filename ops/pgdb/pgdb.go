// Package pgdb implements the "postgresql" op (id 0x05, not in the
// legacy system): create a PostgreSQL role NAME with a fresh random
// password and a database NAME owned by it, or reset the role's password
// on a re-run. Authorization and the name rule are the mysql op's (see
// README.md).
package pgdb

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"syscall"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/protobuf/proto"

	"github.com/csclub/ceo/ops"
	"github.com/csclub/ceo/ops/authz"
	"github.com/csclub/ceo/ops/mysqldb"
	"github.com/csclub/ceo/wire/ceopb"
)

// MaxNameLength is PostgreSQL's identifier limit (NAMEDATALEN-1); longer
// names would be silently truncated by the server.
const MaxNameLength = 63

// Reserved names are refused whoever asks: the server's own databases
// and roles, and role names PostgreSQL treats specially.
var Reserved = []string{"postgres", "template0", "template1", "public", "none",
	"current_user", "session_user", "current_role", "pg_signal_backend"}

// Open returns a pool for the admin connection string
// (postgresql_admin_url). It does not connect. The admin needs to be a
// superuser, or have CREATEROLE and CREATEDB and be allowed to create
// databases owned by the new roles.
func Open(ctx context.Context, url string) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// pgx redacts passwords in its parse errors only on a best-effort
		// basis: say nothing about the string.
		return nil, errors.New("pgdb: postgresql_admin_url cannot be parsed (check its syntax; not shown because it may hold a password)")
	}
	cfg.MaxConns = 2
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("pgdb: %w", err)
	}
	return pool, nil
}

// Deps are the postgresql op's inputs.
type Deps struct {
	// Pool connects as the admin role (see Open). Required.
	Pool *pgxpool.Pool
	// Dir answers the authorization questions. Required.
	Dir authz.Directory
	// Realm, if set, is the Kerberos realm (krb5_realm) whose principals
	// are known by their user name; a principal of another realm is known
	// by its whole name and so matches no account or group. Empty trusts
	// every realm the KDC does, as the legacy daemon did.
	Realm string
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
	// Rand is the entropy for passwords and salts; nil means crypto/rand.
	Rand io.Reader
	// Log receives one record per request; never a password. Nil means
	// no logging.
	Log *slog.Logger
}

type handler struct {
	d   Deps
	log *slog.Logger
	mu  sync.Mutex // one create at a time: DDL here is not transactional
}

// New returns the postgresql op's handler.
func New(d Deps) (ops.Handler, error) {
	if d.Pool == nil || d.Dir == nil {
		return nil, errors.New("pgdb: Deps.Pool and Deps.Dir are required")
	}
	log := d.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h := &handler{d: d, log: log.With("op", "postgresql")}
	return &ops.Proto[*ceopb.AddPostgreSQLUser, *ceopb.AddPostgreSQLUserResponse]{Op: "postgresql", Event: "add postgresql user", Log: h.log, Do: h.serve}, nil
}

type reply struct {
	ceopb.AddPostgreSQLUserResponse
}

func (r *reply) add(status int32, format string, args ...any) {
	r.Messages = append(r.Messages, ops.Status(status, format, args...))
}

func (h *handler) serve(ctx context.Context, c ops.Caller, in *ceopb.AddPostgreSQLUser) (*ceopb.AddPostgreSQLUserResponse, ops.Outcome, []slog.Attr, error) {
	var out reply
	caller := authz.Caller(c.User, c.Principal, h.d.Realm)
	outcome := h.create(ctx, caller, in.Username, &out)
	return &out.AddPostgreSQLUserResponse, outcome, []slog.Attr{slog.String("caller", caller), slog.String("target", in.GetUsername())}, nil
}

func (h *handler) create(ctx context.Context, caller string, username *string, out *reply) ops.Outcome {
	if username == nil || *username == "" {
		out.add(int32(syscall.EINVAL), "missing required argument: username")
		return ops.OutcomeInvalid
	}
	name := *username
	out.add(0, "postgresql create db=%s by %s", name, caller)
	d, err := authz.CreateDatabase(ctx, h.d.Dir, caller, name)
	if err != nil {
		h.log.Error("authorization failed", "caller", caller, "target", name, "err", err)
		out.add(ops.ELDAP, "unable to check authorization for %s: directory error", caller)
		return ops.OutcomeError
	}
	out.add(d.Status, "%s", d.Message)
	if !d.Allowed {
		return ops.OutcomeDenied
	}
	if !mysqldb.ValidName(name, MaxNameLength) {
		out.add(int32(syscall.EINVAL), "invalid characters in username %s", name)
		return ops.OutcomeInvalid
	}
	if h.reserved(name) {
		out.add(int32(syscall.EINVAL), "username %s is reserved", name)
		return ops.OutcomeInvalid
	}
	pw, err := mysqldb.RandomPassword(h.d.Rand)
	var verifier string
	if err == nil {
		verifier, err = scramVerifier(pw, h.d.Rand)
	}
	if err != nil || !verifierRule.MatchString(verifier) {
		h.log.Error("password generation failed", "err", err)
		out.add(int32(syscall.EIO), "exception occured creating database: no entropy")
		return ops.OutcomeError
	}

	h.mu.Lock()
	defer h.mu.Unlock()
	res, err := h.apply(ctx, name, verifier)
	var refused *refusal
	switch {
	case errors.As(err, &refused):
		out.add(int32(refused.status), "%s", refused.msg)
		return ops.OutcomeDenied
	case err != nil:
		h.log.Error("creating database failed", "target", name, "err", err)
		out.add(1, "exception occured creating database: %s", describe(err))
		return ops.OutcomeError
	}
	for _, db := range res.reachable {
		h.log.Warn("new role can connect to another database; revoke CONNECT from PUBLIC there or restrict pg_hba.conf",
			"role", name, "database", db)
	}
	out.Password = proto.String(pw)
	if res.createdDB {
		out.add(0, "successfully created database %s", name)
	} else {
		out.add(0, "successfully reset password for %s", name)
	}
	return ops.OutcomeOK
}

func (h *handler) reserved(name string) bool {
	lower := strings.ToLower(name)
	if strings.HasPrefix(lower, "pg_") {
		return true
	}
	for _, r := range Reserved {
		if lower == r {
			return true
		}
	}
	return h.d.AdminRole != "" && strings.EqualFold(name, h.d.AdminRole)
}

// refusal is a decision made from the server's state.
type refusal struct {
	status syscall.Errno
	msg    string
}

func (r *refusal) Error() string { return r.msg }

// describe is the client's view of a failure: the step and the server's
// SQLSTATE and message, never a statement.
func describe(err error) string {
	var se *ops.StepError
	step := "database error"
	if errors.As(err, &se) {
		step = se.Step
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return fmt.Sprintf("%s: %s (SQLSTATE %s)", step, pe.Message, pe.Code)
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return step + ": timed out"
	}
	return step + ": server unavailable"
}

type result struct {
	createdDB bool
	reachable []string // other databases the role can connect to
}

// apply makes the role and database. Identifiers go through
// pgx.Identifier.Sanitize; values that can be bound are bound. DDL takes
// no parameters, so the password is given as its SCRAM-SHA-256 verifier,
// computed here and checked against verifierRule (base64 and separators
// only) before it is put between single quotes: it cannot end the
// literal, and the plain password never reaches the server. PostgreSQL
// stores such a verifier as is.
func (h *handler) apply(ctx context.Context, name, verifier string) (res result, err error) {
	conn, err := h.d.Pool.Acquire(ctx)
	if err != nil {
		return res, &ops.StepError{Step: "connecting", Err: err}
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
		return res, &ops.StepError{Step: "checking role", Err: err}
	}
	if privileged {
		return res, &refusal{syscall.EPERM, fmt.Sprintf("denied, %s is a privileged PostgreSQL role", name)}
	}
	// The database, if any, must already be the role's.
	var owner string
	dbExists := true
	err = conn.QueryRow(ctx, `SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = $1`, name).Scan(&owner)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		dbExists = false
	case err != nil:
		return res, &ops.StepError{Step: "checking database", Err: err}
	case owner != name:
		return res, &refusal{syscall.EEXIST, fmt.Sprintf("database %s exists and belongs to another role", name)}
	}

	for _, db := range h.d.LockDatabases {
		if _, err := conn.Exec(ctx, "REVOKE CONNECT ON DATABASE "+pgx.Identifier{db}.Sanitize()+" FROM PUBLIC"); err != nil {
			return res, &ops.StepError{Step: "locking database " + db, Err: err}
		}
	}

	// Undo what this run made if a later step fails.
	var createdRole bool
	defer func() {
		if err == nil {
			return
		}
		cleanup := context.WithoutCancel(ctx)
		if res.createdDB {
			if _, e := conn.Exec(cleanup, "DROP DATABASE IF EXISTS "+ident); e != nil {
				h.log.Error("cleanup failed", "step", "drop database", "target", name, "err", e)
			}
			res.createdDB = false
		}
		if createdRole {
			if _, e := conn.Exec(cleanup, "DROP ROLE IF EXISTS "+ident); e != nil {
				h.log.Error("cleanup failed", "step", "drop role", "target", name, "err", e)
			}
		}
	}()

	const attrs = " WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS INHERIT PASSWORD '"
	if !roleExists {
		if _, err = conn.Exec(ctx, "CREATE ROLE "+ident+attrs+verifier+"'"); err != nil {
			return res, &ops.StepError{Step: "creating role", Err: redact(err, verifier)}
		}
		createdRole = true
	} else {
		if _, err = conn.Exec(ctx, "ALTER ROLE "+ident+attrs+verifier+"'"); err != nil {
			return res, &ops.StepError{Step: "setting password", Err: redact(err, verifier)}
		}
	}
	if !dbExists {
		if _, err = conn.Exec(ctx, "CREATE DATABASE "+ident+" OWNER "+ident); err != nil {
			return res, &ops.StepError{Step: "creating database", Err: err}
		}
		res.createdDB = true
	}
	// Only the owner (and superusers) may connect or make temporary
	// tables: PUBLIC's default CONNECT and TEMPORARY go.
	if _, err = conn.Exec(ctx, "REVOKE ALL ON DATABASE "+ident+" FROM PUBLIC"); err != nil {
		return res, &ops.StepError{Step: "revoking public access", Err: err}
	}

	// What else can the role reach? Only reported: failing here must not
	// undo a finished job.
	rows, qerr := conn.Query(ctx, `SELECT datname FROM pg_database
		WHERE datallowconn AND datname <> $1 AND has_database_privilege($1, oid, 'CONNECT')
		ORDER BY datname`, name)
	if qerr == nil {
		res.reachable, qerr = pgx.CollectRows(rows, pgx.RowTo[string])
	}
	if qerr != nil {
		h.log.Warn("checking the new role's access failed", "role", name, "err", qerr)
	}
	return res, nil
}

// redact hides secret should a server message quote a statement.
func redact(err error, secret string) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		c := *pe
		c.Message = strings.ReplaceAll(c.Message, secret, "REDACTED")
		c.Detail = strings.ReplaceAll(c.Detail, secret, "REDACTED")
		return &c
	}
	if strings.Contains(err.Error(), secret) {
		return errors.New(strings.ReplaceAll(err.Error(), secret, "REDACTED"))
	}
	return err
}
