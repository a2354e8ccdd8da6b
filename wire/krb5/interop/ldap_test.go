package interop

import (
	"strings"
	"testing"

	"github.com/go-ldap/ldap/v3"
	"github.com/jcmturner/gokrb5/v8/client"

	"github.com/csclub/ceo/internal/realm"
	"github.com/csclub/ceo/wire/krb5"
	"github.com/csclub/ceo/wire/krb5/ldapgss"
)

// whoami binds to the realm's slapd with SASL GSSAPI through ldapgss and
// returns the server's idea of who we are.
func whoami(t *testing.T, r *realm.Realm, cl *client.Client) string {
	t.Helper()
	conn, err := ldap.DialURL(r.LDAPURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.GSSAPIBind(ldapgss.NewClient(cl), r.LDAPPrincipal, ""); err != nil {
		t.Fatalf("GSSAPIBind: %v", err)
	}
	res, err := conn.WhoAmI(nil)
	if err != nil {
		t.Fatal(err)
	}
	return res.AuthzID
}

// TestLDAPBindKeytab binds as ceod/admin from its keytab, with each
// session-key enctype (slapd's Cyrus SASL sends MIT's RRC = 0
// integrity-only tokens, which stock go-ldap mis-parses).
func TestLDAPBindKeytab(t *testing.T) {
	r := realm.Get(t)
	// dn:uid=ceod/admin,ou=people,dc=csclub,dc=internal; slapd lowercases it.
	want := "dn:uid=" + r.AdminPrincipal + "," + r.UsersBase
	for _, et := range enctypes {
		t.Run(et.name, func(t *testing.T) {
			cl := adminClient(t, r, et.name)
			if got := whoami(t, r, cl); !strings.EqualFold(got, want) {
				t.Fatalf("WhoAmI = %q, want %q", got, want)
			}
		})
	}
}

// TestLDAPBindCCache binds as a user from a kinit-made ccache.
func TestLDAPBindCCache(t *testing.T) {
	r := realm.Get(t)
	cfg, err := krb5.LoadConfigFile(r.KRB5Config)
	if err != nil {
		t.Fatal(err)
	}
	user := r.Users["regular1"]
	cl, err := krb5.ClientFromCCache(cfg, r.Kinit(t, user.Name, user.Password))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := whoami(t, r, cl), "dn:uid="+user.Name+","+r.UsersBase; !strings.EqualFold(got, want) {
		t.Fatalf("WhoAmI = %q, want %q", got, want)
	}
}
