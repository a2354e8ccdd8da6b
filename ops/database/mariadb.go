package database

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"syscall"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/csclub/ceo/ops"
	"github.com/csclub/ceo/wire/ceopb"
)

// MariaDBMaxName is MariaDB's limit on database names; account names
// may be longer, so it bounds both.
const MariaDBMaxName = 64

// DefaultSocket is Debian's MariaDB socket.
const DefaultSocket = "/run/mysqld/mysqld.sock"

// mariaDBReserved names are refused whoever asks: they are the server's
// own databases and accounts, which the op must never grant or reset.
var mariaDBReserved = []string{"root", "mysql", "sys", "information_schema", "performance_schema", "mariadb.sys", "test"}

// MariaDBConfig says how to reach the server as the admin account
// (mysql.cf).
type MariaDBConfig struct {
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

// OpenMariaDB returns a connection pool for the admin account. It builds the
// driver configuration field by field, so no DSN string is ever
// assembled from the password. It does not connect.
func OpenMariaDB(c MariaDBConfig) (*sql.DB, error) {
	if c.AdminUser == "" {
		return nil, errors.New("database: mysql_admin_username is empty")
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
		return nil, fmt.Errorf("database: %w", err)
	}
	db := sql.OpenDB(conn)
	db.SetMaxOpenConns(2)
	db.SetConnMaxIdleTime(time.Minute)
	return db, nil
}

// MariaDB is the engine of the "mysql" op.
type MariaDB struct {
	// DB is a pool for an account that may create databases and users
	// and grant privileges (see OpenMariaDB). Required.
	DB *sql.DB
	// AdminUser, if set, is refused as a target too.
	AdminUser string
}

func (m *MariaDB) check() error {
	if m.DB == nil {
		return errors.New("database: MariaDB.DB is required")
	}
	return nil
}

func (m *MariaDB) rules() rules {
	return rules{op: "mysql", maxName: MariaDBMaxName, reserved: mariaDBReserved, admin: m.AdminUser, account: "USER", secretShape: nativeHashRule}
}

func (m *MariaDB) handler(o *op) ops.Handler {
	return protoHandler[*ceopb.AddMySQLUser](o, func(msgs []*ceopb.StatusMessage, pw *string) *ceopb.AddMySQLUserResponse {
		return &ceopb.AddMySQLUserResponse{Messages: msgs, Password: pw}
	})
}

// secret is the password's mysql_native_password hash.
func (m *MariaDB) secret(pw string, _ io.Reader) (string, error) {
	return nativeHash(pw), nil
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
// sent to the server or its logs. A re-run resets the password but
// reports a creation, as the legacy op did.
func (m *MariaDB) apply(ctx context.Context, log *slog.Logger, name, hash string, st stepper) (reset bool, err error) {
	conn, err := m.DB.Conn(ctx)
	if err != nil {
		return false, &ops.StepError{Step: "connecting", Err: err}
	}
	defer conn.Close()

	// An existing account with global privileges (an administrator) is
	// never reset, whoever asks.
	var n int
	err = conn.QueryRowContext(ctx,
		"SELECT COUNT(*) FROM information_schema.USER_PRIVILEGES WHERE GRANTEE = ? AND PRIVILEGE_TYPE <> 'USAGE'",
		"'"+name+"'@'localhost'").Scan(&n)
	if err != nil {
		return false, &ops.StepError{Step: "checking privileges", Err: err}
	}
	if n > 0 {
		return false, &refusal{syscall.EPERM, fmt.Sprintf("denied, %s is a privileged MariaDB account", name)}
	}

	// What exists already, so that a failure undoes only this run's work.
	var dbExisted, userExisted bool
	err = conn.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?), "+
		"EXISTS (SELECT 1 FROM mysql.user WHERE User = ? AND Host = 'localhost')", name, name).Scan(&dbExisted, &userExisted)
	if err != nil {
		return false, &ops.StepError{Step: "checking existing database", Err: err}
	}

	db := quoteIdent(name)
	account := m.account(name)
	steps := []struct{ what, stmt, undo, journal string }{
		{"creating database", "CREATE DATABASE IF NOT EXISTS " + db, drop(m, stepDatabase, name), stepDatabase},
		{"creating user", "CREATE USER IF NOT EXISTS " + account + " IDENTIFIED BY PASSWORD '" + hash + "'", drop(m, stepAccount, name), stepAccount},
		// On a re-run the account exists and CREATE USER IF NOT EXISTS
		// left it alone: set the new password.
		{"setting password", "ALTER USER " + account + " IDENTIFIED BY PASSWORD '" + hash + "'", "", ""},
		{"granting privileges", "GRANT ALL PRIVILEGES ON " + db + ".* TO " + account, "", ""},
	}
	existed := []bool{dbExisted, userExisted, true, true}
	for i, s := range steps {
		journaled := s.journal != "" && !existed[i]
		if journaled {
			if err := st.begin(s.journal); err != nil {
				return false, &ops.StepError{Step: "writing the journal", Err: err}
			}
		}
		_, err := conn.ExecContext(ctx, s.stmt)
		if err == nil && journaled {
			st.done(s.journal)
		}
		if err != nil {
			// Undo what this run created, newest first.
			cleanup := context.WithoutCancel(ctx)
			for j := i; j >= 0; j-- {
				if steps[j].undo == "" || existed[j] {
					continue
				}
				if _, uerr := conn.ExecContext(cleanup, steps[j].undo); uerr != nil {
					log.Error("cleanup failed", "step", steps[j].what, "target", name, "err", uerr)
				}
			}
			return false, &ops.StepError{Step: s.what, Err: redactMariaDB(err, hash)}
		}
	}
	return false, nil
}

func (m *MariaDB) exec(ctx context.Context, stmt string) error {
	_, err := m.DB.ExecContext(ctx, stmt)
	return err
}

func (m *MariaDB) ident(name string) string { return quoteIdent(name) }

// account is the op's account for name: it logs in only from localhost
// (the socket or 127.0.0.1).
func (m *MariaDB) account(name string) string {
	return quoteIdent(name) + "@" + quoteIdent("localhost")
}

// serverError is the server's error number and text (MySQLdb style).
func (m *MariaDB) serverError(err error) (string, bool) {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return fmt.Sprintf("(%d, '%s')", me.Number, me.Message), true
	}
	return "", false
}

// redactMariaDB hides secret should a server message quote a statement.
func redactMariaDB(err error, secret string) error {
	return redactServer(err, secret, func(e *mysql.MySQLError) []*string { return []*string{&e.Message} })
}
