package ceoc

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func writeConfig(t *testing.T, ops, ceodcf string) string {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "ops"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "ops", "ceo"), []byte(ops), 0o644))
	if ceodcf != "" {
		require.NoError(t, os.WriteFile(filepath.Join(dir, "ceod.cf"), []byte(ceodcf), 0o644))
	}
	return dir
}

// writeKRB5Conf writes a krb5.conf whose KDC does not exist.
func writeKRB5Conf(t *testing.T) string {
	p := filepath.Join(t.TempDir(), "krb5.conf")
	require.NoError(t, os.WriteFile(p, []byte("[libdefaults]\n default_realm = X.TEST\n[realms]\n X.TEST = {\n  kdc = 127.0.0.1:1\n }\n"), 0o644))
	return p
}

func TestErrorText(t *testing.T) {
	err := error(&Error{Kind: ErrUnreachable, Op: "mail", Addr: "h:9987", Err: errors.New("connection refused"), Hint: "is ceod running?"})
	assert.Equal(t, "ceoc: mail: ceod unreachable (ceod at h:9987): connection refused (is ceod running?)", err.Error())
	assert.ErrorIs(t, err, ErrUnreachable)
	assert.NotErrorIs(t, err, ErrAuth)
	inner := errors.New("inner")
	assert.ErrorIs(t, &Error{Kind: ErrAuth, Err: inner}, inner)
	assert.Equal(t, "ceoc: op refused", (&Error{Kind: ErrRefused}).Error())
}

func TestLookup(t *testing.T) {
	dir := writeConfig(t, "h1 ping root 0x10\nh2 mail root 2\n", "port = 12345\n")
	c := &Client{ConfigDir: dir}
	op, err := c.lookup("mail")
	require.NoError(t, err)
	assert.Equal(t, "h2", op.Host)
	assert.Equal(t, 12345, c.port, "port from ceod.cf")

	_, err = c.lookup("nosuch")
	require.ErrorIs(t, err, ErrUnknownOp)
	assert.Equal(t, "ceoc: nosuch: unknown op (not in "+dir+"/ops)", err.Error())

	c = &Client{ConfigDir: writeConfig(t, "h1 ping root 0x10\n", ""), Port: 7}
	require.NoError(t, c.load())
	assert.Equal(t, 7, c.port, "Port overrides ceod.cf")
	c = &Client{ConfigDir: writeConfig(t, "h1 ping root 0x10\n", "")}
	require.NoError(t, c.load())
	assert.Equal(t, 9987, c.port, "default port")
}

func TestMissingConfig(t *testing.T) {
	c := &Client{ConfigDir: filepath.Join(t.TempDir(), "nope")}
	_, err := c.Call(context.Background(), "ping", nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "set CEO_CONFIG_DIR?")
}

func TestNoTicket(t *testing.T) {
	krb5conf := writeKRB5Conf(t)
	c := &Client{ConfigDir: writeConfig(t, "localhost ping root 0x10\n", ""), KRB5Config: krb5conf,
		Credentials: CCache("FILE:" + filepath.Join(t.TempDir(), "nocache"))}
	_, err := c.Call(context.Background(), "ping", nil)
	require.ErrorIs(t, err, ErrNoTicket)
	assert.Contains(t, err.Error(), "(run kinit)")
	assert.Contains(t, err.Error(), "ceoc: ping: ", "names the op")
}

// TestUnreachableNamesHostPort: a refused connection is reported with the
// host and port, before any Kerberos traffic (the KDC here does not
// exist).
func TestUnreachableNamesHostPort(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	krb5conf := writeKRB5Conf(t)
	c := &Client{ConfigDir: writeConfig(t, "127.0.0.1 ping root 0x10\n", ""), KRB5Config: krb5conf, Port: port,
		Credentials: Password("someone", "pw")}
	_, err = c.Call(context.Background(), "ping", nil)
	require.ErrorIs(t, err, ErrUnreachable)
	assert.Contains(t, err.Error(), "ceod at 127.0.0.1:"+strconv.Itoa(port))
}
