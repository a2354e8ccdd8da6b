package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// AccountsFile is the name of the accounts configuration inside a
// configuration directory.
const AccountsFile = "accounts.cf"

// Defaults of the extension fields and optional keys.
const (
	DefaultKadminPath    = "kadmin"
	DefaultSetquotaPath  = "setquota"
	DefaultSASLMech      = "GSSAPI"
	DefaultUsernameRegex = `^[a-z][-a-z0-9]*$`
)

// maxID is the largest uid/gid handed out: uid_t is 32 bits, and the top
// values are reserved ((uid_t)-1, and 65534 "nobody" is avoided by the
// range checks of the administrator, not here).
const maxID = 1<<31 - 2

// Accounts holds accounts.cf. Every legacy key is a typed field; the
// extension fields at the end are not read from accounts.cf but set by
// ceod from ceod.cf (see SetExtension).
type Accounts struct {
	MemberMinID, MemberMaxID int    // uid/gid range of members and club reps
	MemberShell              string // loginShell of new members
	MemberHome               string // homes go to MemberHome/NAME
	MemberHomeSkel           string // skeleton copied into new homes; "" for none

	ClubMinID, ClubMaxID int
	ClubShell            string
	ClubHome             string
	ClubHomeSkel         string

	AdminMinID, AdminMaxID int // reserved for administrative accounts; not handed out by adduser

	LDAPServerURL      string // ldap://, ldaps:// or ldapi:// URL
	LDAPUsersBase      string // e.g. ou=People,dc=csclub,dc=uwaterloo,dc=ca
	LDAPGroupsBase     string
	LDAPSudoBase       string
	LDAPSASLMech       string // only GSSAPI is supported
	LDAPSASLRealm      string
	LDAPAdminPrincipal string // principal ceod binds to LDAP as

	KRB5Realm          string
	KRB5AdminPrincipal string // principal ceod runs kadmin as

	NotifyHook string // run after each adduser; "" for none
	ExpireHook string

	// UsernameRegex is the compiled username_regex, anchored at both
	// ends whatever the file says: a name must match as a whole.
	// UsernamePattern is the expression as written, for messages.
	UsernameRegex     *regexp.Regexp
	UsernamePattern   string
	MinPasswordLength int
	ShellsFile        string
	MembersList       string
	ListDomain        string
	// UWLDAPServerURL and UWLDAPBase name the university directory the
	// front end reads names and programs from ("none": not used).
	UWLDAPServerURL string
	UWLDAPBase      string
	// ReservedNames are accounts.cf's reserved_names (blank or comma
	// separated), refused by adduser and the database ops on top of
	// BuiltinReservedNames.
	ReservedNames []string

	// Unknown lists keys of accounts.cf that this version does not use,
	// sorted, so that ceod can warn about them. They are not errors: the
	// file is shared with the legacy front end.
	Unknown []string

	// Extension fields, from ceod.cf.

	// AdminKeytab is the keytab holding the keys of LDAPAdminPrincipal
	// and KRB5AdminPrincipal (ceod.cf key admin_keytab).
	AdminKeytab string
	// QuotaPrototype is the user whose disk quota new accounts copy with
	// `setquota -a -p PROTO UID` (ceod.cf key quota_prototype). Empty
	// disables quotas.
	QuotaPrototype string
	// MemberQuotaPrototype, ClubRepQuotaPrototype and ClubQuotaPrototype,
	// if set, replace QuotaPrototype for that account type (ceod.cf keys
	// member_quota_prototype, clubrep_quota_prototype,
	// club_quota_prototype); legacy used ctdalek for members and csc for
	// clubs.
	MemberQuotaPrototype, ClubRepQuotaPrototype, ClubQuotaPrototype string
	// KadminPath is MIT's kadmin client (ceod.cf key kadmin_path),
	// default "kadmin" looked up in PATH.
	KadminPath string
	// SetquotaPath is setquota (ceod.cf key setquota_path), default
	// "setquota".
	SetquotaPath string
	// MailmanTrusted are the principals that may subscribe anyone with the
	// mailman op (ceod.cf key mailman_trusted_principals, space-separated):
	// the service principals of the ceods running adduser, which subscribe
	// each new member. Without realm, or with krb5_realm's.
	MailmanTrusted []string
	// ForwardDNSServer, if set, is the DNS server (host:port) the mail op
	// asks whether a forward's mail host exists (ceod.cf key
	// forward_dns_server); empty means the system's resolver.
	ForwardDNSServer string
	// KadminTimeout bounds one kadmin run (ceod.cf key kadmin_timeout);
	// zero means kadmin.DefaultTimeout.
	KadminTimeout time.Duration
	// LDAPBase is the subtree searched when checking that a uid/gid
	// number is unused and under which the id counters live (ceod.cf
	// key ldap_base). Default: the longest common suffix of the users and
	// groups bases.
	LDAPBase string
}

