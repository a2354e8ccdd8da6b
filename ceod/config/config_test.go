package config

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/csclub/ceo/ceod/server"
	"github.com/csclub/ceo/internal/testreq"
	opsconfig "github.com/csclub/ceo/ops/config"
)

func TestParseKV(t *testing.T) {
	in := `# accounts.cf
member_min_id = 20001
  member_shell=/bin/bash
username_regex = "^[a-z][-a-z0-9]*$"
quoted_hash = "a # b"   # trailing comment
unquoted = value # comment
escaped = "say \"hi\" \\ bye"
empty =
spaces = "  padded  "
regex = "^\w+\.x$"
`
	got, err := ParseKV(strings.NewReader(in), "accounts.cf")
	require.NoError(t, err)
	want := []Entry{
		{Name: "member_min_id", Value: "20001", Line: 2},
		{Name: "member_shell", Value: "/bin/bash", Line: 3},
		{Name: "username_regex", Value: "^[a-z][-a-z0-9]*$", Line: 4},
		{Name: "quoted_hash", Value: "a # b", Line: 5},
		{Name: "unquoted", Value: "value", Line: 6},
		{Name: "escaped", Value: `say "hi" \ bye`, Line: 7},
		{Name: "empty", Value: "", Line: 8},
		{Name: "spaces", Value: "  padded  ", Line: 9},
		{Name: "regex", Value: `^\w+\.x$`, Line: 10},
	}
	assert.Equal(t, want, got)
}

func TestParseKVErrors(t *testing.T) {
	for in, want := range map[string]string{
		"novalue":                      `x.cf:1: expected "name = value"`,
		"\n\n= v":                      `x.cf:3: invalid name ""`,
		"a b = c":                      `x.cf:1: invalid name "a b"`,
		`k = "open`:                    "x.cf:1: value of k: missing closing double quote",
		`k = "secret" b`:               "x.cf:1: value of k: unexpected text after the closing quote",
		"a = 1\na = 2":                 "x.cf:2: a already set on line 1",
		strings.Repeat("x", 64<<10+10): "x.cf:1: line longer than 65536 bytes",
	} {
		_, err := ParseKV(strings.NewReader(in), "x.cf")
		require.Error(t, err, "%.20q", in)
		assert.Equal(t, "config: "+want, err.Error())
		var pe *ParseError
		assert.True(t, errors.As(err, &pe))
	}
}

func TestParseCeodDefaults(t *testing.T) {
	c, err := ParseCeod(strings.NewReader("# nothing\n"), "ceod.cf")
	require.NoError(t, err)
	assert.Equal(t, &Ceod{
		Listen:           ":9987",
		Port:             9987,
		ReplayCache:      "/var/lib/ceod/replay-cache",
		LibDir:           "/usr/lib/ceod",
		Limits:           server.Limits{}.WithDefaults(),
		ShutdownGrace:    30 * time.Second,
		Journal:          "/var/lib/ceod/journal.db",
		RecoveryInterval: 15 * time.Second,
		LDAPWrites:       "service",
	}, c)
	// The documented defaults.
	assert.Equal(t, 65536, c.Limits.MaxFrame)
	assert.Equal(t, 30*time.Second, c.Limits.WriteTimeout)
	assert.Equal(t, 4096, c.Limits.MaxStartups)
	assert.Equal(t, 4096, c.Limits.MaxStartupsPerAddr)
	assert.Equal(t, int64(32<<20), c.Limits.PreAuthBytes)
}

