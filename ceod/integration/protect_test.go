package integration

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	krbclient "github.com/jcmturner/gokrb5/v8/client"
	"github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/csclub/ceo/ceoc"
	"github.com/csclub/ceo/internal/realm"
	"github.com/csclub/ceo/wire"
	"github.com/csclub/ceo/wire/ceopb"
	"github.com/csclub/ceo/wire/krb5/gss"
)

// TestIntegrityOnlyRequestRefused: a request wrapped with integrity only
// (conf=0), whatever the op, closes the connection without a reply, is
// audited as invalid, and changes nothing: adduser creates no entry and
// no home, mail writes no .forward.
func TestIntegrityOnlyRequestRefused(t *testing.T) {
	r := realm.Get(t)
	d := realmDaemon(t, r)
	office := krbClientFor(t, r, "office1")

	// A member to aim mail at, added the ordinary, sealed way.
	member := "seal" + randomDigits(t, 6)
	body, err := proto.Marshal(&ceopb.AddUser{Type: ceopb.AddUser_MEMBER.Enum(), Username: proto.String(member),
		Password: proto.String("pw-" + randomDigits(t, 12)), Realname: proto.String("Sealed Member")})
	require.NoError(t, err)
	_, err = d.client(t, "office1").Call(t.Context(), "adduser", body)
	require.NoError(t, err)
	entry := r.LDAPEntry(t, r.UserDN(member))
	require.NotNil(t, entry)
	forward := filepath.Join(entry.GetAttributeValue("homeDirectory"), ".forward")
	_, err = os.Stat(forward)
	require.ErrorIs(t, err, os.ErrNotExist, "a new member has no .forward yet")

	victim := "unsealed" + randomDigits(t, 6)
	requests := []struct {
		op  string
		id  wire.MsgType
		req proto.Message
	}{
		{"adduser", 0x01, &ceopb.AddUser{Type: ceopb.AddUser_MEMBER.Enum(), Username: proto.String(victim),
			Password: proto.String("readable-on-the-wire"), Realname: proto.String("Not Sealed")}},
		{"mail", 0x02, &ceopb.UpdateMail{Username: proto.String(member), Forward: proto.String("attacker@example.org")}},
		{"mysql", 0x03, &ceopb.AddMySQLUser{Username: proto.String(victim)}},
		{"mailman", 0x04, nil},
		{"postgresql", 0x05, &ceopb.AddPostgreSQLUser{Username: proto.String(victim)}},
		{"ping", 0x10, nil},
	}
	for _, rq := range requests {
		t.Run(rq.op, func(t *testing.T) {
			msg := []byte(victim + "\n")
			if rq.req != nil {
				msg, err = proto.Marshal(rq.req)
				require.NoError(t, err)
			}
			c := dialRaw(t, d.addr)
			sec := c.auth(office)
			tok, err := sec.WrapIntegrity(msg)
			require.NoError(t, err)
			c.write(append(header(uint32(len(tok)), rq.id), tok...))
			c.expectClosed(10 * time.Second)
			a := d.log.WaitFor(t, map[string]string{"msg": "audit", "event": "op", "op": rq.op, "remote": c.nc.LocalAddr().String()})
			assert.Equal(t, "invalid", a["outcome"])
			assert.Contains(t, a["err"], "confidentiality service required")
		})
	}
	assert.Nil(t, r.LDAPEntry(t, r.UserDN(victim)), "adduser ran on an unsealed request")
	homes, _ := filepath.Glob(filepath.Join(r.HomeRoot, "*", victim))
	direct, _ := filepath.Glob(filepath.Join(r.HomeRoot, victim))
	assert.Empty(t, append(homes, direct...), "a home for the unsealed adduser")
	_, err = os.Stat(forward)
	assert.ErrorIs(t, err, os.ErrNotExist, "mail wrote a .forward from an unsealed request")
	assert.NotContains(t, d.log.String(), "readable-on-the-wire")
}

// TestCeocRefusesIntegrityOnlyReply: a server that answers with an
// integrity-only token (its Kerberos is genuine) gets no reply through
// ceoc: the legacy ceoc's "confidentiality service required".
func TestCeocRefusesIntegrityOnlyReply(t *testing.T) {
	r := realm.Get(t)
	e := newEnv(t, r)
	kt, err := keytab.Load(r.CeodKeytab)
	require.NoError(t, err)
	acc := &gss.Acceptor{Keytab: kt, Principal: r.CeodPrincipal}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	served := make(chan error, 1)
	go func() {
		served <- func() error {
			nc, err := ln.Accept()
			if err != nil {
				return err
			}
			defer nc.Close()
			_, tok, err := wire.ReadFrame(nc, 0)
			if err != nil {
				return err
			}
			ctx, rep, err := acc.Accept(tok)
			if err != nil {
				return err
			}
			if err := wire.WriteFrame(nc, wire.MsgAuth, rep); err != nil {
				return err
			}
			typ, body, err := wire.ReadFrame(nc, 0)
			if err != nil {
				return err
			}
			if _, err := ctx.UnwrapSealed(body); err != nil {
				return err
			}
			out, err := ctx.WrapIntegrity([]byte("new password: hunter2"))
			if err != nil {
				return err
			}
			return wire.WriteFrame(nc, typ, out)
		}()
	}()
	cc := r.Kinit(t, "regular1", r.Users["regular1"].Password)
	cl := &ceoc.Client{ConfigDir: e.dir, Port: ln.Addr().(*net.TCPAddr).Port, KRB5Config: r.KRB5Config,
		Credentials: ceoc.CCache("FILE:" + cc)}
	reply, err := cl.Call(t.Context(), "ping", []byte("x"))
	require.NoError(t, <-served)
	require.ErrorIs(t, err, ceoc.ErrProtocol)
	assert.Contains(t, err.Error(), "confidentiality service required")
	assert.Nil(t, reply)
}

