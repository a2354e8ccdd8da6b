package daemon

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jcmturner/gokrb5/v8/keytab"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// configDir writes a configuration directory whose ceod.cf is ceodcf
// followed by a keytab with keys for the test hosts' principals and a
// lib_dir with the programs of the non-built-in ops.
func configDir(t *testing.T, ceodcf string) string {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "ops"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "ops", "ceo"), []byte(
		"h1.example ping root 0x10\nh1.example hello root 0x20\nh2.example quota nobody 0x21\nh3.example mail root 2\n"), 0o644))
	kt := keytab.New()
	for _, p := range []string{"ceod/h1.example", "ceod/h2.example", "ceod/h3.example", "ceod/alias.example"} {
		require.NoError(t, kt.AddEntry(p, "CSCLUB", "pw", time.Now(), 1, 18))
	}
	b, err := kt.Marshal()
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "keytab"), b, 0o600))
	lib := filepath.Join(dir, "lib")
	require.NoError(t, os.Mkdir(lib, 0o755))
	for _, op := range []string{"hello", "quota"} {
		require.NoError(t, os.WriteFile(filepath.Join(lib, "op-"+op), []byte("#!/bin/sh\n"), 0o755))
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "krb5.conf"), []byte("[libdefaults]\n\tdefault_realm = CSCLUB\n"), 0o644))
	for k, v := range map[string]string{"keytab": filepath.Join(dir, "keytab"), "lib_dir": lib} {
		if !strings.Contains(ceodcf, k+" =") {
			ceodcf += k + " = " + v + "\n"
		}
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "ceod.cf"), []byte(ceodcf), 0o644))
	return dir
}

// TestMissingProgram: as legacy ("cannot add op"), a local op whose
// op-NAME program is missing or not executable stops ceod and -check.
func TestMissingProgram(t *testing.T) {
	dir := configDir(t, "hostname = h1.example\n")
	krb5 := map[string]string{"KRB5_CONFIG": filepath.Join(dir, "krb5.conf")}
	prog := filepath.Join(dir, "lib", "op-hello")
	require.NoError(t, os.Chmod(prog, 0o644))
	out, err := runDaemon([]string{"-check", "-config", dir}, krb5)
	require.Error(t, err)
	assert.Equal(t, ExitConfig, ExitStatus(err))
	assert.Contains(t, out, "problem: op hello: program "+prog+": "+prog+" is not executable")
	require.NoError(t, os.Remove(prog))
	out, err = runDaemon([]string{"-check", "-config", dir}, krb5)
	require.Error(t, err)
	assert.Contains(t, out, "problem: op hello: program "+prog+": stat "+prog+": no such file or directory")
	// Another host's program is not this host's business.
	_, err = runDaemon([]string{"-check", "-config", dir, "-hostname", "h2.example"}, krb5)
	require.NoError(t, err)
}

func runDaemon(args []string, env map[string]string) (string, error) {
	var stderr bytes.Buffer
	err := Run(context.Background(), Options{
		Args: args,
		Getenv: func(k string) string {
			if v, ok := env[k]; ok || k != "KRB5_CONFIG" {
				return v
			}
			return "/nonexistent/krb5.conf" // never the host's
		},
		Stderr: &stderr,
		Canon:  func(_ context.Context, h string) (string, error) { return h, nil },
	})
	return stderr.String(), err
}

func TestCheck(t *testing.T) {
	dir := configDir(t, "hostname = h1.example\n")
	krb5 := filepath.Join(dir, "krb5.conf")
	out, err := runDaemon([]string{"-check"}, map[string]string{"CEO_CONFIG_DIR": dir, "KRB5_CONFIG": krb5})
	require.NoError(t, err)
	assert.Equal(t, "host h1.example, principal ceod/h1.example, ops: ping=0x10(builtin) hello=0x20(program)\n", out)

	out, err = runDaemon([]string{"-check", "-config", dir, "-hostname", "h2.example"}, map[string]string{"KRB5_CONFIG": krb5})
	require.NoError(t, err)
	assert.Equal(t, "host h2.example, principal ceod/h2.example, ops: quota=0x21(program)\n", out)

	// A built-in account op checks its configuration at startup, and
	// -check names every problem, not only the first.
	out, err = runDaemon([]string{"-check", "-config", dir, "-hostname", "h3.example"}, nil)
	require.Error(t, err)
	assert.Equal(t, ExitConfig, ExitStatus(err))
	assert.Contains(t, out, "problem: accounts.cf: config: open "+filepath.Join(dir, "accounts.cf"))
	assert.Contains(t, out, "problem: krb5 config: open /nonexistent/krb5.conf")

	// A host that owns no op: it may be DNS, so systemd should retry.
	out, err = runDaemon([]string{"-check", "-config", dir, "-hostname", "h9.example"}, nil)
	require.Error(t, err)
	assert.Equal(t, ExitTempFail, ExitStatus(err))
	assert.Contains(t, out, "problem (may pass by itself): ops: no op in the ops files")
}

// TestLegacyFlags: old init scripts start "ceod -d -q" (or the long
// forms); ceod accepts them as no-ops and says so in the log.
func TestLegacyFlags(t *testing.T) {
	dir := configDir(t, "hostname = h1.example\n")
	out, err := runDaemon([]string{"-d", "-q", "--detach", "--quiet", "-check", "-config", dir}, map[string]string{"KRB5_CONFIG": filepath.Join(dir, "krb5.conf")})
	require.NoError(t, err)
	for _, f := range []string{"-d", "-q", "-detach", "-quiet"} {
		assert.Contains(t, out, "legacy flag ignored: ceod runs in the foreground and logs to stderr (journald)\" flag="+f+"\n")
	}
	assert.Contains(t, out, "host h1.example, principal ceod/h1.example, ops: ping=0x10(builtin) hello=0x20(program)\n")
}

