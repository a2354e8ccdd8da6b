// Package realm starts a throwaway test realm: an MIT KDC and kadmind,
// OpenLDAP slapd with SASL GSSAPI and the club schema, MariaDB and
// PostgreSQL, each a foreground child process of the caller on loopback
// high ports in a fresh temporary directory. Stop ends every process it
// started, by pid. Several realms can run at once (distinct ports and
// directories). The recipe and its pitfalls are in
// shared/docs/test-realm.md.
package realm

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Ports are offsets from a random base, so a realm needs a contiguous,
// free block.
const (
	offKDC = iota
	offKadmin
	offKpasswd
	offLDAP
	offMySQL
	offPG
	offCeod
	offDNS
	portsPerRealm
)

// User is a seeded test account with a Kerberos password.
type User struct {
	Name     string
	Password string
	UID      int
	Groups   []string
}

// Realm is a running test realm. All paths are absolute.
type Realm struct {
	Dir  string // the realm's temp directory
	Name string // Kerberos realm, e.g. CSCLUB.INTERNAL
	Host string // service host name for ceod/ and ldap/ principals: "localhost"

	KRB5Config string // krb5.conf (export as KRB5_CONFIG)
	KDCProfile string // kdc.conf

	KDCPort, KadminPort, KpasswdPort, LDAPPort, MySQLPort, PGPort, CeodPort int
	DNSPort                                                                 int // UDP: the test DNS server (see DNSZones)

	AdminPrincipal string // "ceod/admin", allowed to add/delete/modify/get principals and write LDAP
	AdminKeytab    string
	CeodPrincipal  string // "ceod/localhost"
	CeodKeytab     string
	LDAPPrincipal  string // "ldap/localhost"
	LDAPKeytab     string

	LDAPURL, LDAPBase, UsersBase, GroupsBase, SudoBase string
	LDAPRootDN, LDAPRootPassword                       string

	// UWBase is the suffix of the second tree in the same slapd, standing
	// in for the university directory (legacy uwldap): readable
	// anonymously, seeded with UWPeople.
	UWBase   string
	UWPeople []UWPerson

	MySQLSocket, MySQLAdminUser, MySQLAdminPassword string
	PGSocketDir, PGAdminUser, PGAdminPassword       string

	Users     map[string]User // office1 (office), syscom1 (syscom), regular1 (neither)
	ConfigDir string          // a ready CEO_CONFIG_DIR for this realm
	HomeRoot  string          // where member and club homes go
	LibDir    string          // CEO_LIB_DIR for legacy-style op programs
	Journal   string          // ceod's journal (ceod.cf journal), in Dir
	// StrictLDAP: slapd lets only AdminPrincipal write (Options.StrictLDAP).
	StrictLDAP bool

	daemons []*daemon
	dns     *dnsServer
	// topology, if started, is stopped before the services it uses.
	topology *Topology

	seedOpts *SeedOptions // loaded by slapadd at start
	seedMu   sync.Mutex   // SeedOnce
	seeded   *Seeded
	seedErr  error
	stopMu   sync.Mutex
	stopped  bool
}

// Options tune Start. The zero value is a valid configuration.
type Options struct {
	Name     string // Kerberos realm; default CSCLUB.INTERNAL
	PortBase int    // 0 picks a random free block
	Dir      string // "" makes a fresh temp dir; otherwise it must be empty or absent
	Log      func(format string, args ...any)
	// Seed, if set, loads that many seeded members (see Seed) with
	// slapadd before slapd starts: the fastest way to a big directory.
	// SeedOnce then returns their counts.
	Seed *SeedOptions
	// StrictLDAP gives slapd the ACLs of a club whose front end writes
	// nothing: only ceod's service identity (AdminPrincipal, which ceod
	// writes as with ldap_writes = service) writes member, group and
	// position data (and program); office and syscom read like everyone
	// else. Without
	// it slapd has the legacy ACLs (office registers terms, syscom
	// writes everything), which ldap_writes = delegated needs.
	StrictLDAP bool
}