// LoadAccounts reads dir/accounts.cf. It checks every value (ranges,
// absolute paths, DNs, URL, the regular expression) and returns an error
// naming the file, line or key at fault.
func LoadAccounts(dir string) (*Accounts, error) {
	f, err := readFile(dir, AccountsFile)
	if err != nil {
		return nil, err
	}
	a, err := ParseAccounts(f.kv)
	if err != nil {
		return nil, fmt.Errorf("config: %s: %w", f.path, err)
	}
	return a, nil
}

// accountKeys are the legacy keys of accounts.cf and whether each is
// required.
var accountKeys = map[string]bool{
	"member_min_id": true, "member_max_id": true, "member_shell": true, "member_home": true, "member_home_skel": false,
	"club_min_id": true, "club_max_id": true, "club_shell": true, "club_home": true, "club_home_skel": false,
	"admin_min_id": false, "admin_max_id": false,
	"ldap_server_url": true, "ldap_users_base": true, "ldap_groups_base": true, "ldap_sudo_base": true,
	"ldap_sasl_mech": false, "ldap_sasl_realm": false, "ldap_admin_principal": true,
	"krb5_realm": true, "krb5_admin_principal": true,
	"notify_hook": false, "expire_hook": false,
	"username_regex": false, "min_password_length": true, "shells_file": false,
	"members_list": false, "list_domain": false, "reserved_names": false,
	"uwldap_server_url": false, "uwldap_base": false,
}