// TestReplayRefusedAfterRestart: an AP-REQ accepted by one ceod is
// refused by the next one started on the same replay cache, inside the
// clock-skew window; a fresh one is accepted.
func TestReplayRefusedAfterRestart(t *testing.T) {
	r := realm.Get(t)
	e := newEnv(t, r)
	cl := krbClientFor(t, r, "regular1")
	_, tok := apReq(t, cl)

	first := e.start(t, nil)
	c := dialRaw(t, first.addr)
	require.NoError(t, wire.WriteFrame(c.nc, wire.MsgAuth, tok))
	typ, _, err := wire.ReadFrame(c.nc, 0)
	require.NoError(t, err, "first use of the AP-REQ")
	require.Equal(t, wire.MsgAuth, typ)
	c.nc.Close()
	first.Stop()

	second := e.start(t, nil)
	c = dialRaw(t, second.addr)
	c.write(append(header(uint32(len(tok)), wire.MsgAuth), tok...))
	c.expectClosed(10 * time.Second)
	f := second.log.WaitFor(t, map[string]string{"msg": "unauthenticated connections ended", "remote": "127.0.0.1"})
	assert.Equal(t, "auth_failed:1", f["reasons"])
	assert.Contains(t, f["err"], "replayed")

	fresh := dialRaw(t, second.addr)
	fresh.auth(cl)
}

// TestKeyRotationWithoutRestart: kadmin ktadd gives ceod's service
// principal a new key while ceod runs; a ticket for the new key works at
// once, and a ticket issued before the rotation still works, since the
// keytab keeps the old key. SIGHUP rereads the keytab and logs its keys.
func TestKeyRotationWithoutRestart(t *testing.T) {
	r := realm.Get(t)
	svc := "ceod/rotate" + randomDigits(t, 6)
	e := newEnv(t, r)
	kt := filepath.Join(e.dir, "rotate.keytab")
	kadmin(t, r, "addprinc -randkey "+svc)
	kadmin(t, r, "ktadd -k "+kt+" "+svc)
	cf := filepath.Join(e.dir, "ceod.cf")
	b, err := os.ReadFile(cf)
	require.NoError(t, err)
	b = []byte(strings.NewReplacer("keytab = "+r.CeodKeytab, "keytab = "+kt,
		"service_principal = "+r.CeodPrincipal, "service_principal = "+svc).Replace(string(b)))
	require.NoError(t, os.WriteFile(cf, b, 0o644))
	d := e.start(t, nil)

	before := krbClientFor(t, r, "regular1")
	oldTkt, oldKey, err := before.GetServiceTicket(svc)
	require.NoError(t, err)
	authWith(t, d, before, oldTkt, oldKey)

	kadmin(t, r, "ktadd -k "+kt+" "+svc)
	after := krbClientFor(t, r, "regular1")
	newTkt, newKey, err := after.GetServiceTicket(svc)
	require.NoError(t, err)
	oldKVNO := oldTkt.EncPart.KVNO
	require.Equal(t, oldKVNO+1, newTkt.EncPart.KVNO, "ktadd gave the service a new key version")
	authWith(t, d, after, newTkt, newKey)  // the changed keytab was reread
	authWith(t, d, before, oldTkt, oldKey) // issued before the rotation
	reread := d.log.WaitFor(t, map[string]string{"msg": "keytab changed; reread"})
	assert.Contains(t, reread["keys"], fmt.Sprintf("%s@%s kvno %d,%d", svc, r.Name, oldKVNO, oldKVNO+1))

	d.reload <- struct{}{} // SIGHUP
	hup := d.log.WaitFor(t, map[string]string{"msg": "reload: keytab reread"})
	assert.Contains(t, hup["keys"], fmt.Sprintf("%s@%s kvno %d,%d", svc, r.Name, oldKVNO, oldKVNO+1))
}

// kadmin runs one kadmin query as the realm's admin principal.
func kadmin(t *testing.T, r *realm.Realm, query string) {
	t.Helper()
	cmd := exec.Command("kadmin", "-k", "-t", r.AdminKeytab, "-p", r.AdminPrincipal, "-q", query)
	cmd.Env = append(r.KrbEnv(), "KRB5CCNAME=MEMORY:kadmin")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "kadmin %s:\n%s", query, out)
	require.NotContains(t, string(out), "while ", "kadmin %s:\n%s", query, out)
}

// authWith authenticates to d with a ticket already in hand.
func authWith(t *testing.T, d *ceod, cl *krbclient.Client, tkt messages.Ticket, key types.EncryptionKey) {
	t.Helper()
	init, tok, err := gss.NewInitiatorWithTicket(cl.Credentials.CName(), cl.Credentials.Domain(), tkt, key, gss.Config{})
	require.NoError(t, err)
	c := dialRaw(t, d.addr)
	require.NoError(t, wire.WriteFrame(c.nc, wire.MsgAuth, tok))
	typ, body, err := wire.ReadFrame(c.nc, 0)
	require.NoError(t, err, "ceod refused a ticket of kvno %d:\n%s", tkt.EncPart.KVNO, d.log)
	require.Equal(t, wire.MsgAuth, typ)
	_, err = init.Step(body)
	require.NoError(t, err)
}
