package integration

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/csclub/ceo/ceod/daemon"
	"github.com/csclub/ceo/internal/realm"
)

// checkHost is a configuration of the realm's every op on one host, plus
// a program op and quotas, each of whose pieces a test case breaks.
type checkHost struct {
	dir   string            // CEO_CONFIG_DIR
	krb5  string            // KRB5_CONFIG
	files map[string]string // relative to dir: contents, edited by a case
	lib   string
	homes string
}

func newCheckHost(t *testing.T, r *realm.Realm) *checkHost {
	t.Helper()
	base := t.TempDir()
	h := &checkHost{dir: filepath.Join(base, "config"), krb5: filepath.Join(base, "krb5.conf"),
		lib: filepath.Join(base, "lib"), homes: filepath.Join(base, "homes"), files: map[string]string{}}
	for _, name := range []string{"accounts.cf", "ceod.cf", "mysql.cf", "postgresql.cf", "mailman.cf", "ceod.acl", "ops/ceo"} {
		b, err := os.ReadFile(filepath.Join(r.ConfigDir, name))
		require.NoError(t, err)
		h.files[name] = string(b)
	}
	krb5, err := os.ReadFile(r.KRB5Config)
	require.NoError(t, err)
	h.files["../krb5.conf"] = string(krb5)
	for _, d := range []string{"members", "clubs", "skel", "hooks"} {
		require.NoError(t, os.MkdirAll(filepath.Join(h.homes, d), 0o755))
	}
	require.NoError(t, os.MkdirAll(h.lib, 0o755))
	h.program(t, "lib/op-legacyop")
	h.program(t, "homes/hooks/notify")
	h.program(t, "lib/setquota")
	h.set("accounts.cf", "member_home", filepath.Join(h.homes, "members"))
	h.set("accounts.cf", "club_home", filepath.Join(h.homes, "clubs"))
	h.set("accounts.cf", "member_home_skel", filepath.Join(h.homes, "skel"))
	h.set("accounts.cf", "club_home_skel", filepath.Join(h.homes, "skel"))
	h.set("accounts.cf", "notify_hook", filepath.Join(h.homes, "hooks/notify"))
	h.set("ceod.cf", "lib_dir", h.lib)
	h.set("ceod.cf", "quota_prototype", "nobody")
	h.set("ceod.cf", "setquota_path", filepath.Join(h.lib, "setquota"))
	h.files["ops/ceo"] += "localhost legacyop nobody 0x20\n"
	return h
}

func (h *checkHost) program(t *testing.T, rel string) {
	t.Helper()
	require.NoError(t, os.WriteFile(filepath.Join(filepath.Dir(h.dir), rel), []byte("#!/bin/sh\nexit 0\n"), 0o755))
}

// set replaces key's line in file, or adds one; an empty value removes it.
func (h *checkHost) set(file, key, value string) {
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(key) + ` = .*\n`)
	s := re.ReplaceAllString(h.files[file], "")
	if value != "" {
		s += key + " = " + value + "\n"
	}
	h.files[file] = s
}

// check writes the files and runs ceod -check.
func (h *checkHost) check(t *testing.T) (string, int) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Join(h.dir, "ops"), 0o755))
	for name, data := range h.files {
		require.NoError(t, os.WriteFile(filepath.Join(h.dir, name), []byte(data), 0o600))
	}
	var out bytes.Buffer
	err := daemon.Run(context.Background(), daemon.Options{
		Args:   []string{"-check", "-config", h.dir},
		Getenv: func(k string) string { return map[string]string{"KRB5_CONFIG": h.krb5}[k] },
		Stderr: &out,
		Canon:  canon,
	})
	if err != nil {
		fmt.Fprintf(&out, "ceod: %v\n", err)
	}
	return out.String(), daemon.ExitStatus(err)
}