func TestParseCeodAllKeys(t *testing.T) {
	in := `listen = 127.0.0.1:19987
port = 19987
hostname = localhost
keytab = "/tmp/ceod.keytab"
service_principal = ceod/localhost
replay_cache = /srv/ceod/rc
lib_dir = /opt/ceod
max_frame = 4096
handshake_timeout = 3s
idle_timeout = 90
op_timeout = 2m
write_timeout = 5s
max_conns = 10
max_startups = 8
max_startups_per_ip = 2
max_conns_per_principal = 3
preauth_bytes = 1000000
caller_realms = CSCLUB.INTERNAL OTHER.ORG
caller_instances = alice/admin=alice bob/root=bob
shutdown_grace = 25s
journal = /srv/ceod/journal.db
recovery_interval = 1m
delegate_ops = renew, group
ldap_writes = delegated
`
	c, err := ParseCeod(strings.NewReader(in), "ceod.cf")
	require.NoError(t, err)
	assert.Equal(t, &Ceod{
		Listen:           "127.0.0.1:19987",
		Port:             19987,
		Hostname:         "localhost",
		Keytab:           "/tmp/ceod.keytab",
		ServicePrincipal: "ceod/localhost",
		ReplayCache:      "/srv/ceod/rc",
		LibDir:           "/opt/ceod",
		Limits: server.Limits{
			MaxFrame:             4096,
			HandshakeTimeout:     3 * time.Second,
			IdleTimeout:          90 * time.Second,
			WriteTimeout:         5 * time.Second,
			OpTimeout:            2 * time.Minute,
			MaxConns:             10,
			MaxStartups:          8,
			MaxStartupsPerAddr:   2,
			MaxConnsPerPrincipal: 3,
			PreAuthBytes:         1000000,
		},
		Callers: server.Callers{
			Realms:    []string{"CSCLUB.INTERNAL", "OTHER.ORG"},
			Instances: map[string]string{"alice/admin": "alice", "bob/root": "bob"},
		},
		ShutdownGrace:    25 * time.Second,
		Journal:          "/srv/ceod/journal.db",
		RecoveryInterval: time.Minute,
		DelegateOps:      []string{"renew", "group"},
		LDAPWrites:       "delegated",
	}, c)
	_, err = ParseCeod(strings.NewReader("ldap_writes = caller\n"), "ceod.cf")
	assert.ErrorContains(t, err, `ldap_writes: want service or delegated, got "caller"`)
	// The bound that keeps ceod under systemd's TimeoutStopSec.
	_, err = ParseCeod(strings.NewReader("shutdown_grace = 31s\n"), "ceod.cf")
	assert.ErrorContains(t, err, "at most 30s")
	_, err = ParseCeod(strings.NewReader("journal = relative.db\n"), "ceod.cf")
	assert.ErrorContains(t, err, "absolute path")
}

func TestParseCeodListenFollowsPort(t *testing.T) {
	c, err := ParseCeod(strings.NewReader("port = 12345\n"), "ceod.cf")
	require.NoError(t, err)
	assert.Equal(t, ":12345", c.Listen)
}

