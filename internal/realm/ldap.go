package realm

import (
	"embed"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The schemas slapd needs beyond Debian's stock ones: the club schema, the
// sudo schema (only shipped by sudo-ldap, which conflicts with sudo), and
// nis.schema with posixGroup AUXILIARY so `group` + `posixGroup` entries
// load (rfc2307bis style, as production uses).
//
//go:embed schema/*.schema
var schemas embed.FS

// CurrentTerm is the club term holding t: [wsf]YYYY.
func CurrentTerm(t time.Time) string {
	season := "wsf"[(int(t.Month())-1)/4]
	return fmt.Sprintf("%c%d", season, t.Year())
}

// SlapdLimits are the slapd.conf lines a club's directory needs (in the
// database section): the default limit of 500 entries for searches that
// do not page, and unlimited paged reads (size.prtotal) for authenticated
// users, which ceo and ceod always use. Without size.prtotal, a paged
// search also stops at the hard limit, 500.
const SlapdLimits = `sizelimit 500
limits users size.soft=500 size.hard=500 size.prtotal=unlimited`

func (r *Realm) slapdConf() string {
	admin := r.UserDN(r.AdminPrincipal)
	syscom := fmt.Sprintf(`group/group/uniqueMember="%s"`, r.GroupDN("syscom"))
	office := fmt.Sprintf(`group/group/uniqueMember="%s"`, r.GroupDN("office"))
	schemaDir := r.path("ldap/schema")
	return fmt.Sprintf(`# Throwaway test realm slapd.conf (generated).
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include %[1]s/nis.schema
include /etc/ldap/schema/inetorgperson.schema
include %[1]s/csc.schema
include %[1]s/sudo.schema

pidfile %[2]s/run/slapd.pid
argsfile %[2]s/run/slapd.args
modulepath /usr/lib/ldap
moduleload back_mdb

sasl-host localhost
sasl-realm %[3]s
authz-regexp "^uid=([^,]+),cn=%[3]s,cn=gssapi,cn=auth$" "uid=$1,%[4]s"

database mdb
suffix "%[5]s"
rootdn "%[6]s"
rootpw %[7]s
directory %[2]s/ldap/data
maxsize 268435456
# A throwaway realm: no fsync per write, so seeding thousands is quick.
dbnosync
index objectClass eq
index uid,cn eq,sub
index memberUid,uniqueMember eq
index uidNumber,gidNumber eq
index term,nonMemberTerm,position eq

# Limits as on a real server: searches that do not page stop at
# OpenLDAP's default 500 entries, so a client that forgets to page fails
# here as it would in production; authenticated users may page through
# everything (RFC 2696). The same lines are in the README's install
# section and debian/ceo-daemon.README.Debian.
%[12]s

%[13]s

# The university directory (legacy uwldap), a second tree: anyone may
# read it, anonymously too; the first tree's rootdn adds test entries.
database mdb
suffix "%[11]s"
directory %[2]s/ldap/uwdata
maxsize 16777216
index objectClass eq
index uid eq,sub
access to *
	by dn.exact="%[6]s" write
	by * read
`, schemaDir, r.Dir, r.Name, r.UsersBase, r.LDAPBase, r.LDAPRootDN, r.LDAPRootPassword, admin, syscom, office, r.UWBase, SlapdLimits, r.acl(admin, syscom, office))
}

// legacyACL is the club's slapd ACL as legacy ceo needed it: the front
// end wrote the directory with the user's ticket.
const legacyACL = `# ceod/admin writes everything; syscom manages the directory; office
# registers terms; members change their own shell.
access to attrs=userPassword
	by dn.exact="%[1]s" write
	by self write
	by anonymous auth
	by * none
access to attrs=loginShell
	by dn.exact="%[1]s" write
	by %[2]s write
	by self write
	by * read
access to attrs=term,nonMemberTerm
	by dn.exact="%[1]s" write
	by %[2]s write
	by %[3]s write
	by * read
access to *
	by dn.exact="%[1]s" write
	by %[2]s write
	by * read`

// strictACL is the slapd ACL of strict mode (Options.StrictLDAP): ceod's
// member ops write member, group and position data as ceod's service
// identity (AdminPrincipal), and nobody else writes them (program too:
// ceo updateprograms goes through ceod's op program).
const strictACL = `# Strict: only ceod's service identity writes; office and syscom read.
access to attrs=userPassword
	by dn.exact="%[1]s" write
	by anonymous auth
	by * none
access to *
	by dn.exact="%[1]s" write
	by * read`

// acl is the first tree's access control: legacy's or strict mode's.
func (r *Realm) acl(admin, syscom, office string) string {
	if r.StrictLDAP {
		return fmt.Sprintf(strictACL, admin)
	}
	return fmt.Sprintf(legacyACL, admin, syscom, office)
}

// UWPerson is an entry of the realm's university directory.
type UWPerson struct{ UID, Name, Program string }

// uwPeople seeds the university directory: people who are not members
// yet, and the seeded users with a program different from their "Testing".
func uwPeople() []UWPerson {
	return []UWPerson{
		{"nnewton", "Nadia Newton", "Computer Science"},
		{"nnguyen", "Ngoc Nguyen", "Mathematics"},
		{"regular1", "Regular One", "Mathematics"},
		{"syscom1", "Syscom One", "Engineering"},
	}
}

// UWPersonDN is the DN of a person in the university directory.
func (r *Realm) UWPersonDN(uid string) string { return "uid=" + uid + ",ou=People," + r.UWBase }

func (r *Realm) uwSeedLDIF() string {
	var b strings.Builder
	dc := strings.SplitN(strings.TrimPrefix(r.UWBase, "dc="), ",", 2)[0]
	fmt.Fprintf(&b, "dn: %s\nobjectClass: top\nobjectClass: dcObject\nobjectClass: organization\no: University\ndc: %s\n\n", r.UWBase, dc)
	fmt.Fprintf(&b, "dn: ou=People,%s\nobjectClass: top\nobjectClass: organizationalUnit\nou: People\n\n", r.UWBase)
	for _, p := range r.UWPeople {
		sn := p.Name[strings.LastIndex(p.Name, " ")+1:]
		fmt.Fprintf(&b, "dn: %s\nobjectClass: top\nobjectClass: inetOrgPerson\nuid: %s\ncn: %s\nsn: %s\nou: %s\n\n",
			r.UWPersonDN(p.UID), p.UID, p.Name, sn, p.Program)
	}
	return b.String()
}

// seedLDIF is the directory's initial content; extra adds members to
// office and syscom (seeded accounts, see Seed).
func (r *Realm) seedLDIF(extra map[string][]string) string {
	var b strings.Builder
	dc := strings.SplitN(strings.TrimPrefix(r.LDAPBase, "dc="), ",", 2)[0]
	fmt.Fprintf(&b, "dn: %s\nobjectClass: top\nobjectClass: dcObject\nobjectClass: organization\no: Computer Science Club\ndc: %s\n\n", r.LDAPBase, dc)
	for _, ou := range []string{"People", "Group", "SUDOers"} {
		fmt.Fprintf(&b, "dn: ou=%s,%s\nobjectClass: top\nobjectClass: organizationalUnit\nou: %s\n\n", ou, r.LDAPBase, ou)
	}
	term := CurrentTerm(time.Now())
	members := map[string][]string{}
	for _, u := range r.sortedUsers() {
		fmt.Fprintf(&b, "dn: %s\nobjectClass: top\nobjectClass: account\nobjectClass: posixAccount\nobjectClass: shadowAccount\nobjectClass: member\n", r.UserDN(u.Name))
		fmt.Fprintf(&b, "uid: %s\ncn: Test %s\nuidNumber: %d\ngidNumber: %d\nhomeDirectory: %s\nloginShell: /bin/bash\nprogram: Testing\nterm: %s\n\n",
			u.Name, u.Name, u.UID, u.UID, filepath.Join(r.HomeRoot, u.Name), term)
		fmt.Fprintf(&b, "dn: %s\nobjectClass: top\nobjectClass: group\nobjectClass: posixGroup\ncn: %s\ngidNumber: %d\n\n", r.GroupDN(u.Name), u.Name, u.UID)
		for _, g := range u.Groups {
			members[g] = append(members[g], u.Name)
		}
	}
	for i, g := range []string{"office", "syscom"} {
		fmt.Fprintf(&b, "dn: %s\nobjectClass: top\nobjectClass: group\nobjectClass: posixGroup\ncn: %s\ngidNumber: %d\n", r.GroupDN(g), g, 10001+i)
		// Each attribute's values together: slapadd -q stores an
		// attribute given in several runs as several attributes, and
		// LDAP clients then see only the first run.
		ms := append(members[g], extra[g]...)
		for _, m := range ms {
			fmt.Fprintf(&b, "memberUid: %s\n", m)
		}
		for _, m := range ms {
			fmt.Fprintf(&b, "uniqueMember: %s\n", r.UserDN(m))
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "dn: cn=%%syscom,%s\nobjectClass: top\nobjectClass: sudoRole\ncn: %%syscom\nsudoUser: %%syscom\nsudoHost: ALL\nsudoCommand: ALL\n\n", r.SudoBase)
	return b.String()
}

func (r *Realm) startLDAP() error {
	bins, err := findBinaries("slapd", "slapadd")
	if err != nil {
		return err
	}
	slapd, slapadd := bins[0], bins[1]
	ents, err := schemas.ReadDir("schema")
	if err != nil {
		return err
	}
	for _, e := range ents {
		b, err := schemas.ReadFile("schema/" + e.Name())
		if err != nil {
			return err
		}
		if err := os.WriteFile(r.path("ldap/schema/"+e.Name()), b, 0o644); err != nil {
			return err
		}
	}
	conf := r.path("ldap/slapd.conf")
	// slapd.conf holds the rootpw: readable by its owner only.
	if err := os.WriteFile(conf, []byte(r.slapdConf()), 0o600); err != nil {
		return err
	}
	seed := r.path("ldap/seed.ldif")
	content := r.seedLDIF(nil)
	if r.seedOpts != nil {
		t0 := time.Now()
		ldif, st := r.seedEntries(*r.seedOpts)
		content = r.seedLDIF(seedStaff(*r.seedOpts, st)) + ldif
		defer func() { st.Took += time.Since(t0) }()
		r.seeded = st
	}
	if err := os.WriteFile(seed, []byte(content), 0o644); err != nil {
		return err
	}
	ldapConf := fmt.Sprintf("URI %s\nBASE %s\nSASL_MECH GSSAPI\n", r.LDAPURL, r.LDAPBase)
	if err := os.WriteFile(r.path("ldap/ldap.conf"), []byte(ldapConf), 0o644); err != nil {
		return err
	}
	uwSeed := r.path("ldap/uwseed.ldif")
	if err := os.WriteFile(uwSeed, []byte(r.uwSeedLDIF()), 0o644); err != nil {
		return err
	}
	env := r.krbEnv()
	if _, err := run(env, r.Dir, "", nil, slapadd, "-q", "-f", conf, "-b", r.LDAPBase, "-l", seed); err != nil {
		return err
	}
	if _, err := run(env, r.Dir, "", nil, slapadd, "-q", "-f", conf, "-b", r.UWBase, "-l", uwSeed); err != nil {
		return err
	}
	env = append(env, "KRB5_KTNAME=FILE:"+r.LDAPKeytab)
	d, err := startDaemon("slapd", r.path("log/slapd.log"), env, r.Dir, nil, syscall.SIGTERM,
		slapd, "-f", conf, "-h", "ldap://127.0.0.1:"+strconv.Itoa(r.LDAPPort)+"/", "-d", "stats")
	if err != nil {
		return err
	}
	r.daemons = append(r.daemons, d)
	return waitTCP(d, "127.0.0.1:"+strconv.Itoa(r.LDAPPort), 15*time.Second, r.path("log/slapd.log"))
}
