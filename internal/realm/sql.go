package realm

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
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
	installDB, err := findBinary("mariadb-install-db")
	if err != nil {
		return err
	}
	mariadbd, err := findBinary("mariadbd")
	if err != nil {
		return err
	}
	client, err := findBinary("mariadb")
	if err != nil {
		return err
	}
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
	cnf := fmt.Sprintf("[client]\nuser=%s\npassword=%s\nhost=127.0.0.1\nport=%d\n", r.MySQLAdminUser, r.MySQLAdminPassword, r.MySQLPort)
	return os.WriteFile(r.path("mysql/client.cnf"), []byte(cnf), 0o600)
}

func (r *Realm) startPostgres() error {
	initdb, err := findBinary("initdb")
	if err != nil {
		return err
	}
	postgres, err := findBinary("postgres")
	if err != nil {
		return err
	}
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
	return waitTCP(d, "127.0.0.1:"+strconv.Itoa(r.PGPort), 60*time.Second, filepath.Join(pgDir, "postgres.log"))
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
	return fmt.Sprintf("postgres://%s:%s@127.0.0.1:%d/%s?sslmode=disable", r.PGAdminUser, r.PGAdminPassword, r.PGPort, db)
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
