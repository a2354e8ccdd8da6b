package realm

import (
	"context"
	"database/sql"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	ceodconfig "github.com/csclub/ceo/ceod/config"
	opsconfig "github.com/csclub/ceo/ops/config"
)

// readConfig parses one file of the realm's config dir with the legacy
// "name = value" parser the ops use, and checks its permission bits.
func readConfig(t *testing.T, r *Realm, name string, mode os.FileMode) map[string]string {
	t.Helper()
	path := filepath.Join(r.ConfigDir, name)
	st, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, mode, st.Mode().Perm(), "mode of %s", name)
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	kv, err := opsconfig.ParseKV(f)
	require.NoError(t, err, "parse %s", name)
	return kv
}

func TestConfigDirCeod(t *testing.T) {
	r := Get(t)
	kv := readConfig(t, r, "ceod.cf", 0o644)
	assert.Equal(t, r.AdminKeytab, kv["admin_keytab"])
	assert.True(t, filepath.IsAbs(kv["admin_keytab"]), "admin_keytab %q is not absolute", kv["admin_keytab"])
	assert.FileExists(t, kv["admin_keytab"])
	assert.Equal(t, r.CeodKeytab, kv["keytab"])
	assert.Equal(t, strconv.Itoa(r.CeodPort), kv["port"])

	// ceod itself accepts the file and hands admin_keytab to the ops.
	c, err := ceodconfig.LoadCeod(r.ConfigDir)
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1:"+strconv.Itoa(r.CeodPort), c.Listen)
	var ext []string
	for _, e := range c.Extensions {
		ext = append(ext, e.Name+"="+e.Value)
	}
	assert.Contains(t, ext, "admin_keytab="+r.AdminKeytab)
}

func TestConfigDirMySQL(t *testing.T) {
	r := Get(t)
	kv := readConfig(t, r, "mysql.cf", 0o600)
	assert.Equal(t, r.MySQLAdminUser, kv["mysql_admin_username"])
	assert.Equal(t, r.MySQLAdminPassword, kv["mysql_admin_password"])
	assert.Equal(t, "127.0.0.1", kv["mysql_host"])
	assert.Equal(t, strconv.Itoa(r.MySQLPort), kv["mysql_port"])
	m, err := opsconfig.LoadMySQL(r.ConfigDir)
	require.NoError(t, err)
	assert.Equal(t, r.MySQLAdminUser, m.AdminUsername)

	// The file's settings log in to the realm's MariaDB over TCP.
	dsn := mysql.NewConfig()
	dsn.User, dsn.Passwd = kv["mysql_admin_username"], kv["mysql_admin_password"]
	dsn.Net, dsn.Addr = "tcp", net.JoinHostPort(kv["mysql_host"], kv["mysql_port"])
	db, err := sql.Open("mysql", dsn.FormatDSN())
	require.NoError(t, err)
	defer db.Close()
	var who, host string
	require.NoError(t, db.QueryRow("SELECT CURRENT_USER(), HOST FROM information_schema.PROCESSLIST WHERE ID = CONNECTION_ID()").Scan(&who, &host))
	// MariaDB may resolve 127.0.0.1 to localhost and match that account.
	assert.True(t, strings.HasPrefix(who, r.MySQLAdminUser+"@"), "logged in as %q", who)
	// A TCP client's host has its port ("localhost:40312"); a socket's has none.
	assert.Contains(t, host, ":", "connection host %q is not a TCP peer", host)
}

func TestConfigDirPostgreSQL(t *testing.T) {
	r := Get(t)
	kv := readConfig(t, r, "postgresql.cf", 0o600)
	assert.Equal(t, "postgres template1", kv["postgresql_lock_databases"])
	raw := kv["postgresql_admin_url"]
	u, err := url.Parse(raw)
	require.NoError(t, err, "postgresql_admin_url does not parse")
	assert.Equal(t, "postgres", u.Scheme)
	assert.Equal(t, "127.0.0.1:"+strconv.Itoa(r.PGPort), u.Host)
	assert.Equal(t, "/postgres", u.Path)
	assert.Equal(t, "disable", u.Query().Get("sslmode"))
	assert.Equal(t, r.PGAdminUser, u.User.Username())
	pw, ok := u.User.Password()
	assert.True(t, ok)
	assert.Equal(t, r.PGAdminPassword, pw)

	// The URL logs in as the superuser.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, raw)
	require.NoError(t, err)
	defer conn.Close(ctx)
	var super bool
	require.NoError(t, conn.QueryRow(ctx, "SELECT rolsuper FROM pg_roles WHERE rolname = current_user").Scan(&super))
	assert.True(t, super)
}

// TestConfigDirLibrary: library.cf names a database the realm made, so the
// front end's Library works out of the box.
func TestConfigDirLibrary(t *testing.T) {
	r := Get(t)
	raw := readConfig(t, r, "library.cf", 0o600)["library_connect_string"]
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, raw)
	require.NoError(t, err, "the library database does not exist or does not take logins")
	defer conn.Close(ctx)
	var db string
	require.NoError(t, conn.QueryRow(ctx, "SELECT current_database()").Scan(&db))
	assert.Equal(t, LibraryDB, db)
}

// TestPGURLPercentEncodes checks that PGURL escapes a password that is not
// URL-safe, so the URL in postgresql.cf parses back to the same password.
func TestPGURLPercentEncodes(t *testing.T) {
	r := &Realm{PGAdminUser: "postgres", PGAdminPassword: "p@ss:w/rd?#%", PGPort: 5432}
	s := r.PGURL("")
	assert.NotContains(t, s, r.PGAdminPassword)
	u, err := url.Parse(s)
	require.NoError(t, err)
	pw, _ := u.User.Password()
	assert.Equal(t, r.PGAdminPassword, pw)
	assert.Equal(t, "127.0.0.1:5432", u.Host)
	assert.Equal(t, "/postgres", u.Path)
	cfg, err := pgx.ParseConfig(s)
	require.NoError(t, err)
	assert.Equal(t, r.PGAdminPassword, cfg.Password)
	assert.Equal(t, "postgres", cfg.Database)
}

func TestConfigDirMailman(t *testing.T) {
	r := Get(t)
	kv := readConfig(t, r, "mailman.cf", 0o600)
	assert.Equal(t, "none", kv["members_list"])
	assert.Equal(t, "csclub.internal", kv["list_domain"])
	m, err := opsconfig.LoadMailman(r.ConfigDir)
	require.NoError(t, err)
	assert.True(t, m.Disabled(), "the realm runs no Mailman: the op must be disabled")
}

func TestConfigDirOtherFiles(t *testing.T) {
	r := Get(t)
	for name, mode := range map[string]os.FileMode{
		"accounts.cf": 0o644,
		"library.cf":  0o600,
		"ldap.conf":   0o644,
		"ops/ceo":     0o644,
	} {
		st, err := os.Stat(filepath.Join(r.ConfigDir, name))
		if assert.NoError(t, err) {
			assert.Equal(t, mode, st.Mode().Perm(), "mode of %s", name)
		}
	}
	// No file of the config dir that holds a password is readable by others.
	for _, s := range []string{r.MySQLAdminPassword, r.PGAdminPassword} {
		err := filepath.Walk(r.ConfigDir, func(p string, fi os.FileInfo, err error) error {
			if err != nil || fi.IsDir() {
				return err
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			if strings.Contains(string(b), s) {
				assert.Zero(t, fi.Mode().Perm()&0o077, "%s holds a password but has mode %v", p, fi.Mode().Perm())
			}
			return nil
		})
		require.NoError(t, err)
	}
}
