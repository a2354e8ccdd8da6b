package config

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/csclub/ceo/ceoc/opsfile"
	"github.com/csclub/ceo/ceod/server"
	opsconfig "github.com/csclub/ceo/ops/config"
)

// CeodFile is the name of our own settings file inside the configuration
// directory. It is optional: a missing file means all defaults.
const CeodFile = "ceod.cf"

// Defaults of the ceod.cf settings. The limits' defaults, and their
// reasons, are server's (package ceod/server); they are not repeated
// here.
const (
	DefaultPort   = opsfile.DefaultPort
	DefaultLibDir = "/usr/lib/ceod"
	// DefaultShutdownGrace: ops take seconds; 30 s lets them finish
	// without making a restart wait long.
	DefaultShutdownGrace = 30 * time.Second
	// DefaultReplayCache is where accepted authenticators are kept so
	// that a restart does not let one be replayed (MIT keeps its rcache
	// under /var/tmp; ours belongs to ceod alone).
	DefaultReplayCache      = "/var/lib/ceod/replay-cache"
	DefaultJournal          = "/var/lib/ceod/journal.db"
	DefaultRecoveryInterval = 15 * time.Second
)

// MaxShutdownGrace caps shutdown_grace so that ceod always stops within
// the unit's TimeoutStopSec=45s (debian/ceo-daemon.ceod.service): the
// grace, then at most daemon.CloseWait (5s) for ops to notice, leaves
// 10s of margin. What an op could not finish stays in the journal and is
// recovered at the next start.
const MaxShutdownGrace = 30 * time.Second

// minMaxFrame is the smallest max_frame accepted: an AP-REQ with a
// ticket does not fit in less.
const minMaxFrame = 1024

// Ceod holds the settings of ceod.cf. Load returns it with every default
// filled in except those that depend on the running host (Hostname and
// ServicePrincipal may be empty; see their comments).
//
// The file uses the legacy "name = value" syntax (see ParseKV). Keys:
//
//	listen             address ceod listens on          default ":<port>"
//	port               TCP port of every ceod; ceoc     default 9987
//	                   dials it
//	hostname           this host's FQDN for locality    default: the FQDN of
//	                   and the service principal        the running host
//	keytab             keytab with the service key      default: $KRB5_KTNAME
//	                                                    or /etc/krb5.keytab
//	service_principal  principal ceod accepts for       default "ceod/<hostname>"
//	replay_cache       file of accepted authenticators, default
//	                   kept across restarts             /var/lib/ceod/replay-cache
//	lib_dir            directory of op-NAME programs    default /usr/lib/ceod
//	                                                    ($CEO_LIB_DIR overrides)
//	shutdown_grace     time in-flight ops get on        default 30s,
//	                   SIGTERM                          at most 30s
//	journal            write-ahead journal of the       default
//	                   multi-step ops (adduser)         /var/lib/ceod/journal.db
//	recovery_interval  how often unfinished requests    default 15s
//	                   are retried
//	delegate_ops       ops ceoc forwards the caller's   default none
//	                   TGT for (spaces or commas)
//	ldap_writes        whose credentials the member     default service
//	                   ops write LDAP with: service
//	                   (ceod's own, after ceod.acl)
//	                   or delegated (the caller's)
//
// The limits (see ceod/server.Limits for what each bounds and why):
//
//	max_frame                largest frame body, bytes            65536
//	handshake_timeout        whole authentication phase           10s
//	idle_timeout             wait for the next op                 60s
//	write_timeout            sending one reply                    30s
//	op_timeout               run time of one op                   120s
//	max_conns                all connections                      8192
//	max_startups             unauthenticated connections          4096
//	max_startups_per_ip      those from one address (IPv6: /64)   4096
//	max_conns_per_principal  authenticated, of one principal      256
//	preauth_bytes            token bytes of unauthenticated       33554432
//	                         connections together
//
// Who may call ops (see ceod/server.Callers):
//
//	caller_realms     realms whose principals may call, space-separated;
//	                  default: the service principal's realm
//	caller_instances  principals with an instance that may call, and the
//	                  user each acts as: "alice/admin=alice bob/root=bob";
//	                  default: none (every instance principal is refused)
//
// It also holds the settings of the account ops that are not in the
// legacy accounts.cf (admin_keytab, quota_prototype, kadmin_path,
// setquota_path, ldap_base; see ops/config.Accounts.SetExtension); they
// are kept in Extensions, unchecked, for the ops' configuration.
//
// Durations are Go durations ("90s", "2m") or a bare number of seconds.
// An unknown key is an error naming the key and its line.
type Ceod struct {
	Listen           string
	Port             int
	Hostname         string
	Keytab           string
	ServicePrincipal string
	ReplayCache      string
	LibDir           string
	ShutdownGrace    time.Duration
	Journal          string
	RecoveryInterval time.Duration
	// DelegateOps are the ops for which ceoc forwards the caller's TGT
	// (ceoc reads the key from the same file).
	DelegateOps []string
	// LDAPWrites is LDAPWritesService (or "", the same) or
	// LDAPWritesDelegated.
	LDAPWrites string
	// Limits has every default filled in.
	Limits  server.Limits
	Callers server.Callers

	// Extensions are the account-op settings, in file order.
	Extensions []Entry
}

