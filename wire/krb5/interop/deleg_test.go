package interop

import (
	"strings"
	"testing"

	"github.com/jcmturner/gokrb5/v8/keytab"

	"github.com/csclub/ceo/internal/realm"
	"github.com/csclub/ceo/wire/krb5"
	"github.com/csclub/ceo/wire/krb5/gss"
)

// TestDelegationGoToGo: our initiator forwards a user's TGT (kinit -f) to
// our acceptor, which binds to slapd as that user with it, then wipes it.
func TestDelegationGoToGo(t *testing.T) {
	r := realm.Get(t)
	kt, err := keytab.Load(r.CeodKeytab)
	if err != nil {
		t.Fatal(err)
	}
	acc := &gss.Acceptor{Keytab: kt, Principal: r.CeodPrincipal}
	user := r.Users["regular1"]
	for _, et := range enctypes {
		t.Run(et.name, func(t *testing.T) {
			conf := enctypeConf(t, r, et.name)
			cfg, err := krb5.LoadConfigFile(conf)
			if err != nil {
				t.Fatal(err)
			}
			cc := kinit(t, r, conf, user, "-f")
			cl, err := krb5.ClientFromCCache(cfg, cc)
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Destroy()
			cname, crealm, tgt, tgtKey, err := krb5.CCacheTGT(cc)
			if err != nil {
				t.Fatal(err)
			}
			fwd, err := gss.ForwardTGT(cl, cname, crealm, tgt, tgtKey)
			if err != nil {
				t.Fatal(err)
			}
			defer fwd.Wipe()
			tkt, key, err := cl.GetServiceTicket(r.CeodPrincipal)
			if err != nil {
				t.Fatal(err)
			}
			ini, tok, err := gss.NewInitiatorDelegating(cname, crealm, tkt, key, fwd, gss.Config{})
			if err != nil {
				t.Fatal(err)
			}
			ctx, rep, err := acc.Accept(tok)
			if err != nil {
				t.Fatalf("Accept: %v", err)
			}
			if _, err := ini.Step(rep); err != nil {
				t.Fatalf("Step: %v", err)
			}
			d := ctx.Delegated()
			if d == nil {
				t.Fatal("acceptor got no delegated credential")
			}
			if got, want := d.Client(), user.Name+"@"+r.Name; got != want {
				t.Errorf("delegated client %q, want %q", got, want)
			}
			if d.Info.Key.KeyType != et.id {
				t.Errorf("delegated TGT key enctype %d, want %d", d.Info.Key.KeyType, et.id)
			}
			useDelegated(t, r, conf, d, user)
			ctx.ReleaseDelegated()
			if !d.Wiped() || ctx.Delegated() != nil {
				t.Error("ReleaseDelegated left the credential's key in memory")
			}
		})
	}
}

// useDelegated binds to slapd with SASL GSSAPI using only the delegated
// TGT, proving it usable, and checks slapd sees user.
func useDelegated(t *testing.T, r *realm.Realm, conf string, d *gss.Delegated, user realm.User) {
	t.Helper()
	cfg, err := krb5.LoadConfigFile(conf)
	if err != nil {
		t.Fatal(err)
	}
	c, err := krb5.CredentialFromKrbCred(d.Ticket, d.Info)
	if err != nil {
		t.Fatal(err)
	}
	dcl, err := krb5.ClientFromCredential(cfg, c)
	if err != nil {
		t.Fatal(err)
	}
	defer dcl.Destroy()
	if got, want := whoami(t, r, dcl), "dn:uid="+user.Name+","+r.UsersBase; !strings.EqualFold(got, want) {
		t.Fatalf("WhoAmI with the delegated TGT = %q, want %q", got, want)
	}
}

// TestDelegationNotForwardable: a TGT from plain kinit cannot be
// forwarded, and the error says why.
func TestDelegationNotForwardable(t *testing.T) {
	r := realm.Get(t)
	user := r.Users["regular1"]
	conf := enctypeConf(t, r, enctypes[0].name)
	cfg, err := krb5.LoadConfigFile(conf)
	if err != nil {
		t.Fatal(err)
	}
	cc := kinit(t, r, conf, user, "-F")
	cl, err := krb5.ClientFromCCache(cfg, cc)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Destroy()
	cname, crealm, tgt, tgtKey, err := krb5.CCacheTGT(cc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := gss.ForwardTGT(cl, cname, crealm, tgt, tgtKey); err == nil || !strings.Contains(err.Error(), "forwardable") {
		t.Fatalf("ForwardTGT of a non-forwardable TGT: %v, want an error naming forwardable", err)
	}
}
