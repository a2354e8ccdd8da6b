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
	opsconfig "github.com/csclub/ceo/ops/config"
)

// CeodFile is the name of our own settings file inside the configuration
// directory. It is optional: a missing file means all defaults.
const CeodFile = "ceod.cf"

// Defaults of the ceod.cf settings.
const (
	DefaultPort             = opsfile.DefaultPort
	DefaultLibDir           = "/usr/lib/ceod"
	DefaultMaxFrame         = 65536 // the legacy limit; larger frames kill legacy peers
	DefaultHandshakeTimeout = 10 * time.Second
	DefaultIdleTimeout      = 60 * time.Second
	DefaultOpTimeout        = 120 * time.Second
	DefaultMaxConns         = 4096
	DefaultMaxConnsPerIP    = 256
	DefaultShutdownGrace    = 30 * time.Second
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
//	max_frame          largest frame body, bytes        default 65536
//	handshake_timeout  whole authentication phase       default 10s
//	idle_timeout       wait for the next op             default 60s
//	op_timeout         run time of one op               default 120s
//	max_conns          concurrent connections           default 4096
//	max_conns_per_ip   concurrent connections from one  default 256
//	                   address (IPv6: one /64)
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
	MaxFrame         int
	HandshakeTimeout time.Duration
	IdleTimeout      time.Duration
	OpTimeout        time.Duration
	MaxConns         int
	MaxConnsPerIP    int
	ShutdownGrace    time.Duration
	Journal          string
	RecoveryInterval time.Duration
	// DelegateOps are the ops for which ceoc forwards the caller's TGT
	// (ceoc reads the key from the same file).
	DelegateOps []string
	// LDAPWrites is LDAPWritesService (or "", the same) or
	// LDAPWritesDelegated.
	LDAPWrites string

	// Extensions are the account-op settings, in file order.
	Extensions []Entry
}

// DefaultCeod returns the settings used when ceod.cf is absent.
func DefaultCeod() *Ceod {
	return &Ceod{
		Port:             DefaultPort,
		LibDir:           DefaultLibDir,
		MaxFrame:         DefaultMaxFrame,
		HandshakeTimeout: DefaultHandshakeTimeout,
		IdleTimeout:      DefaultIdleTimeout,
		OpTimeout:        DefaultOpTimeout,
		MaxConns:         DefaultMaxConns,
		MaxConnsPerIP:    DefaultMaxConnsPerIP,
		ShutdownGrace:    DefaultShutdownGrace,
		ReplayCache:      DefaultReplayCache,
		Journal:          DefaultJournal,
		RecoveryInterval: DefaultRecoveryInterval,
		LDAPWrites:       LDAPWritesService,
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
		c.MaxFrame, err = intIn(key, val, minMaxFrame, DefaultMaxFrame)
	case "handshake_timeout":
		c.HandshakeTimeout, err = duration(key, val)
	case "idle_timeout":
		c.IdleTimeout, err = duration(key, val)
	case "op_timeout":
		c.OpTimeout, err = duration(key, val)
	case "max_conns":
		c.MaxConns, err = intIn(key, val, 1, 1<<20)
	case "max_conns_per_ip":
		c.MaxConnsPerIP, err = intIn(key, val, 1, 1<<20)
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
