package krb5

import (
	"bufio"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/jcmturner/gokrb5/v8/config"

	"github.com/csclub/ceo/wire/krb5/internal/krbtest"
)

// parseCases are krb5.conf texts for comparing parseConfig with gokrb5's
// parser; they are also the fuzz seeds.
func parseCases(t testing.TB) []string {
	debian, err := os.ReadFile("testdata/debian-krb5.conf") // Debian 12's /etc/krb5.conf
	if err != nil {
		t.Fatal(err)
	}
	return []string{
		krbtest.Conf,
		string(debian),
		"",
		"# only a comment\n",
		"default_realm = OUTSIDE\n[libdefaults]\n default_realm = R ; comment\n\tforwardable = yes\n rdns = n\n noaddresses = FALSE\n",
		"[libdefaults]\n clockskew = 5m\n ticket_lifetime = 1d2h\n renew_lifetime = 7d\n",
		"[libdefaults]\n ticket_lifetime = 10:30:05\n renew_lifetime = 3600\n clockskew = 1:2:3:4\n",
		"[libdefaults]\n clockskew = abc\n",
		"[libdefaults]\n forwardable = maybe\n",
		"[libdefaults]\n no equals sign\n",
		"[libdefaults]\n default_tgs_enctypes = aes256-cts-hmac-sha1-96 des-cbc-crc rc4-hmac\n default_tkt_enctypes = DEFAULT\n permitted_enctypes = aes\n",
		"[libdefaults]\n allow_weak_crypto = true\n default_tgs_enctypes = des-cbc-crc rc4-hmac aes128-cts-hmac-sha256-128\n",
		"[libdefaults]\n ccache_type = 5\n",
		"[libdefaults]\n ccache_type = 3\n kdc_timesync = 0\n realm_try_domains = -1\n safe_checksum_type = 12\n udp_preference_limit = 32700\n",
		"[libdefaults]\n udp_preference_limit = 32701\n",
		"[libdefaults]\n realm_try_domains = -2\n",
		"[libdefaults]\n kdc_timesync = -1\n",
		"[libdefaults]\n kdc_default_options = 0x40000010\n",
		"[libdefaults]\n kdc_default_options = zz\n",
		"[libdefaults]\n preferred_preauth_types = 17,16, 15\n",
		"[libdefaults]\n preferred_preauth_types = 17,16,15\n",
		"[libdefaults]\n extra_addresses = 10.0.0.1,::1,bogus\n",
		"[libdefaults]\n default_realm = A=B\n default_keytab_name = FILE:/etc/k.keytab\n k5login_directory = /k\n",
		"[realms]\n R = {\n  kdc = h\n  kdc = h2*\n  kdc = h3\n  admin_server = a:749\n  master_kdc = m\n  default_domain = r.org\n }\n S = {\n  kdc = s:88*\n  kdc = t:88\n  kpasswd_server = k:464\n }\n",
		"[realms]\n R = {\n  kdc = h:88\n  v4_instance_convert = {\n   kerberos = kerberos\n  }\n  v4_realm = OLD\n  admin_server = a\n }\n",
		"[realms]\n R = {\n  kdc\n }\n",
		"[realms]\n R {\n }\n",
		"[realms]\n }\n",
		"[realms]\n R = {\n  kdc = h:88\n  }\n }\n",
		"[realms]\n R = { kdc = h:88 }\n",
		"[domain_realm]\n .Example.ORG = EXAMPLE.ORG\n host.example.org = OTHER # c\n\n",
		"[domain_realm]\n no equals\n",
		"[realms]\n[libdefaults]\n default_realm = R\n[realms]\n",
		"[logging]\n kdc = FILE:/var/log/kdc.log\n[capaths]\n A = {\n  B = .\n }\n  [libdefaults] trailing\n default_realm = R\n",
		"\t [domain_realm]\r\n h = R\r\n",
	}
}

// gokrb5Parse runs gokrb5's own parser, reporting a panic.
func gokrb5Parse(s string) (cfg *config.Config, err error, panicked bool) {
	defer func() {
		if recover() != nil {
			cfg, err, panicked = nil, nil, true
		}
	}()
	cfg, err = config.NewFromString(s)
	return cfg, err, false
}

func oursParse(s string) (cfg *config.Config, err error, panicked bool) {
	defer func() {
		if recover() != nil {
			cfg, err, panicked = nil, nil, true
		}
	}()
	cfg, err = parseConfig(strings.NewReader(s))
	return cfg, err, false
}

// compareParsers fails if parseConfig and gokrb5 disagree on s: the same
// config, the same error text, unsupported directives alike, panics alike.
func compareParsers(t *testing.T, s string) {
	t.Helper()
	want, wantErr, wantPanic := gokrb5Parse(s)
	got, gotErr, gotPanic := oursParse(s)
	if wantPanic || gotPanic {
		if wantPanic != gotPanic {
			t.Fatalf("%q: gokrb5 panicked %v, ours %v (err %v)", s, wantPanic, gotPanic, gotErr)
		}
		return
	}
	var unsupported config.UnsupportedDirective
	switch {
	case errors.As(wantErr, &unsupported):
		if gotErr != errUnsupported {
			t.Fatalf("%q: gokrb5 %v, ours %v", s, wantErr, gotErr)
		}
	case wantErr != nil || gotErr != nil:
		if wantErr == nil || gotErr == nil || wantErr.Error() != gotErr.Error() {
			t.Fatalf("%q: gokrb5 error %v, ours %v", s, wantErr, gotErr)
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%q:\ngokrb5 %+v\nours   %+v", s, want, got)
	}
}

// TestParseConfigMatchesGokrb5: the regexp-free parser gives gokrb5's
// results, errors and panics.
func TestParseConfigMatchesGokrb5(t *testing.T) {
	outcomes := map[string]int{}
	for _, s := range parseCases(t) {
		compareParsers(t, s)
		switch _, err, panicked := oursParse(s); {
		case panicked:
			outcomes["panic"]++
		case err == errUnsupported:
			outcomes["unsupported"]++
		case err != nil:
			outcomes["error"]++
		default:
			outcomes["ok"]++
		}
	}
	if len(outcomes) != 4 {
		t.Errorf("the cases reach only %v", outcomes)
	}
	cfg, err := parseConfig(strings.NewReader(parseCases(t)[1]))
	if err != nil || cfg.LibDefaults.DefaultRealm != "ATHENA.MIT.EDU" || len(cfg.Realms) < 10 {
		t.Fatalf("Debian's krb5.conf: %v, %+v", err, cfg)
	}
}

func FuzzParseConfig(f *testing.F) {
	for _, s := range parseCases(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		// gokrb5 stops silently at a line longer than a bufio.Scanner
		// token; ours reports it. Compare only below that.
		if len(s) >= bufio.MaxScanTokenSize {
			return
		}
		compareParsers(t, s)
	})
}

// BenchmarkLoadConfig: a ceoc call loads krb5.conf once.
func BenchmarkLoadConfig(b *testing.B) {
	for _, tc := range []struct{ name, path string }{{"debian", "testdata/debian-krb5.conf"}} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := LoadConfigFile(tc.path); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