func (o *Options) logf(format string, args ...any) {
	if o.Log != nil {
		o.Log(format, args...)
	}
}

// Start builds and starts a realm. On failure everything it started is
// stopped and its directory removed (unless opts.Dir was given).
func Start(opts Options) (*Realm, error) {
	if opts.Name == "" {
		opts.Name = "CSCLUB.INTERNAL"
	}
	var lastErr error
	for attempt := 1; attempt <= 3; attempt++ {
		base := opts.PortBase
		if base == 0 {
			base = pickPortBase()
		}
		r, err := start(opts, base)
		if err == nil {
			return r, nil
		}
		lastErr = err
		// A fixed base or a missing program will not get better by retrying;
		// anything else may be a port taken between the check and the bind.
		if opts.PortBase != 0 || errors.Is(err, errNoBinary) {
			break
		}
		opts.logf("realm: attempt %d failed: %v", attempt, err)
	}
	return nil, lastErr
}

var errPortBusy = errors.New("realm: port in use")

// pickPortBase returns a random base in [20000, 32000), below Linux's
// ephemeral range, whose whole block is free right now.
func pickPortBase() int {
	for {
		base := 20000 + 10*rand.IntN(1200)
		free := true
		for i := 0; i < portsPerRealm; i++ {
			if !portFree(base + i) {
				free = false
				break
			}
		}
		if free {
			return base
		}
	}
}

func start(opts Options, base int) (r *Realm, err error) {
	for i := 0; i < portsPerRealm; i++ {
		if !portFree(base + i) {
			return nil, fmt.Errorf("%w: 127.0.0.1:%d", errPortBusy, base+i)
		}
	}
	dir := opts.Dir
	if dir == "" {
		// Short path: unix sockets must stay under 108 bytes.
		dir, err = os.MkdirTemp("", "realm-")
		if err != nil {
			return nil, fmt.Errorf("realm: %w", err)
		}
	} else {
		if ents, err := os.ReadDir(dir); err == nil && len(ents) > 0 {
			return nil, fmt.Errorf("realm: directory %s is not empty", dir)
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("realm: %w", err)
		}
	}
	dir, err = filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	// PostgreSQL runs as its own user and must traverse the directory.
	if err := os.Chmod(dir, 0o755); err != nil {
		return nil, fmt.Errorf("realm: %w", err)
	}
	r = newRealm(opts.Name, dir, base)
	r.seedOpts = opts.Seed
	r.StrictLDAP = opts.StrictLDAP
	defer func() {
		if err != nil {
			// The directory was empty or new: nothing of value is lost.
			r.Stop()
			os.RemoveAll(dir)
		}
	}()
	for _, sub := range []string{"kdc", "keytabs", "ldap/data", "ldap/uwdata", "ldap/schema", "run", "log", "mysql/data", "mysql/tmp", "pg", "config/ops", "home", "skel", "lib", "hooks"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			return r, fmt.Errorf("realm: %w", err)
		}
	}
	steps := []struct {
		name string
		fn   func() error
	}{
		{"dns", r.startDNS},
		{"kerberos", r.startKerberos},
		{"ldap", r.startLDAP},
		{"mariadb", r.startMariaDB},
		{"postgresql", r.startPostgres},
		{"config", r.writeConfigDir},
		{"env", r.writeEnv},
	}
	for _, s := range steps {
		t0 := time.Now()
		if err := s.fn(); err != nil {
			return r, fmt.Errorf("realm: %s: %w", s.name, err)
		}
		opts.logf("realm: %s ready in %v", s.name, time.Since(t0).Round(time.Millisecond))
	}
	return r, nil
}

