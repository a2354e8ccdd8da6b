package realm

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// enctypes the KDC makes keys for: every AES enctype MIT 1.20 and gokrb5
// both support, so each can be tested. The first one encrypts tickets.
const kdcEnctypes = debianEnctypes +
	" aes256-cts-hmac-sha384-192:normal aes128-cts-hmac-sha256-128:normal"

// debianEnctypes is Debian's default supported_enctypes, what a club's
// KDC makes keys for unless its admin changes it. The aes-sha2 string-to-
// key costs kadmind about 60 ms of CPU per enctype (PBKDF2 with 32768
// iterations), so benchmarks of adduser are meant to run with these:
// CEO_REALM_ENCTYPES=debian.
const debianEnctypes = "aes256-cts-hmac-sha1-96:normal aes128-cts-hmac-sha1-96:normal"

// EnctypesEnv chooses the realm's enctypes: "debian" for Debian's
// default, unset for every AES enctype.
const EnctypesEnv = "CEO_REALM_ENCTYPES"

// supportedEnctypes is the KDC's supported_enctypes for this run.
func supportedEnctypes() string {
	if os.Getenv(EnctypesEnv) == "debian" {
		return debianEnctypes
	}
	return kdcEnctypes
}

// krbEnv is the environment for MIT programs run against this realm.
func (r *Realm) krbEnv() []string {
	return []string{
		"PATH=/usr/sbin:/usr/bin:/sbin:/bin",
		"LANG=C",
		"KRB5_CONFIG=" + r.KRB5Config,
		"KRB5_KDC_PROFILE=" + r.KDCProfile,
		"KRB5RCACHEDIR=" + r.path("run"),
		"KRB5CCNAME=FILE:" + r.path("run/krb5cc_setup"),
	}
}

func (r *Realm) krb5Conf() string {
	return fmt.Sprintf(`[libdefaults]
	default_realm = %[1]s
	dns_lookup_kdc = false
	dns_lookup_realm = false
	dns_canonicalize_hostname = false
	rdns = false
	ignore_acceptor_hostname = true
	udp_preference_limit = 1
	ticket_lifetime = 24h
	renew_lifetime = 7d
	forwardable = true

[realms]
	%[1]s = {
		kdc = 127.0.0.1:%[2]d
		admin_server = 127.0.0.1:%[3]d
		kpasswd_server = 127.0.0.1:%[4]d
	}

[domain_realm]
	localhost = %[1]s
	%[5]s = %[1]s
	.%[6]s = %[1]s
`, r.Name, r.KDCPort, r.KadminPort, r.KpasswdPort, canonicalHostname(), strings.ToLower(r.Name))
}

func (r *Realm) kdcConf() string {
	return fmt.Sprintf(`[kdcdefaults]
	kdc_listen = 127.0.0.1:%[2]d
	kdc_tcp_listen = 127.0.0.1:%[2]d

[realms]
	%[1]s = {
		database_name = %[5]s/kdc/principal
		key_stash_file = %[5]s/kdc/stash
		acl_file = %[5]s/kdc/kadm5.acl
		kadmind_listen = 127.0.0.1:%[3]d
		kpasswd_listen = 127.0.0.1:%[4]d
		max_life = 24h 0m 0s
		max_renewable_life = 7d 0h 0m 0s
		supported_enctypes = %[6]s
		default_principal_flags = +preauth
	}

[logging]
	kdc = FILE:%[5]s/log/krb5kdc.log
	admin_server = FILE:%[5]s/log/kadmind.log
	default = FILE:%[5]s/log/krb5lib.log
`, r.Name, r.KDCPort, r.KadminPort, r.KpasswdPort, r.Dir, supportedEnctypes())
}

// canonicalHostname is this machine's name as libldap sees it for a
// loopback peer (shared/docs/test-realm.md section 4): slapd needs an
// ldap/<that name> key too.
func canonicalHostname() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "localhost"
	}
	if cname, err := net.LookupCNAME(h); err == nil && cname != "" {
		return strings.ToLower(strings.TrimSuffix(cname, "."))
	}
	return strings.ToLower(h)
}

