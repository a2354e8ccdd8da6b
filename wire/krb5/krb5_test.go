package krb5

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/jcmturner/gokrb5/v8/iana/etypeID"
	"github.com/jcmturner/gokrb5/v8/iana/nametype"
	"github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/jcmturner/gokrb5/v8/types"

	"github.com/csclub/ceo/wire/krb5/internal/krbtest"
)

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadConfigEnv(t *testing.T) {
	good := writeFile(t, "krb5.conf", krbtest.Conf)
	t.Setenv("KRB5_CONFIG", good+":/nonexistent/second.conf")
	cfg, err := LoadConfig()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.LibDefaults.DefaultRealm != "TEST.REALM" {
		t.Fatalf("default_realm = %q", cfg.LibDefaults.DefaultRealm)
	}

	t.Setenv("KRB5_CONFIG", "/nonexistent/krb5.conf:"+good)
	if _, err := LoadConfig(); err == nil || !strings.Contains(err.Error(), "/nonexistent/krb5.conf") {
		t.Fatalf("first path missing: err = %v", err)
	}
}

func TestLoadConfigTolerance(t *testing.T) {
	v4 := strings.Replace(krbtest.Conf, "kdc = 127.0.0.1:1", "kdc = 127.0.0.1:1\n        v4_instance_convert = {\n            kerberos = kerberos\n        }", 1)
	cfg, err := LoadConfigFile(writeFile(t, "v4.conf", v4))
	if err != nil {
		t.Fatalf("UnsupportedDirective must be tolerated: %v", err)
	}
	if cfg.LibDefaults.DefaultRealm != "TEST.REALM" {
		t.Fatalf("default_realm = %q", cfg.LibDefaults.DefaultRealm)
	}

	bad := strings.Replace(krbtest.Conf, "udp_preference_limit = 1", "udp_preference_limit = 1\n    default_tgs_enctypes = DEFAULT", 1)
	if _, err := LoadConfigFile(writeFile(t, "bad.conf", bad)); err == nil || !strings.Contains(err.Error(), "default_tgs_enctypes") {
		t.Fatalf("DEFAULT enctypes: err = %v", err)
	}

	explicit := strings.Replace(krbtest.Conf, "udp_preference_limit = 1", "udp_preference_limit = 1\n    default_tgs_enctypes = aes128-cts-hmac-sha256-128", 1)
	cfg, err = LoadConfigFile(writeFile(t, "explicit.conf", explicit))
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.LibDefaults.DefaultTGSEnctypeIDs; !reflect.DeepEqual(got, []int32{etypeID.AES128_CTS_HMAC_SHA256_128}) {
		t.Fatalf("default_tgs_enctypes = %v", got)
	}

	if _, err := LoadConfigFile(filepath.Join(t.TempDir(), "missing.conf")); err == nil {
		t.Fatal("missing file: no error")
	}
	if _, err := LoadConfigFile(writeFile(t, "garbage.conf", "[libdefaults]\n clockskew = abc\n")); err == nil {
		t.Fatal("invalid config: no error")
	}
}

