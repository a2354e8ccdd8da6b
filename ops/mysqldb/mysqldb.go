// Package mysqldb implements the "mysql" op (id 0x03): create a MariaDB
// database NAME and an account NAME@localhost with all privileges on it
// and a fresh random password, or reset that password on a re-run, with
// the legacy rules and replies (see README.md).
package mysqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/go-sql-driver/mysql"
	"google.golang.org/protobuf/proto"

	"github.com/csclub/ceo/ops"
	"github.com/csclub/ceo/ops/authz"
	"github.com/csclub/ceo/wire/ceopb"
)

// MaxNameLength is MariaDB's limit on database names; account names may
// be longer, so it bounds both.
const MaxNameLength = 64

// DefaultSocket is Debian's MariaDB socket.
const DefaultSocket = "/run/mysqld/mysqld.sock"

// Reserved names are refused whoever asks: they are the server's own
// databases and accounts, which the op must never grant or reset.
var Reserved = []string{"root", "mysql", "sys", "information_schema", "performance_schema", "mariadb.sys", "test"}

// Config says how to reach the server as the admin account (mysql.cf).
type Config struct {
	AdminUser     string // mysql_admin_username
	AdminPassword string // mysql_admin_password
	// Host and Port (mysql_host, mysql_port) select TCP; with Host empty
	// the unix socket Socket (mysql_socket, default DefaultSocket) is
	// used. Port 0 means 3306.
	Host   string
	Port   int
	Socket string
	// Timeout bounds dialing; zero means 10 seconds.
	Timeout time.Duration
}

// Open returns a connection pool for the admin account. It builds the
// driver configuration field by field, so no DSN string is ever
// assembled from the password. It does not connect.
func Open(c Config) (*sql.DB, error) {
	if c.AdminUser == "" {
		return nil, errors.New("mysqldb: mysql_admin_username is empty")
	}
	mc := mysql.NewConfig()
	mc.User = c.AdminUser
	mc.Passwd = c.AdminPassword
	switch {
	case c.Host != "":
		port := c.Port
		if port == 0 {
			port = 3306
		}
		mc.Net = "tcp"
		mc.Addr = fmt.Sprintf("%s:%d", strings.Trim(c.Host, "[]"), port)
		if strings.Contains(c.Host, ":") {
			mc.Addr = fmt.Sprintf("[%s]:%d", strings.Trim(c.Host, "[]"), port)
		}
	default:
		mc.Net = "unix"
		mc.Addr = c.Socket
		if mc.Addr == "" {
			mc.Addr = DefaultSocket
		}
	}
	mc.Timeout = c.Timeout
	if mc.Timeout == 0 {
		mc.Timeout = 10 * time.Second
	}
	conn, err := mysql.NewConnector(mc)
	if err != nil {
		return nil, fmt.Errorf("mysqldb: %w", err)
	}
	db := sql.OpenDB(conn)
	db.SetMaxOpenConns(2)
	db.SetConnMaxIdleTime(time.Minute)
	return db, nil
}

// Deps are the mysql op's inputs.
type Deps struct {
	// DB is a pool for an account that may create databases and users
	// and grant privileges (see Open). Required.
	DB *sql.DB
	// Dir answers the authorization questions. Required.
	Dir authz.Directory
	// Realm, if set, is the Kerberos realm (krb5_realm) whose principals
	// are known by their user name; a principal of another realm is known
	// by its whole name and so matches no account or group. Empty trusts
	// every realm the KDC does, as the legacy daemon did.
	Realm string
	// AdminUser, if set, is refused as a target too.
	AdminUser string
	// Rand is the entropy for passwords; nil means crypto/rand.
	Rand io.Reader
	// Log receives one record per request; never a password. Nil means
	// no logging.
	Log *slog.Logger
}

type handler struct {
	d   Deps
	log *slog.Logger
	mu  sync.Mutex // one create at a time: the statements are not atomic
}

// New returns the mysql op's handler.
func New(d Deps) (ops.Handler, error) {
	if d.DB == nil || d.Dir == nil {
		return nil, errors.New("mysqldb: Deps.DB and Deps.Dir are required")
	}
	log := d.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h := &handler{d: d, log: log.With("op", "mysql")}
	return &ops.Proto[*ceopb.AddMySQLUser, *ceopb.AddMySQLUserResponse]{Op: "mysql", Event: "add mysql user", Log: h.log, Do: h.serve}, nil
}

type reply struct{ ceopb.AddMySQLUserResponse }

func (r *reply) add(status int32, format string, args ...any) int32 {
	r.Messages = append(r.Messages, ops.Status(status, format, args...))
	return status
}

func (h *handler) serve(ctx context.Context, c ops.Caller, in *ceopb.AddMySQLUser) (*ceopb.AddMySQLUserResponse, ops.Outcome, []slog.Attr, error) {
	var out reply
	caller := authz.Caller(c.User, c.Principal, h.d.Realm)
	outcome := h.create(ctx, caller, in.Username, &out)
	return &out.AddMySQLUserResponse, outcome, []slog.Attr{slog.String("caller", caller), slog.String("target", in.GetUsername())}, nil
}

