package realm

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
)

func (r *Realm) mysqlArgs() []string {
	return []string{"--no-defaults", "--socket=" + r.MySQLSocket}
}

// sqlQuote quotes a string literal for MariaDB; used only for the realm's
// own generated passwords.
func sqlQuote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

func (r *Realm) startMariaDB() error {
	bins, err := findBinaries("mariadb-install-db", "mariadbd", "mariadb")
	if err != nil {
		return err
	}
	installDB, mariadbd, client := bins[0], bins[1], bins[2]
	me, err := user.Current()
	if err != nil {
		return err
	}
	env := []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C"}
	data := r.path("mysql/data")
	// --no-defaults everywhere, or /etc/mysql/my.cnf brings in the system
	// datadir and socket.
	if _, err := run(env, r.Dir, "", nil, installDB, "--no-defaults", "--user="+me.Username,
		"--datadir="+data, "--auth-root-authentication-method=normal", "--skip-test-db",
		"--innodb-log-file-size=16M"); err != nil {
		return err
	}
	d, err := startDaemon("mariadbd", r.path("log/mariadbd.out"), env, r.Dir, nil, syscall.SIGTERM,
		mariadbd, "--no-defaults", "--user="+me.Username, "--datadir="+data,
		"--tmpdir="+r.path("mysql/tmp"), "--socket="+r.MySQLSocket,
		"--port="+strconv.Itoa(r.MySQLPort), "--bind-address=127.0.0.1",
		"--pid-file="+r.path("run/mariadbd.pid"), "--log-error="+r.path("log/mariadbd.log"),
		"--innodb-buffer-pool-size=32M", "--innodb-log-file-size=16M",
		"--innodb-flush-log-at-trx-commit=0", "--skip-log-bin")
	if err != nil {
		return err
	}
	r.daemons = append(r.daemons, d)
	if err := waitTCP(d, "127.0.0.1:"+strconv.Itoa(r.MySQLPort), 60*time.Second, r.path("log/mariadbd.log")); err != nil {
		return err
	}
	// An open port is not yet a server that takes logins: wait until root
	// (passwordless until the setup below) can log in over the socket.
	rootDSN := mysql.NewConfig()
	rootDSN.User = "root"
	rootDSN.Net = "unix"
	rootDSN.Addr = r.MySQLSocket
	if err := waitSQL(d, "mysql", rootDSN.FormatDSN(), 30*time.Second, r.path("log/mariadbd.log"), r.secrets()); err != nil {
		return fmt.Errorf("mariadb root login over %s: %w", r.MySQLSocket, err)
	}
	// install-db made passwordless root accounts for every host name and
	// maybe anonymous ones: keep only root@localhost, give it a password,
	// and add the admin account ceod uses. Passwords go over stdin.
	pw := sqlQuote(r.MySQLAdminPassword)
	admin := sqlQuote(r.MySQLAdminUser)
	setup := fmt.Sprintf(`DELETE FROM mysql.global_priv WHERE NOT (User='root' AND Host='localhost') AND User <> 'mariadb.sys';
FLUSH PRIVILEGES;
ALTER USER 'root'@'localhost' IDENTIFIED BY %[1]s;
CREATE USER %[2]s@'localhost' IDENTIFIED BY %[1]s;
GRANT ALL PRIVILEGES ON *.* TO %[2]s@'localhost' WITH GRANT OPTION;
CREATE USER %[2]s@'127.0.0.1' IDENTIFIED BY %[1]s;
GRANT ALL PRIVILEGES ON *.* TO %[2]s@'127.0.0.1' WITH GRANT OPTION;
FLUSH PRIVILEGES;
`, pw, admin)
	if _, err := run(env, r.Dir, setup, nil, append([]string{client}, append(r.mysqlArgs(), "-u", "root")...)...); err != nil {
		return fmt.Errorf("mariadb setup: %s", redact(err.Error(), r.secrets()...))
	}
	// The admin account ceod uses must log in over TCP with its password.
	if err := waitSQL(d, "mysql", r.MySQLDSN(), 15*time.Second, r.path("log/mariadbd.log"), r.secrets()); err != nil {
		return fmt.Errorf("mariadb login as %s over TCP: %w", r.MySQLAdminUser, err)
	}
	cnf := fmt.Sprintf("[client]\nuser=%s\npassword=%s\nhost=127.0.0.1\nport=%d\n", r.MySQLAdminUser, r.MySQLAdminPassword, r.MySQLPort)
	if err := os.WriteFile(r.path("mysql/client.cnf"), []byte(cnf), 0o600); err != nil {
		return fmt.Errorf("mariadb client.cnf: %w", err)
	}
	return nil
}

// waitSQL waits until a database/sql connection to dsn answers SELECT 1,
// the daemon exits, or the timeout passes. Errors have the realm's
// secrets redacted.
func waitSQL(d *daemon, driver, dsn string, timeout time.Duration, logPath string, secrets []string) error {
	db, err := sql.Open(driver, dsn)
	if err != nil {
		return fmt.Errorf("open a %s connection: %s", driver, redact(err.Error(), secrets...))
	}
	defer db.Close()
	return waitReady(d, timeout, logPath, secrets, func(ctx context.Context) error {
		return selectOne(db.QueryRowContext(ctx, "SELECT 1"))
	})
}

// selectOne checks the answer row of a SELECT 1.
func selectOne(row interface{ Scan(dest ...any) error }) error {
	var one int
	if err := row.Scan(&one); err != nil {
		return err
	}
	if one != 1 {
		return fmt.Errorf("SELECT 1 returned %d", one)
	}
	return nil
}