func TestParseCeodErrors(t *testing.T) {
	for in, want := range map[string]string{
		"\nlisten_addr = :1":         `ceod.cf:2: unknown key "listen_addr"`,
		"port = 0":                   `ceod.cf:1: port: want an integer between 1 and 65535, got "0"`,
		"port = 70000":               `ceod.cf:1: port: want an integer between 1 and 65535, got "70000"`,
		"port = 1\nport = 2":         `ceod.cf:2: port already set on line 1`,
		"listen = 9987":              `ceod.cf:1: listen: want host:port or :port, got "9987"`,
		"max_frame = 65537":          `ceod.cf:1: max_frame: want an integer between 1024 and 65536, got "65537"`,
		"max_frame = 10":             `ceod.cf:1: max_frame: want an integer between 1024 and 65536, got "10"`,
		"idle_timeout = soon":        `ceod.cf:1: idle_timeout: want a duration such as "30s", got "soon"`,
		"op_timeout = 0":             `ceod.cf:1: op_timeout: must be between 1ns and 24h, got "0"`,
		"op_timeout = -1s":           `ceod.cf:1: op_timeout: must be between 1ns and 24h, got "-1s"`,
		"op_timeout = 99999999999":   `ceod.cf:1: op_timeout: want a duration such as "30s", got "99999999999"`,
		"max_conns = many":           `ceod.cf:1: max_conns: want an integer between 1 and 1048576, got "many"`,
		"max_conns_per_ip = 2":       `ceod.cf:1: max_conns_per_ip is now max_startups_per_ip: only unauthenticated connections are limited per address (authenticated ones per principal: max_conns_per_principal)`,
		"preauth_bytes = 10":         `ceod.cf:1: preauth_bytes: want an integer between 65536 and 1073741824, got "10"`,
		"caller_instances = alice=a": `ceod.cf:1: caller_instances: want NAME/INSTANCE=USER, got "alice=a"`,
		"caller_instances = a/b=c/d": `ceod.cf:1: caller_instances: want NAME/INSTANCE=USER, got "a/b=c/d"`,
		"hostname = a b":             `ceod.cf:1: hostname: invalid host name "a b"`,
		"hostname = ceod/x":          `ceod.cf:1: hostname: invalid host name "ceod/x"`,
		"service_principal = \"\"":   `ceod.cf:1: service_principal: empty`,
	} {
		_, err := ParseCeod(strings.NewReader(in), "ceod.cf")
		if assert.Error(t, err, in) {
			assert.Equal(t, "config: "+want, err.Error(), in)
		}
	}
}

func TestLoadCeodMissingFile(t *testing.T) {
	c, err := LoadCeod(t.TempDir())
	require.NoError(t, err)
	assert.Equal(t, ":9987", c.Listen)
	assert.Equal(t, 9987, c.Port)
}

// TestShippedCeodExample checks that the shipped ceod.cf.example names
// only real keys: with every "#key = value" line uncommented, it must
// parse and yield the defaults.
// keyName is what a documented key looks like in the example.
var keyName = regexp.MustCompile(`^[a-z_]+$`)

func TestShippedCeodExample(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "debian", "conf", "ceod.cf.example"))
	testreq.Check(t, "the shipped debian/conf/ceod.cf.example", err)
	var lines []string
	keys := 0
	for _, l := range strings.Split(string(b), "\n") {
		// Set keys (the legacy quota prototypes) count as documented too.
		if k, _, ok := strings.Cut(strings.TrimPrefix(l, "#"), " = "); ok && keyName.MatchString(k) {
			l = strings.TrimPrefix(l, "#")
			keys++
		}
		lines = append(lines, l)
	}
	c, err := ParseCeod(strings.NewReader(strings.Join(lines, "\n")), "ceod.cf.example")
	require.NoError(t, err)
	assert.Equal(t, 24+len(opsconfig.ExtensionKeys), keys, "every key documented once")
	assert.Equal(t, LDAPWritesService, c.LDAPWrites)
	assert.Equal(t, DefaultReplayCache, c.ReplayCache)
	assert.Equal(t, ":9987", c.Listen)
	assert.Equal(t, server.DefaultMaxFrame, c.Limits.MaxFrame)
	assert.Equal(t, DefaultShutdownGrace, c.ShutdownGrace)
}

// TestParseCeodExtensions: the account-op keys are kept for the ops, in
// order and with their lines; anything else unknown is still an error.
func TestParseCeodExtensions(t *testing.T) {
	c, err := ParseCeod(strings.NewReader("port = 9987\nadmin_keytab = /etc/csc/admin.keytab\nquota_prototype = proto\n"), "ceod.cf")
	require.NoError(t, err)
	assert.Equal(t, []Entry{{Name: "admin_keytab", Value: "/etc/csc/admin.keytab", Line: 2}, {Name: "quota_prototype", Value: "proto", Line: 3}}, c.Extensions)

	_, err = ParseCeod(strings.NewReader("port = 9987\nadmin_keytabs = /x\n"), "ceod.cf")
	assert.EqualError(t, err, `config: ceod.cf:2: unknown key "admin_keytabs"`)
}