func (h *handler) create(ctx context.Context, caller string, username *string, out *reply) ops.Outcome {
	if username == nil || *username == "" {
		out.add(int32(syscall.EINVAL), "missing required argument: username")
		return ops.OutcomeInvalid
	}
	name := *username
	out.add(0, "mysql create db=%s by %s", name, caller)
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
	if !ValidName(name, MaxNameLength) {
		out.add(int32(syscall.EINVAL), "invalid characters in username %s", name)
		return ops.OutcomeInvalid
	}
	if h.reserved(name) {
		out.add(int32(syscall.EINVAL), "username %s is reserved", name)
		return ops.OutcomeInvalid
	}
	pw, err := RandomPassword(h.d.Rand)
	if err != nil {
		h.log.Error("password generation failed", "err", err)
		out.add(int32(syscall.EIO), "exception occured creating database: no entropy")
		return ops.OutcomeError
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.apply(ctx, name, pw); err != nil {
		var priv *privilegedError
		if errors.As(err, &priv) {
			out.add(int32(syscall.EPERM), "denied, %s is a privileged MariaDB account", name)
			return ops.OutcomeDenied
		}
		h.log.Error("creating database failed", "target", name, "err", err)
		out.add(1, "exception occured creating database: %s", describe(err))
		return ops.OutcomeError
	}
	out.Password = proto.String(pw)
	out.add(0, "successfully created database %s", name)
	return ops.OutcomeOK
}

func (h *handler) reserved(name string) bool {
	for _, r := range Reserved {
		if strings.EqualFold(name, r) {
			return true
		}
	}
	return h.d.AdminUser != "" && strings.EqualFold(name, h.d.AdminUser)
}

type privilegedError struct{ name string }

func (e *privilegedError) Error() string { return e.name + " has global privileges" }

// describe is the client's view of a failure: the step and the server's
// error number and text (MySQLdb style), never a statement.
func describe(err error) string {
	var se *ops.StepError
	step := "database error"
	if errors.As(err, &se) {
		step = se.Step
	}
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return fmt.Sprintf("%s: (%d, '%s')", step, me.Number, me.Message)
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return step + ": timed out"
	}
	return step + ": server unavailable"
}

// apply runs the statements on one connection. Identifiers are the
// validated name in backticks. The password never appears in SQL:
// MariaDB takes no placeholder in IDENTIFIED BY (checked on 10.11:
// "IDENTIFIED BY ?" is error 1064 both as a driver placeholder and in a
// server-side PREPARE), so the account gets its mysql_native_password
// hash, computed here, with IDENTIFIED BY PASSWORD '<hash>'. The hash is
// our own output, checked against ^\*[0-9A-F]{40}$ before use, so it
// cannot break out of its literal; it is also what the server would
// store for IDENTIFIED BY '<password>', and the plain password is never
// sent to the server or its logs.
func (h *handler) apply(ctx context.Context, name, pw string) error {
	hash := nativeHash(pw)
	if !nativeHashRule.MatchString(hash) {
		return errors.New("internal error: bad password hash")
	}
	conn, err := h.d.DB.Conn(ctx)
	if err != nil {
		return &ops.StepError{Step: "connecting", Err: err}
	}
	defer conn.Close()

	// An existing account with global privileges (an administrator) is
	// never reset, whoever asks.
	var n int
	err = conn.QueryRowContext(ctx,
		"SELECT COUNT(*) FROM information_schema.USER_PRIVILEGES WHERE GRANTEE = ? AND PRIVILEGE_TYPE <> 'USAGE'",
		"'"+name+"'@'localhost'").Scan(&n)
	if err != nil {
		return &ops.StepError{Step: "checking privileges", Err: err}
	}
	if n > 0 {
		return &privilegedError{name}
	}

	// What exists already, so that a failure undoes only this run's work.
	var dbExisted, userExisted bool
	err = conn.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?), "+
		"EXISTS (SELECT 1 FROM mysql.user WHERE User = ? AND Host = 'localhost')", name, name).Scan(&dbExisted, &userExisted)
	if err != nil {
		return &ops.StepError{Step: "checking existing database", Err: err}
	}

	db := quoteIdent(name)
	account := quoteIdent(name) + "@" + quoteIdent("localhost")
	steps := []struct{ what, stmt, undo string }{
		{"creating database", "CREATE DATABASE IF NOT EXISTS " + db, "DROP DATABASE IF EXISTS " + db},
		{"creating user", "CREATE USER IF NOT EXISTS " + account + " IDENTIFIED BY PASSWORD '" + hash + "'", "DROP USER IF EXISTS " + account},
		// On a re-run the account exists and CREATE USER IF NOT EXISTS
		// left it alone: set the new password.
		{"setting password", "ALTER USER " + account + " IDENTIFIED BY PASSWORD '" + hash + "'", ""},
		{"granting privileges", "GRANT ALL PRIVILEGES ON " + db + ".* TO " + account, ""},
	}
	existed := []bool{dbExisted, userExisted, true, true}
	for i, s := range steps {
		if _, err := conn.ExecContext(ctx, s.stmt); err != nil {
			// Undo what this run created, newest first.
			cleanup := context.WithoutCancel(ctx)
			for j := i; j >= 0; j-- {
				if steps[j].undo == "" || existed[j] {
					continue
				}
				if _, uerr := conn.ExecContext(cleanup, steps[j].undo); uerr != nil {
					h.log.Error("cleanup failed", "step", steps[j].what, "target", name, "err", uerr)
				}
			}
			return &ops.StepError{Step: s.what, Err: redact(err, hash)}
		}
	}
	return nil
}

// redact hides secret should a server message quote a statement.
func redact(err error, secret string) error {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		c := *me
		c.Message = strings.ReplaceAll(c.Message, secret, "REDACTED")
		return &c
	}
	if strings.Contains(err.Error(), secret) {
		return errors.New(strings.ReplaceAll(err.Error(), secret, "REDACTED"))
	}
	return err
}