// waitReady calls try (each call bounded to 2s) until it succeeds, the
// daemon exits, or the timeout passes; it then reports the last error.
func waitReady(d *daemon, timeout time.Duration, logPath string, secrets []string, try func(context.Context) error) error {
	deadline := time.Now().Add(timeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err := try(ctx)
		cancel()
		if err == nil {
			return nil
		}
		msg := redact(err.Error(), secrets...)
		if d.exited() {
			return fmt.Errorf("%s exited (%v) while waiting for it to take connections: %s; log %s:\n%s", d.name, d.waitErr, msg, logPath, tail(logPath, 15))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not taking connections after %v: %s; log %s:\n%s", d.name, timeout, msg, logPath, tail(logPath, 15))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitPostgres waits until the superuser can log in over TCP and run
// SELECT 1. PostgreSQL opens its port before it takes logins: until
// recovery or startup is done it answers 57P03 "the database system is
// starting up".
func (r *Realm) waitPostgres(d *daemon, timeout time.Duration, logPath string) error {
	cfg, err := pgx.ParseConfig(r.PGURL(""))
	if err != nil {
		return errors.New("postgresql: cannot parse the realm's own URL") // it holds the password: not shown
	}
	return waitReady(d, timeout, logPath, r.secrets(), func(ctx context.Context) error {
		conn, err := pgx.ConnectConfig(ctx, cfg)
		if err != nil {
			return err
		}
		defer conn.Close(context.Background())
		return selectOne(conn.QueryRow(ctx, "SELECT 1"))
	})
}

func (r *Realm) startPostgres() error {
	bins, err := findBinaries("initdb", "postgres")
	if err != nil {
		return err
	}
	initdb, postgres := bins[0], bins[1]
	pgDir := r.path("pg")
	if err := os.MkdirAll(r.PGSocketDir, 0o755); err != nil {
		return err
	}
	pwfile := filepath.Join(pgDir, "pwfile")
	if err := os.WriteFile(pwfile, []byte(r.PGAdminPassword+"\n"), 0o600); err != nil {
		return err
	}
	defer os.Remove(pwfile)
	// PostgreSQL refuses to run as root: run it as the postgres user.
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		pg, err := user.Lookup("postgres")
		if err != nil {
			return fmt.Errorf("running as root needs the postgres user: %w", err)
		}
		uid, _ := strconv.Atoi(pg.Uid)
		gid, _ := strconv.Atoi(pg.Gid)
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := chownTree(pgDir, uid, gid); err != nil {
			return err
		}
		if err := traversableByOthers(pgDir); err != nil {
			return fmt.Errorf("the postgres user cannot reach %s: %w", pgDir, err)
		}
	}
	env := []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C", "LC_ALL=C.UTF-8"}
	data := filepath.Join(pgDir, "data")
	if _, err := run(env, pgDir, "", cred, initdb, "-D", data, "-U", r.PGAdminUser,
		"--pwfile="+pwfile, "--auth-local=trust", "--auth-host=scram-sha-256",
		"-E", "UTF8", "--locale=C.UTF-8", "--no-sync"); err != nil {
		return err
	}
	d, err := startDaemon("postgres", filepath.Join(pgDir, "postgres.log"), env, pgDir, cred, syscall.SIGINT,
		postgres, "-D", data, "-p", strconv.Itoa(r.PGPort),
		"-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories="+r.PGSocketDir,
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
		"-c", "max_connections=200")
	if err != nil {
		return err
	}
	r.daemons = append(r.daemons, d)
	logPath := filepath.Join(pgDir, "postgres.log")
	if err := waitTCP(d, "127.0.0.1:"+strconv.Itoa(r.PGPort), 60*time.Second, logPath); err != nil {
		return err
	}
	if err := r.waitPostgres(d, 60*time.Second, logPath); err != nil {
		return fmt.Errorf("postgresql login as %s over TCP: %w", r.PGAdminUser, err)
	}
	return r.createLibraryDB()
}

// LibraryDB is the database library.cf names; the realm creates it empty
// so the front end's Library works out of the box.
const LibraryDB = "library"

func (r *Realm) createLibraryDB() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, r.PGURL(""))
	if err != nil {
		return fmt.Errorf("postgresql: creating the library database: %s", redact(err.Error(), r.secrets()...))
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+LibraryDB); err != nil {
		return fmt.Errorf("postgresql: creating the library database: %w", err)
	}
	return nil
}

func chownTree(root string, uid, gid int) error {
	return filepath.Walk(root, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, gid)
	})
}

// MySQLDSN is a go-sql-driver DSN for the admin account over TCP.
func (r *Realm) MySQLDSN() string {
	return fmt.Sprintf("%s:%s@tcp(127.0.0.1:%d)/", r.MySQLAdminUser, r.MySQLAdminPassword, r.MySQLPort)
}

// PGURL is a PostgreSQL URL for the superuser over TCP (scram).
func (r *Realm) PGURL(db string) string {
	if db == "" {
		db = "postgres"
	}
	u := url.URL{
		Scheme:   "postgres",
		User:     url.UserPassword(r.PGAdminUser, r.PGAdminPassword),
		Host:     "127.0.0.1:" + strconv.Itoa(r.PGPort),
		Path:     "/" + db,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

// traversableByOthers checks that every ancestor of dir is world-searchable,
// so a daemon running as another user can reach it.
func traversableByOthers(dir string) error {
	for d := filepath.Dir(dir); ; d = filepath.Dir(d) {
		st, err := os.Stat(d)
		if err != nil {
			return err
		}
		if st.Mode().Perm()&0o001 == 0 {
			return fmt.Errorf("%s has mode %v", d, st.Mode().Perm())
		}
		if d == "/" {
			return nil
		}
	}
}