// aclLine is the number of the line of acl that begins with text.
func aclLine(acl, text string) string {
	for i, l := range strings.Split(acl, "\n") {
		if strings.HasPrefix(l, text) {
			return fmt.Sprint(i + 1)
		}
	}
	return "?"
}

// TestCheckNamesEachMissingPiece breaks one thing ceod needs at a time,
// on a host that owns every op, and expects "ceod -check" to fail
// naming it, with the exit status that tells systemd whether to retry.
func TestCheckNamesEachMissingPiece(t *testing.T) {
	r := realm.Get(t)
	out, code := newCheckHost(t, r).check(t)
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "ops: adduser=0x1(builtin) mail=0x2(builtin) mysql=0x3(builtin)")

	const fatal, transient = daemon.ExitConfig, daemon.ExitTempFail
	for _, tc := range []struct {
		name   string
		break_ func(t *testing.T, h *checkHost)
		code   int
		want   string
	}{
		{"service keytab missing", func(t *testing.T, h *checkHost) { h.set("ceod.cf", "keytab", "/nonexistent/krb5.keytab") },
			fatal, "problem: service keytab: loading /nonexistent/krb5.keytab"},
		{"service keytab without the principal", func(t *testing.T, h *checkHost) { h.set("ceod.cf", "service_principal", "ceod/other.example") },
			fatal, "problem: service keytab: " + r.CeodKeytab + " has no key for ceod/other.example"},
		{"admin keytab not set", func(t *testing.T, h *checkHost) { h.set("ceod.cf", "admin_keytab", "") },
			fatal, "problem: admin keytab (admin_keytab in ceod.cf): not set"},
		{"admin keytab missing", func(t *testing.T, h *checkHost) { h.set("ceod.cf", "admin_keytab", "/nonexistent/admin.keytab") },
			fatal, "problem: admin keytab (admin_keytab in ceod.cf): stat /nonexistent/admin.keytab"},
		{"admin keytab without the admin principal", func(t *testing.T, h *checkHost) { h.set("ceod.cf", "admin_keytab", r.CeodKeytab) },
			fatal, "has no key for " + r.AdminPrincipal},
		{"kadmin missing", func(t *testing.T, h *checkHost) { h.set("ceod.cf", "kadmin_path", "/nonexistent/kadmin") },
			fatal, "problem: kadmin (kadmin_path; package krb5-user)"},
		{"setquota missing", func(t *testing.T, h *checkHost) { h.set("ceod.cf", "setquota_path", "/nonexistent/setquota") },
			fatal, "problem: setquota (setquota_path; package quota)"},
		{"quota prototype unknown", func(t *testing.T, h *checkHost) { h.set("ceod.cf", "quota_prototype", "no-such-user") },
			fatal, "problem: quota prototype (quota_prototype in ceod.cf): user: unknown user no-such-user"},
		{"club quota prototype unknown", func(t *testing.T, h *checkHost) { h.set("ceod.cf", "club_quota_prototype", "no-such-club") },
			fatal, "problem: quota prototype (club_quota_prototype in ceod.cf): user: unknown user no-such-club"},
		{"member home root missing", func(t *testing.T, h *checkHost) { os.Remove(filepath.Join(h.homes, "members")) },
			fatal, "problem: home root (member_home): " + filepath.Join("HOMES", "members") + " does not exist"},
		{"club home root missing", func(t *testing.T, h *checkHost) { os.Remove(filepath.Join(h.homes, "clubs")) },
			fatal, "problem: home root (club_home)"},
		{"skeleton missing", func(t *testing.T, h *checkHost) { os.Remove(filepath.Join(h.homes, "skel")) },
			fatal, "problem: skeleton (member_home_skel)"},
		{"hook not executable", func(t *testing.T, h *checkHost) { os.Chmod(filepath.Join(h.homes, "hooks/notify"), 0o644) },
			fatal, "problem: hook (notify_hook): " + filepath.Join("HOMES", "hooks/notify") + " is not executable"},
		{"op program missing", func(t *testing.T, h *checkHost) { os.Remove(filepath.Join(h.lib, "op-legacyop")) },
			fatal, "problem: op legacyop: program LIB/op-legacyop"},
		{"krb5 config missing", func(t *testing.T, h *checkHost) { delete(h.files, "../krb5.conf"); os.Remove(h.krb5) },
			fatal, "problem: krb5 config: open KRB5"},
		{"krb5 config of another realm", func(t *testing.T, h *checkHost) {
			h.files["../krb5.conf"] = strings.ReplaceAll(h.files["../krb5.conf"], r.Name, "OTHER.EXAMPLE")
		}, fatal, "does not mention the realm " + r.Name},
		{"LDAP unreachable", func(t *testing.T, h *checkHost) { h.set("accounts.cf", "ldap_server_url", "ldap://127.0.0.1:1") },
			transient, "problem (may pass by itself): LDAP (ldap://127.0.0.1:1)"},
		{"kadmind unreachable", func(t *testing.T, h *checkHost) {
			h.files["../krb5.conf"] = strings.Replace(h.files["../krb5.conf"], fmt.Sprintf("admin_server = 127.0.0.1:%d", r.KadminPort),
				"admin_server = 127.0.0.1:1", 1)
		}, transient, "problem (may pass by itself): kadmind (krb5_admin_principal " + r.AdminPrincipal + ")"},
		{"MariaDB unreachable", func(t *testing.T, h *checkHost) { h.set("mysql.cf", "mysql_port", "1") },
			transient, "problem (may pass by itself): MariaDB (mysql.cf): op mysql: connecting to MariaDB"},
		{"PostgreSQL unreachable", func(t *testing.T, h *checkHost) {
			h.files["postgresql.cf"] = strings.Replace(h.files["postgresql.cf"], fmt.Sprintf("127.0.0.1:%d", r.PGPort), "127.0.0.1:1", 1)
		}, transient, "problem (may pass by itself): PostgreSQL (postgresql.cf): op postgresql: connecting to PostgreSQL"},
		{"ceod.acl missing", func(t *testing.T, h *checkHost) { delete(h.files, "ceod.acl") },
			fatal, "problem: ACL: acl: open DIR/ceod.acl: no such file or directory"},
		{"ceod.acl without the mail and mysql rules", func(t *testing.T, h *checkHost) {
			h.files["ceod.acl"] = regexp.MustCompile(`(?m)^(mail|mysql) .*\n`).ReplaceAllString(h.files["ceod.acl"], "")
		}, fatal, "problem: ACL: acl: DIR/ceod.acl has no rule for mail, mysql, which this host serves"},
		{"ceod.acl with a garbled line", func(t *testing.T, h *checkHost) {
			h.files["ceod.acl"] = strings.Replace(h.files["ceod.acl"], "postgresql club-member", "postgresql club_member", 1)
		}, fatal, `problem: ACL: acl: ceod.acl:LINE: invalid WHO "club_member"`},
		{"MariaDB password wrong", func(t *testing.T, h *checkHost) { h.set("mysql.cf", "mysql_admin_password", "wrong") },
			fatal, "problem: MariaDB (mysql.cf): op mysql: connecting to MariaDB as " + r.MySQLAdminUser + ": Error 1045"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newCheckHost(t, r)
			tc.break_(t, h)
			out, code := h.check(t)
			want := strings.NewReplacer("HOMES", h.homes, "LIB", h.lib, "KRB5", h.krb5, "DIR", h.dir,
				"LINE", aclLine(h.files["ceod.acl"], "postgresql club_member")).Replace(tc.want)
			assert.Equal(t, tc.code, code, "exit status; output:\n%s", out)
			assert.Contains(t, out, want)
			assert.NotContains(t, out, "ops: adduser", "a failed check printed the op table")
		})
	}
}