// DefaultCeod returns the settings used when ceod.cf is absent.
func DefaultCeod() *Ceod {
	return &Ceod{
		Port:             DefaultPort,
		LibDir:           DefaultLibDir,
		ShutdownGrace:    DefaultShutdownGrace,
		ReplayCache:      DefaultReplayCache,
		Journal:          DefaultJournal,
		RecoveryInterval: DefaultRecoveryInterval,
		LDAPWrites:       LDAPWritesService,
		Limits:           server.Limits{}.WithDefaults(),
	}
}

// The values of ldap_writes.
const (
	LDAPWritesService   = "service"
	LDAPWritesDelegated = "delegated"
)

// LoadCeod reads dir/ceod.cf. A missing file yields DefaultCeod with
// Listen filled in; any other read or parse error is returned.
func LoadCeod(dir string) (*Ceod, error) {
	f, err := os.Open(filepath.Join(dir, CeodFile))
	if errors.Is(err, fs.ErrNotExist) {
		c := DefaultCeod()
		c.Listen = ":" + strconv.Itoa(c.Port)
		return c, nil
	}
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	return ParseCeod(f, CeodFile)
}

// ParseCeod parses a ceod.cf file read from r; name is used in errors.
func ParseCeod(r io.Reader, name string) (*Ceod, error) {
	entries, err := ParseKV(r, name)
	if err != nil {
		return nil, err
	}
	c := DefaultCeod()
	for _, e := range entries {
		if opsconfig.IsExtension(e.Name) {
			// Checked by the ops' configuration, which owns them.
			c.Extensions = append(c.Extensions, e)
			continue
		}
		if err := c.set(e.Name, e.Value); err != nil {
			return nil, &ParseError{File: name, Line: e.Line, Err: err}
		}
	}
	if c.Listen == "" {
		c.Listen = ":" + strconv.Itoa(c.Port)
	}
	return c, nil
}