// ParseAccounts builds Accounts from parsed accounts.cf values and checks
// them. Extension fields get their defaults.
func ParseAccounts(kv map[string]string) (*Accounts, error) {
	var errs []error
	for k, req := range accountKeys {
		if v, ok := kv[k]; req && (!ok || v == "") {
			errs = append(errs, fmt.Errorf("%s: required", k))
		}
	}
	if len(errs) > 0 {
		slices.SortFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
		return nil, errors.Join(errs...)
	}
	p := parser{kv: kv}
	a := &Accounts{
		MemberMinID:    p.id("member_min_id"),
		MemberMaxID:    p.id("member_max_id"),
		MemberShell:    p.absPath("member_shell", true),
		MemberHome:     p.absPath("member_home", true),
		MemberHomeSkel: p.absPath("member_home_skel", false),
		ClubMinID:      p.id("club_min_id"),
		ClubMaxID:      p.id("club_max_id"),
		ClubShell:      p.absPath("club_shell", true),
		ClubHome:       p.absPath("club_home", true),
		ClubHomeSkel:   p.absPath("club_home_skel", false),

		LDAPServerURL:      p.ldapURL("ldap_server_url"),
		LDAPUsersBase:      p.dn("ldap_users_base"),
		LDAPGroupsBase:     p.dn("ldap_groups_base"),
		LDAPSudoBase:       p.dn("ldap_sudo_base"),
		LDAPSASLMech:       p.str("ldap_sasl_mech", DefaultSASLMech),
		LDAPSASLRealm:      p.str("ldap_sasl_realm", ""),
		LDAPAdminPrincipal: p.principal("ldap_admin_principal"),
		KRB5Realm:          p.str("krb5_realm", ""),
		KRB5AdminPrincipal: p.principal("krb5_admin_principal"),
		NotifyHook:         p.absPath("notify_hook", false),
		ExpireHook:         p.absPath("expire_hook", false),
		UsernameRegex:      p.regex("username_regex", DefaultUsernameRegex),
		UsernamePattern:    p.str("username_regex", DefaultUsernameRegex),
		MinPasswordLength:  p.intIn("min_password_length", 1, 128),
		ShellsFile:         p.absPath("shells_file", false),
		MembersList:        p.str("members_list", ""),
		ListDomain:         p.str("list_domain", ""),
		UWLDAPServerURL:    p.str("uwldap_server_url", ""),
		UWLDAPBase:         p.str("uwldap_base", ""),
		ReservedNames:      strings.FieldsFunc(p.str("reserved_names", ""), func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }),

		KadminPath:   DefaultKadminPath,
		SetquotaPath: DefaultSetquotaPath,
	}
	if _, ok := kv["admin_min_id"]; ok {
		a.AdminMinID = p.id("admin_min_id")
	}
	if _, ok := kv["admin_max_id"]; ok {
		a.AdminMaxID = p.id("admin_max_id")
	}
	if !strings.EqualFold(a.LDAPSASLMech, "GSSAPI") {
		p.fail("ldap_sasl_mech", "only GSSAPI is supported, got %q", a.LDAPSASLMech)
	}
	if strings.ContainsAny(a.KRB5Realm, " \t@/") {
		p.fail("krb5_realm", "invalid realm %q", a.KRB5Realm)
	}
	if p.ok() {
		p.ranges(a)
	}
	if p.ok() {
		if base, ok := CommonSuffix(a.LDAPUsersBase, a.LDAPGroupsBase); ok {
			a.LDAPBase = base
		} else {
			p.fail("ldap_groups_base", "%q and ldap_users_base %q share no suffix; set ldap_base in ceod.cf", a.LDAPGroupsBase, a.LDAPUsersBase)
		}
	}
	for k := range kv {
		if _, known := accountKeys[k]; !known {
			a.Unknown = append(a.Unknown, k)
		}
	}
	slices.Sort(a.Unknown)
	if err := p.err(); err != nil {
		return nil, err
	}
	return a, nil
}

// ranges checks that each id range is ordered and that no two overlap:
// an overlap would let adduser hand a club a number reserved for members.
func (p *parser) ranges(a *Accounts) {
	type rng struct {
		name   string
		lo, hi int
	}
	rs := []rng{{"member", a.MemberMinID, a.MemberMaxID}, {"club", a.ClubMinID, a.ClubMaxID}}
	if a.AdminMinID != 0 || a.AdminMaxID != 0 {
		rs = append(rs, rng{"admin", a.AdminMinID, a.AdminMaxID})
	}
	for _, r := range rs {
		if r.lo > r.hi {
			p.fail(r.name+"_min_id", "%d is above %s_max_id %d", r.lo, r.name, r.hi)
		}
	}
	for i := range rs {
		for j := i + 1; j < len(rs); j++ {
			x, y := rs[i], rs[j]
			if x.lo <= y.hi && y.lo <= x.hi {
				p.fail(y.name+"_min_id", "%s range %d-%d overlaps %s range %d-%d", y.name, y.lo, y.hi, x.name, x.lo, x.hi)
			}
		}
	}
}

// BuiltinReservedNames are never account or database names: each is a
// Kerberos or service principal's first component (or root), and an
// account of that name would let its owner pass for the service.
var BuiltinReservedNames = []string{"krbtgt", "kadmin", "K", "ceod", "host", "ldap", "root", "admin"}

// Reserved reports whether name is one of BuiltinReservedNames or
// ReservedNames, ignoring case (Kerberos and the ops compare names
// case-sensitively, people do not).
func (a *Accounts) Reserved(name string) bool {
	for _, list := range [][]string{BuiltinReservedNames, a.ReservedNames} {
		for _, r := range list {
			if strings.EqualFold(r, name) {
				return true
			}
		}
	}
	return false
}

// maxKadminTimeout caps kadmin_timeout: an adduser runs kadmin twice
// and must finish, undo included, within ceod's op_timeout.
const maxKadminTimeout = time.Minute

