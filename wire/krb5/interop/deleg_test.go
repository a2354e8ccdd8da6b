package interop

import (
	"strings"
	"testing"

	"github.com/jcmturner/gokrb5/v8/client"
	"github.com/jcmturner/gokrb5/v8/keytab"
	krbmsg "github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"

	"github.com/csclub/ceo/internal/realm"
	"github.com/csclub/ceo/wire"
	"github.com/csclub/ceo/wire/krb5"
	"github.com/csclub/ceo/wire/krb5/gss"
)

// ceodAcceptor is our acceptor with ceod's keytab.
func ceodAcceptor(t *testing.T, r *realm.Realm) *gss.Acceptor {
	t.Helper()
	kt, err := keytab.Load(r.CeodKeytab)
	if err != nil {
		t.Fatal(err)
	}
	return &gss.Acceptor{Keytab: kt, Principal: r.CeodPrincipal}
}

// delegator is a user's client from a kinit-made ccache and its TGT.
type delegator struct {
	cl     *client.Client
	cname  types.PrincipalName
	crealm string
	tgt    krbmsg.Ticket
	key    types.EncryptionKey
}

// newDelegator runs kinit (with kinitOpts) for user under conf.
func newDelegator(t *testing.T, r *realm.Realm, conf string, user realm.User, kinitOpts ...string) *delegator {
	t.Helper()
	cfg, err := krb5.LoadConfigFile(conf)
	if err != nil {
		t.Fatal(err)
	}
	cc := kinit(t, r, conf, user, kinitOpts...)
	d := &delegator{}
	if d.cl, err = krb5.ClientFromCCache(cfg, cc); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.cl.Destroy)
	tgt, err := krb5.CCacheTGT(cc)
	if err != nil {
		t.Fatal(err)
	}
	d.cname, d.crealm, d.tgt, d.key = tgt.CName, tgt.CRealm, tgt.Ticket, tgt.Key
	return d
}

// initiator forwards the TGT and starts a delegating context to ceod.
func (d *delegator) initiator(t *testing.T, r *realm.Realm) (*gss.Initiator, []byte) {
	t.Helper()
	fwd, err := gss.ForwardTGT(d.cl, d.cname, d.crealm, d.tgt, d.key)
	if err != nil {
		t.Fatal(err)
	}
	defer fwd.Wipe()
	tkt, key, err := d.cl.GetServiceTicket(r.CeodPrincipal)
	if err != nil {
		t.Fatal(err)
	}
	ini, tok, err := gss.NewInitiatorDelegating(d.cname, d.crealm, tkt, key, fwd, gss.Config{})
	if err != nil {
		t.Fatal(err)
	}
	return ini, tok
}

// checkDelegated checks the acceptor's context holds user's forwarded
// TGT of enctype et, binds to slapd with it (proving it usable), and
// checks ReleaseDelegated wipes it.
func checkDelegated(t *testing.T, r *realm.Realm, conf string, ctx *gss.Context, user realm.User, et int32) {
	t.Helper()
	d := ctx.Delegated()
	if d == nil {
		t.Fatal("acceptor got no delegated credential")
	}
	if got, want := d.Client(), user.Name+"@"+r.Name; got != want {
		t.Errorf("delegated client %q, want %q", got, want)
	}
	if d.Info.Key.KeyType != et {
		t.Errorf("delegated TGT key enctype %d, want %d", d.Info.Key.KeyType, et)
	}
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
	ctx.ReleaseDelegated()
	if !d.Wiped() || ctx.Delegated() != nil {
		t.Error("ReleaseDelegated left the credential's key in memory")
	}
}

// TestDelegationGoToGo: our initiator forwards a user's TGT (kinit -f) to
// our acceptor, which binds to slapd as that user with it, then wipes it.
func TestDelegationGoToGo(t *testing.T) {
	r := realm.Get(t)
	acc := ceodAcceptor(t, r)
	user := r.Users["regular1"]
	for _, et := range enctypes {
		t.Run(et.name, func(t *testing.T) {
			conf := enctypeConf(t, r, et.name)
			ini, tok := newDelegator(t, r, conf, user, "-f").initiator(t, r)
			ctx, rep, err := acc.Accept(tok)
			if err != nil {
				t.Fatalf("Accept: %v", err)
			}
			if _, err := ini.Step(rep); err != nil {
				t.Fatalf("Step: %v", err)
			}
			checkDelegated(t, r, conf, ctx, user, et.id)
		})
	}
}

// TestDelegationNotForwardable: a TGT from kinit -F cannot be forwarded,
// and the error says why.
func TestDelegationNotForwardable(t *testing.T) {
	r := realm.Get(t)
	d := newDelegator(t, r, enctypeConf(t, r, enctypes[0].name), r.Users["regular1"], "-F")
	if _, err := gss.ForwardTGT(d.cl, d.cname, d.crealm, d.tgt, d.key); err == nil || !strings.Contains(err.Error(), "forwardable") {
		t.Fatalf("ForwardTGT of a non-forwardable TGT: %v, want an error naming forwardable", err)
	}
}

// TestDelegationMITToGo: MIT's gss_init_sec_context with GSS_C_DELEG_FLAG
// and a kinit -f TGT delegates to our acceptor, which uses the TGT.
func TestDelegationMITToGo(t *testing.T) {
	eachMITInitiator(t, []string{"-f"}, func(t *testing.T, r *realm.Realm, acc *gss.Acceptor, user realm.User, et int32, conf, cc string) {
		p, _, ctx := acceptFromMIT(t, r, acc, []string{"KRB5_CONFIG=" + conf, "KRB5CCNAME=FILE:" + cc, "MITPEER_DELEG=1"})
		if got := p.line(t); got != "delegated yes" {
			t.Errorf("mitpeer printed %q, want delegated yes", got)
		}
		checkDelegated(t, r, conf, ctx, user, et)
		p.wait(t)
	})
}

// TestDelegationGoToMIT: our initiator delegates to MIT's
// gss_accept_sec_context, which gets the delegated credential and starts
// a context to slapd's principal with it.
func TestDelegationGoToMIT(t *testing.T) {
	r := realm.Get(t)
	mitPeer(t)
	user := r.Users["regular1"]
	ldapSvc := strings.Replace(r.LDAPPrincipal, "/", "@", 1)
	for _, et := range enctypes {
		t.Run(et.name, func(t *testing.T) {
			conf := enctypeConf(t, r, et.name)
			ini, tok := newDelegator(t, r, conf, user, "-f").initiator(t, r)
			p, conn := dialMIT(t, r, []string{"KRB5_CONFIG=" + conf, "KRB5_KTNAME=FILE:" + r.CeodKeytab, "MITPEER_DELEG=" + ldapSvc})
			if _, err := ini.Step(p.exchange(t, conn, wire.MsgAuth, tok, "AP-REP frame")); err != nil {
				t.Fatalf("Step: %v", err)
			}
			who := user.Name + "@" + r.Name
			if got := p.line(t); got != "peer "+who {
				t.Errorf("mitpeer saw %q, want peer %s", got, who)
			}
			if got, want := p.line(t), "delegated "+who+" usable for "+ldapSvc; got != want {
				p.fatal(t, "mitpeer printed %q, want %q", got, want)
			}
			conn.Close()
			p.wait(t)
		})
	}
}