func (c *Ceod) set(key, val string) error {
	var err error
	switch key {
	case "listen":
		if _, _, err = net.SplitHostPort(val); err != nil {
			return fmt.Errorf("listen: want host:port or :port, got %q", val)
		}
		c.Listen = val
	case "port":
		c.Port, err = intIn(key, val, 1, 65535)
	case "hostname":
		if val == "" || strings.ContainsAny(val, "/@ \t") {
			return fmt.Errorf("hostname: invalid host name %q", val)
		}
		c.Hostname = val
	case "keytab":
		c.Keytab = val
	case "service_principal":
		if val == "" {
			return fmt.Errorf("service_principal: empty")
		}
		c.ServicePrincipal = val
	case "replay_cache":
		if !filepath.IsAbs(val) {
			return fmt.Errorf("replay_cache: want an absolute path, got %q", val)
		}
		c.ReplayCache = val
	case "lib_dir":
		c.LibDir = val
	case "max_frame":
		c.Limits.MaxFrame, err = intIn(key, val, minMaxFrame, server.DefaultMaxFrame)
	case "handshake_timeout":
		c.Limits.HandshakeTimeout, err = duration(key, val)
	case "idle_timeout":
		c.Limits.IdleTimeout, err = duration(key, val)
	case "write_timeout":
		c.Limits.WriteTimeout, err = duration(key, val)
	case "op_timeout":
		c.Limits.OpTimeout, err = duration(key, val)
	case "max_conns":
		c.Limits.MaxConns, err = intIn(key, val, 1, maxCount)
	case "max_startups":
		c.Limits.MaxStartups, err = intIn(key, val, 1, maxCount)
	case "max_startups_per_ip":
		c.Limits.MaxStartupsPerAddr, err = intIn(key, val, 1, maxCount)
	case "max_conns_per_principal":
		c.Limits.MaxConnsPerPrincipal, err = intIn(key, val, 1, maxCount)
	case "max_conns_per_ip":
		return errors.New("max_conns_per_ip is now max_startups_per_ip: only unauthenticated connections are limited per address (authenticated ones per principal: max_conns_per_principal)")
	case "preauth_bytes":
		var n int
		n, err = intIn(key, val, server.DefaultMaxFrame, 1<<30)
		c.Limits.PreAuthBytes = int64(n)
	case "caller_realms":
		c.Callers.Realms = strings.Fields(val)
		if len(c.Callers.Realms) == 0 {
			return errors.New("caller_realms: empty (leave it unset for the local realm)")
		}
	case "caller_instances":
		c.Callers.Instances, err = instanceRules(val)
	case "shutdown_grace":
		c.ShutdownGrace, err = duration(key, val)
		if err == nil && c.ShutdownGrace > MaxShutdownGrace {
			return fmt.Errorf("shutdown_grace: at most %v (systemd stops ceod after 45s), got %q", MaxShutdownGrace, val)
		}
	case "journal":
		if !filepath.IsAbs(val) {
			return fmt.Errorf("journal: want an absolute path, got %q", val)
		}
		c.Journal = filepath.Clean(val)
	case "recovery_interval":
		c.RecoveryInterval, err = duration(key, val)
	case "delegate_ops":
		c.DelegateOps = opsfile.SplitOpList(val)
	case "ldap_writes":
		if val != LDAPWritesService && val != LDAPWritesDelegated {
			return fmt.Errorf("ldap_writes: want %s or %s, got %q", LDAPWritesService, LDAPWritesDelegated, val)
		}
		c.LDAPWrites = val
	default:
		return fmt.Errorf("unknown key %q", key)
	}
	return err
}

// maxCount bounds the count limits: far above what one host can hold.
const maxCount = 1 << 20

// instanceRules parses "alice/admin=alice bob/root=bob".
func instanceRules(val string) (map[string]string, error) {
	m := map[string]string{}
	for _, f := range strings.Fields(val) {
		p, u, ok := strings.Cut(f, "=")
		if !ok || !strings.Contains(p, "/") || strings.Contains(p, "@") || u == "" || strings.ContainsAny(u, "/@") {
			return nil, fmt.Errorf("caller_instances: want NAME/INSTANCE=USER, got %q", f)
		}
		m[p] = u
	}
	return m, nil
}

func intIn(key, val string, lo, hi int) (int, error) {
	n, err := strconv.Atoi(val)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("%s: want an integer between %d and %d, got %q", key, lo, hi, val)
	}
	return n, nil
}

// duration parses a Go duration or a bare number of seconds; it must be
// positive and at most a day.
func duration(key, val string) (time.Duration, error) {
	d, err := time.ParseDuration(val)
	if err != nil {
		n, aerr := strconv.Atoi(val)
		if aerr != nil || n < 0 || n > 86400 {
			return 0, fmt.Errorf("%s: want a duration such as \"30s\", got %q", key, val)
		}
		d = time.Duration(n) * time.Second
	}
	if d <= 0 || d > 24*time.Hour {
		return 0, fmt.Errorf("%s: must be between 1ns and 24h, got %q", key, val)
	}
	return d, nil
}