func newRealm(name, dir string, base int) *Realm {
	base64 := strings.ToLower(strings.ReplaceAll(name, ".", ",dc="))
	ldapBase := "dc=" + base64
	p := func(rel string) string { return filepath.Join(dir, rel) }
	return &Realm{
		Dir:        dir,
		Name:       name,
		Host:       "localhost",
		KRB5Config: p("krb5.conf"),
		KDCProfile: p("kdc/kdc.conf"),

		KDCPort:     base + offKDC,
		KadminPort:  base + offKadmin,
		KpasswdPort: base + offKpasswd,
		LDAPPort:    base + offLDAP,
		MySQLPort:   base + offMySQL,
		PGPort:      base + offPG,
		CeodPort:    base + offCeod,
		DNSPort:     base + offDNS,

		AdminPrincipal: "ceod/admin",
		AdminKeytab:    p("keytabs/ceod-admin.keytab"),
		CeodPrincipal:  "ceod/localhost",
		CeodKeytab:     p("keytabs/ceod.keytab"),
		LDAPPrincipal:  "ldap/localhost",
		LDAPKeytab:     p("keytabs/ldap.keytab"),

		LDAPURL:          "ldap://localhost:" + strconv.Itoa(base+offLDAP),
		LDAPBase:         ldapBase,
		UsersBase:        "ou=People," + ldapBase,
		GroupsBase:       "ou=Group," + ldapBase,
		SudoBase:         "ou=SUDOers," + ldapBase,
		LDAPRootDN:       "cn=root," + ldapBase,
		LDAPRootPassword: randomSecret(),
		UWBase:           "dc=uwaterloo,dc=ca",
		UWPeople:         uwPeople(),

		MySQLSocket:        p("mysql/mysqld.sock"),
		MySQLAdminUser:     "ceod_admin",
		MySQLAdminPassword: randomSecret(),
		PGSocketDir:        p("pg/run"),
		PGAdminUser:        "postgres",
		PGAdminPassword:    randomSecret(),

		Users: map[string]User{
			"office1":  {Name: "office1", Password: randomSecret(), UID: 20001, Groups: []string{"office"}},
			"syscom1":  {Name: "syscom1", Password: randomSecret(), UID: 20002, Groups: []string{"syscom"}},
			"regular1": {Name: "regular1", Password: randomSecret(), UID: 20003},
		},
		ConfigDir: p("config"),
		HomeRoot:  p("home"),
		LibDir:    p("lib"),
		Journal:   p("ceod/journal.db"),
	}
}

// randomSecret makes a password for a throwaway realm. Not for production
// secrets (math/rand), but unique per realm so nothing can rely on it.
func randomSecret() string {
	const chars = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	b := make([]byte, 20)
	for i := range b {
		b[i] = chars[rand.IntN(len(chars))]
	}
	return string(b)
}

// Stop ends every process the realm started, in reverse order, and waits
// for each. It is safe to call more than once and from several goroutines.
// It does not remove the directory; Remove does.
func (r *Realm) Stop() error {
	r.stopMu.Lock()
	defer r.stopMu.Unlock()
	if r.stopped {
		return nil
	}
	r.stopped = true
	if r.topology != nil {
		r.topology.stop()
	}
	var errs []error
	for i := len(r.daemons) - 1; i >= 0; i-- {
		if err := r.daemons[i].stop(10 * time.Second); err != nil {
			errs = append(errs, err)
		}
	}
	if r.dns != nil {
		r.dns.stop()
	}
	return errors.Join(errs...)
}

// Remove stops the realm and deletes its directory.
func (r *Realm) Remove() error {
	err := r.Stop()
	if rmErr := os.RemoveAll(r.Dir); rmErr != nil {
		err = errors.Join(err, rmErr)
	}
	return err
}

// PIDs returns the pids of the realm's daemons, keyed by name.
func (r *Realm) PIDs() map[string]int {
	m := make(map[string]int, len(r.daemons))
	for _, d := range r.daemons {
		m[d.name] = d.pid()
	}
	return m
}

// UserDN is the LDAP DN of a user name.
func (r *Realm) UserDN(name string) string { return "uid=" + name + "," + r.UsersBase }

// GroupDN is the LDAP DN of a group name.
func (r *Realm) GroupDN(name string) string { return "cn=" + name + "," + r.GroupsBase }

// Principal qualifies a principal name with the realm.
func (r *Realm) Principal(name string) string { return name + "@" + r.Name }

func (r *Realm) path(rel string) string { return filepath.Join(r.Dir, rel) }