// TestLoadConfigParserPanic checks that a krb5.conf on which gokrb5's
// parser panics gives an error naming the offending line, through
// LoadConfigFile and LoadConfig.
func TestLoadConfigParserPanic(t *testing.T) {
	for _, tc := range []struct {
		name, conf string
		line       string // what the error must quote, with its number
	}{
		{"minimal", "[realms]\n R = { kdc = h:88 }\n", `line 2, "R = { kdc = h:88 }"`},
		{"in a full file", strings.Replace(krbtest.Conf, "[domain_realm]", "    OTHER.REALM = { kdc = 127.0.0.1:2 }\n[domain_realm]", 1),
			`line 10, "OTHER.REALM = { kdc = 127.0.0.1:2 }"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeFile(t, "krb5.conf", tc.conf)
			cfg, err := LoadConfigFile(path)
			if err == nil {
				t.Fatalf("no error; config %+v", cfg.Realms)
			}
			if cfg != nil {
				t.Fatal("a config returned with the error")
			}
			for _, want := range []string{"krb5: loading " + path, "gokrb5's parser failed", tc.line, "lines of their own"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
			var rerr runtime.Error
			if !errors.As(err, &rerr) {
				t.Errorf("error %q does not wrap the runtime error", err)
			}

			t.Setenv("KRB5_CONFIG", path)
			if _, err := LoadConfig(); err == nil || !strings.Contains(err.Error(), tc.line) {
				t.Errorf("LoadConfig: err = %v", err)
			}
		})
	}

	// The same realm over several lines loads.
	cfg, err := LoadConfigFile(writeFile(t, "ok.conf", "[libdefaults]\n default_realm = R\n[realms]\n R = {\n  kdc = h:88\n }\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Realms) != 1 || cfg.Realms[0].Realm != "R" || !reflect.DeepEqual(cfg.Realms[0].KDC, []string{"h:88"}) {
		t.Fatalf("realms = %+v", cfg.Realms)
	}
}

func TestSplitPrincipal(t *testing.T) {
	tests := []struct {
		in    string
		name  []string
		realm string
	}{
		{"alice@CSCLUB.INTERNAL", []string{"alice"}, "CSCLUB.INTERNAL"},
		{"ceod/admin@CSCLUB.INTERNAL", []string{"ceod", "admin"}, "CSCLUB.INTERNAL"},
		{"ceod/localhost", []string{"ceod", "localhost"}, ""},
		{"alice", []string{"alice"}, ""},
		{"a@b@R", []string{"a@b"}, "R"},
	}
	for _, tc := range tests {
		name, realm := SplitPrincipal(tc.in)
		if !reflect.DeepEqual(name.NameString, tc.name) || realm != tc.realm || name.NameType != nametype.KRB_NT_PRINCIPAL {
			t.Errorf("SplitPrincipal(%q) = %v %q, want %v %q", tc.in, name, realm, tc.name, tc.realm)
		}
	}
}

func TestCCachePath(t *testing.T) {
	tests := []struct{ in, want, err string }{
		{"FILE:/tmp/krb5cc_0", "/tmp/krb5cc_0", ""},
		{"/tmp/krb5cc_0", "/tmp/krb5cc_0", ""},
		{"KEYRING:persistent:0", "", "only FILE"},
		{"KCM:", "", "only FILE"},
		{"FILE:", "", "empty"},
	}
	for _, tc := range tests {
		got, err := ccachePath(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ccachePath(%q): err = %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ccachePath(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestDefaultCCacheName(t *testing.T) {
	t.Setenv("KRB5CCNAME", "")
	if got, want := DefaultCCacheName(), "FILE:/tmp/krb5cc_"; !strings.HasPrefix(got, want) {
		t.Errorf("DefaultCCacheName() = %q", got)
	}
	t.Setenv("KRB5CCNAME", "FILE:/x/y")
	if got := DefaultCCacheName(); got != "FILE:/x/y" {
		t.Errorf("DefaultCCacheName() = %q", got)
	}
}

// writeCCache writes a ccache for alice@TEST.REALM holding a TGT that
// ends at end (no TGT if end is zero).
func writeCCache(t *testing.T, end time.Time) string {
	t.Helper()
	const realm = "TEST.REALM"
	kt, err := krbtest.Keytab(realm, []string{"krbtgt/" + realm}, etypeID.AES256_CTS_HMAC_SHA1_96)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now().Add(-time.Hour)
	var creds []krbtest.Cred
	if !end.IsZero() {
		tkt, key, err := krbtest.Ticket(kt, realm, "krbtgt/"+realm, "alice", etypeID.AES256_CTS_HMAC_SHA1_96, start, end)
		if err != nil {
			t.Fatal(err)
		}
		creds = append(creds, krbtest.Cred{
			Server: types.NewPrincipalName(nametype.KRB_NT_SRV_INST, "krbtgt/"+realm),
			Ticket: tkt, Key: key, Start: start, End: end,
		})
	}
	p := filepath.Join(t.TempDir(), "krb5cc")
	if err := krbtest.WriteCCache(p, realm, "alice", creds...); err != nil {
		t.Fatal(err)
	}
	return p
}

func testConfig(t *testing.T) string {
	return writeFile(t, "krb5.conf", krbtest.Conf)
}

func TestClientFromCCache(t *testing.T) {
	cfg, err := LoadConfigFile(testConfig(t))
	if err != nil {
		t.Fatal(err)
	}

	valid := writeCCache(t, time.Now().Add(time.Hour))
	cl, err := ClientFromCCache(cfg, "FILE:"+valid)
	if err != nil {
		t.Fatalf("valid ccache: %v", err)
	}
	if got := cl.Credentials.CName().PrincipalNameString() + "@" + cl.Credentials.Domain(); got != "alice@TEST.REALM" {
		t.Errorf("client principal = %q", got)
	}

	t.Setenv("KRB5CCNAME", valid)
	if _, err := ClientFromCCache(cfg, ""); err != nil {
		t.Errorf("KRB5CCNAME ccache: %v", err)
	}

	truncated := filepath.Join(t.TempDir(), "truncated")
	b, _ := os.ReadFile(valid)
	if err := os.WriteFile(truncated, b[:len(b)/2], 0o600); err != nil {
		t.Fatal(err)
	}

	kinit := []struct{ name, path string }{
		{"missing", filepath.Join(t.TempDir(), "none")},
		{"expired", writeCCache(t, time.Now().Add(-time.Minute))},
		{"no TGT", writeCCache(t, time.Time{})},
	}
	for _, tc := range kinit {
		if _, err := ClientFromCCache(cfg, tc.path); err == nil || !strings.Contains(err.Error(), "run kinit") {
			t.Errorf("%s: err = %v, want one saying run kinit", tc.name, err)
		}
	}
	if _, err := ClientFromCCache(cfg, truncated); err == nil {
		t.Error("truncated ccache: no error")
	}
	if _, err := ClientFromCCache(cfg, "KCM:"); err == nil {
		t.Error("KCM ccache: no error")
	}
}

func writeKeytab(t *testing.T, principal, realm string) string {
	t.Helper()
	kt := keytab.New()
	for _, et := range []int32{etypeID.AES256_CTS_HMAC_SHA1_96, etypeID.AES128_CTS_HMAC_SHA1_96} {
		if err := kt.AddEntry(principal, realm, "service-pw", time.Now(), 2, et); err != nil {
			t.Fatal(err)
		}
	}
	b, err := kt.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "test.keytab")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestClientFromKeytab(t *testing.T) {
	cfg, err := LoadConfigFile(testConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	kt := writeKeytab(t, "ceod/admin", "TEST.REALM")
	for _, p := range []string{"ceod/admin", "ceod/admin@TEST.REALM"} {
		cl, err := ClientFromKeytab(cfg, p, kt)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if got := cl.Credentials.CName().PrincipalNameString() + "@" + cl.Credentials.Domain(); got != "ceod/admin@TEST.REALM" {
			t.Errorf("%s: client principal = %q", p, got)
		}
		if !cl.Credentials.HasKeytab() {
			t.Errorf("%s: client has no keytab", p)
		}
	}
	bad := []struct{ name, principal, path string }{
		{"other principal", "ceod/localhost", kt},
		{"other realm", "ceod/admin@OTHER.REALM", kt},
		{"missing keytab", "ceod/admin", filepath.Join(t.TempDir(), "none.keytab")},
		{"empty component", "ceod/", kt},
	}
	for _, tc := range bad {
		if _, err := ClientFromKeytab(cfg, tc.principal, tc.path); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
}

func TestClientFromPassword(t *testing.T) {
	cfg, err := LoadConfigFile(testConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	cl, err := ClientFromPassword(cfg, "alice", "pw")
	if err != nil {
		t.Fatal(err)
	}
	if got := cl.Credentials.CName().PrincipalNameString() + "@" + cl.Credentials.Domain(); got != "alice@TEST.REALM" {
		t.Errorf("client principal = %q", got)
	}
	if _, err := ClientFromPassword(cfg, "alice", ""); err == nil {
		t.Error("empty password: no error")
	}
	if _, err := ClientFromPassword(cfg, "alice@NO.KDC.REALM", "pw"); err == nil {
		t.Error("realm without KDC: no error")
	}
	cfg.LibDefaults.DefaultRealm = ""
	if _, err := ClientFromPassword(cfg, "alice", "pw"); err == nil {
		t.Error("no realm at all: no error")
	}
}