// ExtensionKeys are the ceod.cf keys SetExtension accepts.
var ExtensionKeys = []string{"admin_keytab", "quota_prototype", "kadmin_path", "setquota_path", "ldap_base", "forward_dns_server",
	"member_quota_prototype", "clubrep_quota_prototype", "club_quota_prototype", "mailman_trusted_principals", "kadmin_timeout"}

// IsExtension reports whether key is one of ExtensionKeys.
func IsExtension(key string) bool { return slices.Contains(ExtensionKeys, key) }

// SetExtension sets one of the extension fields by its ceod.cf key:
// admin_keytab, quota_prototype (and its per-type forms), kadmin_path,
// setquota_path, ldap_base, forward_dns_server, kadmin_timeout.
// It reports whether key is one of them, and an error for a bad value.
// ceod's ceod.cf parser can hand it the keys it does not know itself.
func (a *Accounts) SetExtension(key, value string) (known bool, err error) {
	switch key {
	case "admin_keytab":
		if !filepath.IsAbs(value) {
			return true, fmt.Errorf("admin_keytab: want an absolute path, got %q", value)
		}
		a.AdminKeytab = filepath.Clean(value)
	case "quota_prototype", "member_quota_prototype", "clubrep_quota_prototype", "club_quota_prototype":
		if value != "" && !protoName.MatchString(value) {
			return true, fmt.Errorf("%s: want a user name or number (or empty to disable quotas), got %q", key, value)
		}
		*map[string]*string{"quota_prototype": &a.QuotaPrototype, "member_quota_prototype": &a.MemberQuotaPrototype,
			"clubrep_quota_prototype": &a.ClubRepQuotaPrototype, "club_quota_prototype": &a.ClubQuotaPrototype}[key] = value
	case "kadmin_path":
		if value == "" {
			return true, errors.New("kadmin_path: empty")
		}
		a.KadminPath = value
	case "setquota_path":
		if value == "" {
			return true, errors.New("setquota_path: empty")
		}
		a.SetquotaPath = value
	case "mailman_trusted_principals":
		a.MailmanTrusted = nil
		for _, p := range strings.Fields(value) {
			if strings.Count(p, "@") > 1 || strings.HasPrefix(p, "@") || strings.HasSuffix(p, "@") {
				return true, fmt.Errorf("mailman_trusted_principals: invalid principal %q", p)
			}
			a.MailmanTrusted = append(a.MailmanTrusted, p)
		}
	case "forward_dns_server":
		if _, port, err := net.SplitHostPort(value); err != nil || port == "" {
			return true, fmt.Errorf("forward_dns_server: want host:port, got %q", value)
		}
		a.ForwardDNSServer = value
	case "kadmin_timeout":
		d, err := time.ParseDuration(value)
		if err != nil || d <= 0 || d > maxKadminTimeout {
			return true, fmt.Errorf("kadmin_timeout: want a duration up to %v, got %q", maxKadminTimeout, value)
		}
		a.KadminTimeout = d
	case "ldap_base":
		if _, err := ldap.ParseDN(value); err != nil || value == "" {
			return true, fmt.Errorf("ldap_base: invalid DN %q", value)
		}
		for _, b := range []string{a.LDAPUsersBase, a.LDAPGroupsBase} {
			if b != "" && !isUnder(b, value) {
				return true, fmt.Errorf("ldap_base: %q does not contain %q", value, b)
			}
		}
		a.LDAPBase = value
	default:
		return false, nil
	}
	return true, nil
}