func TestServicePrincipalRealmStripped(t *testing.T) {
	dir := configDir(t, "hostname = h1.example\nservice_principal = ceod/alias.example@CSCLUB\n")
	out, err := runDaemon([]string{"-check", "-config", dir}, map[string]string{"KRB5_CONFIG": filepath.Join(dir, "krb5.conf")})
	require.NoError(t, err)
	assert.Contains(t, out, "principal ceod/alias.example,")
}

func TestRunErrors(t *testing.T) {
	good := configDir(t, "hostname = h1.example\n")
	for _, tt := range []struct {
		name  string
		args  []string
		env   map[string]string
		usage bool
		want  string
	}{
		{"unknown flag", []string{"-nope"}, nil, true, "flag provided but not defined"},
		{"argument", []string{"-config", good, "extra"}, nil, true, `unexpected argument "extra"`},
		{"log level", []string{"-config", good, "-log-level", "loud"}, nil, true, "-log-level"},
		{"log format", []string{"-config", good, "-log-format", "xml"}, nil, true, "-log-format must be text or json"},
		{"pprof all interfaces", []string{"-config", good, "-pprof", ":6060"}, nil, true, "only a loopback address"},
		{"pprof public", []string{"-config", good, "-pprof", "192.0.2.1:6060"}, nil, true, "only a loopback address"},
		{"pprof name", []string{"-config", good, "-pprof", "example.org:6060"}, nil, true, "only a loopback address"},
		{"pprof no port", []string{"-config", good, "-pprof", "127.0.0.1"}, nil, true, "-pprof"},
		{"bad ceod.cf", []string{"-config", configDir(t, "colour = blue\n")}, nil, false, `ceod.cf:1: unknown key "colour"`},
		{"no ops dir", []string{"-config", t.TempDir()}, nil, false, "reading ops directory"},
		{"keytab missing", []string{"-config", configDir(t, "hostname = h2.example\nkeytab = /nonexistent/krb5.keytab\n")}, nil, false,
			"loading /nonexistent/krb5.keytab"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out, err := runDaemon(tt.args, tt.env)
			require.Error(t, err)
			assert.Equal(t, tt.usage, errors.Is(err, errUsage) || errors.Is(err, flag.ErrHelp), "usage error: %v", err)
			assert.Contains(t, err.Error()+out, tt.want)
		})
	}
}

func TestLibDirFromEnv(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "ceod.cf"), []byte("lib_dir = /from/config\n"), 0o644))
	st, err := parseArgs(Options{Args: []string{"-config", dir},
		Getenv: func(k string) string { return map[string]string{"CEO_LIB_DIR": "/from/env"}[k] }, Stderr: &bytes.Buffer{}})
	require.NoError(t, err)
	assert.Equal(t, "/from/env", st.cf.LibDir)
	assert.Equal(t, DefaultKeytab, st.cf.Keytab)
}

func TestLoadKeytabWrongPrincipal(t *testing.T) {
	kt := keytab.New()
	require.NoError(t, kt.AddEntry("ceod/other.example", "CSCLUB", "pw", time.Now(), 1, 18))
	b, err := kt.Marshal()
	require.NoError(t, err)
	p := filepath.Join(t.TempDir(), "kt")
	require.NoError(t, os.WriteFile(p, b, 0o600))

	_, err = loadKeytab(p, "ceod/h1.example")
	require.Error(t, err)
	assert.True(t, strings.Contains(err.Error(), "has no key for ceod/h1.example"), err.Error())
	got, err := loadKeytab(p, "ceod/other.example")
	require.NoError(t, err)
	kt2, err := got.Keytab()
	require.NoError(t, err)
	assert.Len(t, kt2.Entries, 1)
}

// -check validates ceod.acl when there is one, naming the bad line.
func TestCheckACL(t *testing.T) {
	dir := configDir(t, "hostname = h1.example\n")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "ceod.acl"), []byte("# ok\nhello group:office\nshell self\n"), 0o644))
	krb5 := map[string]string{"KRB5_CONFIG": filepath.Join(dir, "krb5.conf")}
	out, err := runDaemon([]string{"-check", "-config", dir}, krb5)
	require.NoError(t, err)
	assert.Contains(t, out, filepath.Join(dir, "ceod.acl")+": rules for hello shell\n")

	require.NoError(t, os.WriteFile(filepath.Join(dir, "ceod.acl"), []byte("hello group:office\nshell wizard\n"), 0o644))
	_, err = runDaemon([]string{"-check", "-config", dir}, krb5)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "ceod.acl:2: invalid WHO \"wizard\"")
}

// TestStartRefuses: without -check ceod runs the same checks before it
// listens, and its exit status tells systemd whether to retry.
func TestStartRefuses(t *testing.T) {
	dir := configDir(t, "keytab = /nonexistent/krb5.keytab\nlisten = 127.0.0.1:0\n")
	krb5 := map[string]string{"KRB5_CONFIG": filepath.Join(dir, "krb5.conf")}
	out, err := runDaemon([]string{"-config", dir, "-hostname", "h2.example"}, krb5)
	require.Error(t, err)
	assert.Equal(t, ExitConfig, ExitStatus(err), "a missing keytab is not retried")
	assert.Contains(t, out, `problem="service keytab"`)
	assert.NotContains(t, out, "ceod listening")

	out, err = runDaemon([]string{"-config", dir, "-hostname", "h9.example"}, krb5)
	require.Error(t, err)
	assert.Equal(t, ExitTempFail, ExitStatus(err), "owning no op may be DNS: retried")
	assert.Contains(t, out, `problem=ops`)
	assert.NotContains(t, out, "ceod listening")
}