func (r *Realm) startKerberos() error {
	if err := os.WriteFile(r.KRB5Config, []byte(r.krb5Conf()), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(r.KDCProfile, []byte(r.kdcConf()), 0o644); err != nil {
		return err
	}
	acl := r.Principal(r.AdminPrincipal) + " admcil\n"
	if err := os.WriteFile(r.path("kdc/kadm5.acl"), []byte(acl), 0o644); err != nil {
		return err
	}
	bins, err := findBinaries("kdb5_util", "kadmin.local", "krb5kdc", "kadmind")
	if err != nil {
		return err
	}
	kdb5Util, kadminLocal, krb5kdcBin, kadmindBin := bins[0], bins[1], bins[2], bins[3]
	env := r.krbEnv()
	master := randomSecret()
	if _, err := run(env, r.Dir, master+"\n"+master+"\n", nil, kdb5Util, "create", "-s", "-r", r.Name); err != nil {
		return err
	}

	// One kadmin.local fed from stdin: it runs only the last -q given.
	host := canonicalHostname()
	var q strings.Builder
	fmt.Fprintf(&q, "addpol -minlength 4 default\n")
	principals := []struct{ name, keytab string }{
		{r.AdminPrincipal, r.AdminKeytab},
		{r.CeodPrincipal, r.CeodKeytab},
		{"ldap/localhost", r.LDAPKeytab},
	}
	if host != "localhost" {
		principals = append(principals, struct{ name, keytab string }{"ldap/" + host, r.LDAPKeytab})
	}
	for _, p := range principals {
		fmt.Fprintf(&q, "addprinc -randkey %s\nktadd -k %s %s\n", p.name, p.keytab, p.name)
	}
	for _, u := range r.sortedUsers() {
		fmt.Fprintf(&q, "addprinc -pw %s %s\n", u.Password, u.Name)
	}
	out, err := run(env, r.Dir, q.String(), nil, kadminLocal, "-r", r.Name)
	if err != nil {
		return err
	}
	if strings.Contains(out, "while ") { // kadmin.local exits 0 on failed queries
		return fmt.Errorf("kadmin.local setup failed:\n%s", redact(out, r.secrets()...))
	}

	kdc, err := startDaemon("krb5kdc", r.path("log/krb5kdc.out"), env, r.Dir, nil, syscall.SIGTERM,
		krb5kdcBin, "-n", "-r", r.Name, "-P", r.path("run/krb5kdc.pid"))
	if err != nil {
		return err
	}
	r.daemons = append(r.daemons, kdc)
	kadmind, err := startDaemon("kadmind", r.path("log/kadmind.out"), env, r.Dir, nil, syscall.SIGTERM,
		kadmindBin, "-nofork", "-r", r.Name, "-P", r.path("run/kadmind.pid"))
	if err != nil {
		return err
	}
	r.daemons = append(r.daemons, kadmind)
	if err := waitTCP(kdc, "127.0.0.1:"+strconv.Itoa(r.KDCPort), 15*time.Second, r.path("log/krb5kdc.log")); err != nil {
		return err
	}
	return waitTCP(kadmind, "127.0.0.1:"+strconv.Itoa(r.KadminPort), 15*time.Second, r.path("log/kadmind.log"))
}

// sortedUsers returns the seeded users in a stable order.
func (r *Realm) sortedUsers() []User {
	names := []string{"office1", "syscom1", "regular1"}
	out := make([]User, 0, len(names))
	for _, n := range names {
		out = append(out, r.Users[n])
	}
	return out
}

// secrets lists the realm's passwords, for redacting logs and errors.
func (r *Realm) secrets() []string {
	s := []string{r.LDAPRootPassword, r.MySQLAdminPassword, r.PGAdminPassword}
	for _, u := range r.Users {
		s = append(s, u.Password)
	}
	return s
}

func redact(s string, secrets ...string) string {
	for _, x := range secrets {
		if x != "" {
			s = strings.ReplaceAll(s, x, "REDACTED")
		}
	}
	return s
}