// protoName is what setquota accepts as a prototype: a user name or a
// number, never an option.
var protoName = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]*$`)

// Kind names one of the account ranges of accounts.cf.
type Kind int

const (
	KindMember Kind = iota // members and club reps
	KindClub
)

func (k Kind) String() string {
	if k == KindClub {
		return "club"
	}
	return "member"
}

// IDRange returns the uid/gid range of a kind of account.
func (a *Accounts) IDRange(k Kind) (lo, hi int) {
	if k == KindClub {
		return a.ClubMinID, a.ClubMaxID
	}
	return a.MemberMinID, a.MemberMaxID
}

// Home returns the home root, skeleton and shell of a kind of account.
func (a *Accounts) Home(k Kind) (root, skel, shell string) {
	if k == KindClub {
		return a.ClubHome, a.ClubHomeSkel, a.ClubShell
	}
	return a.MemberHome, a.MemberHomeSkel, a.MemberShell
}

// parser collects every problem of a file rather than stopping at the
// first, so an administrator fixes them in one pass.
type parser struct {
	kv   map[string]string
	errs []error
}

func (p *parser) fail(key, format string, args ...any) {
	p.errs = append(p.errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
}

func (p *parser) ok() bool { return len(p.errs) == 0 }

func (p *parser) err() error {
	slices.SortFunc(p.errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
	return errors.Join(p.errs...)
}

func (p *parser) str(key, def string) string {
	if v, ok := p.kv[key]; ok && v != "" {
		return v
	}
	return def
}

func (p *parser) intIn(key string, lo, hi int) int {
	v := p.kv[key]
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		p.fail(key, "want an integer between %d and %d, got %q", lo, hi, v)
	}
	return n
}

func (p *parser) id(key string) int { return p.intIn(key, 1, maxID) }

func (p *parser) absPath(key string, required bool) string {
	v := p.kv[key]
	if v == "" && !required {
		return ""
	}
	if !filepath.IsAbs(v) {
		p.fail(key, "want an absolute path, got %q", v)
		return ""
	}
	return filepath.Clean(v)
}

func (p *parser) dn(key string) string {
	v := p.kv[key]
	if d, err := ldap.ParseDN(v); err != nil || len(d.RDNs) == 0 {
		p.fail(key, "invalid DN %q", v)
	}
	return v
}

func (p *parser) ldapURL(key string) string {
	v := p.kv[key]
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "ldap" && u.Scheme != "ldaps" && u.Scheme != "ldapi") || (u.Scheme != "ldapi" && u.Hostname() == "") {
		p.fail(key, "want an ldap://, ldaps:// or ldapi:// URL, got %q", v)
	}
	return v
}

func (p *parser) principal(key string) string {
	v := p.kv[key]
	if strings.ContainsAny(v, " \t\"'") || strings.HasPrefix(v, "-") || strings.HasPrefix(v, "/") || strings.HasPrefix(v, "@") {
		p.fail(key, "invalid principal %q", v)
	}
	return v
}

func (p *parser) regex(key, def string) *regexp.Regexp {
	v := p.str(key, def)
	re, err := regexp.Compile(`^(?:` + v + `)$`)
	if err != nil {
		p.fail(key, "invalid regular expression %q: %v", v, err)
	}
	return re
}

// CommonSuffix returns the longest common suffix of two DNs, RDN by RDN,
// compared case-insensitively, spelled as in a.
func CommonSuffix(a, b string) (string, bool) {
	da, err1 := ldap.ParseDN(a)
	db, err2 := ldap.ParseDN(b)
	if err1 != nil || err2 != nil {
		return "", false
	}
	i, j := len(da.RDNs)-1, len(db.RDNs)-1
	n := 0
	for i >= 0 && j >= 0 && da.RDNs[i].EqualFold(db.RDNs[j]) {
		i, j, n = i-1, j-1, n+1
	}
	if n == 0 {
		return "", false
	}
	parts := splitRDNs(a)
	return strings.Join(parts[len(parts)-n:], ","), true
}

// isUnder reports whether dn is base or inside it.
func isUnder(dn, base string) bool {
	d, err1 := ldap.ParseDN(dn)
	b, err2 := ldap.ParseDN(base)
	if err1 != nil || err2 != nil {
		return false
	}
	return d.EqualFold(b) || b.AncestorOfFold(d)
}

// splitRDNs splits a DN string on the commas that separate RDNs (not
// escaped ones), keeping each RDN's original spelling.
func splitRDNs(dn string) []string {
	var parts []string
	start := 0
	for i := 0; i < len(dn); i++ {
		switch dn[i] {
		case '\\':
			i++
		case ',':
			parts = append(parts, strings.TrimSpace(dn[start:i]))
			start = i + 1
		}
	}
	return append(parts, strings.TrimSpace(dn[start:]))
}
