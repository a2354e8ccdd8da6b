package integration

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/csclub/ceo/internal/realm"
	"github.com/csclub/ceo/ops"
	"github.com/csclub/ceo/wire"
	"github.com/csclub/ceo/wire/ceopb"
	"github.com/csclub/ceo/wire/krb5"
	"github.com/csclub/ceo/wire/krb5/gss"
	"github.com/csclub/ceo/wire/session"
)

// copyConfig copies the realm's configuration directory and appends
// extra to its ceod.cf.
func copyConfig(t *testing.T, r *realm.Realm, extra string) string {
	t.Helper()
	dir := t.TempDir()
	out, err := exec.Command("cp", "-a", r.ConfigDir+"/.", dir).CombinedOutput()
	require.NoError(t, err, "copying the configuration: %s", out)
	f, err := os.OpenFile(dir+"/ceod.cf", os.O_APPEND|os.O_WRONLY|os.O_CREATE, 0o644)
	require.NoError(t, err)
	_, err = f.WriteString("\n" + extra)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	return dir
}

// TestDelegatedLDAPWrites: with ldap_writes = delegated, an office
// member's renew is written by slapd as that member (modifiersName), the
// forwarded credential is released after the op and its bytes are in no
// file or log, a caller ceod.acl allows but slapd's ACL does not gets the
// directory's refusal with nothing changed, and a request that delegates
// nothing gets an error naming the mode with nothing changed.
func TestDelegatedLDAPWrites(t *testing.T) {
	r := realm.Get(t)
	dir := copyConfig(t, r, "ldap_writes = delegated\ndelegate_ops = renew adduser\n")
	acl, err := os.OpenFile(filepath.Join(dir, "ceod.acl"), os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = acl.WriteString("renew      principal:regular1\n")
	require.NoError(t, err)
	require.NoError(t, acl.Close())
	e := &memberEnv{r: r, d: (&testEnv{r: r, dir: dir}).start(t, nil, "-listen", "127.0.0.1:0")}
	e.d.log.WaitFor(t, map[string]string{"msg": "ceod listening"})
	name, _ := e.addMember(t)
	dn := r.UserDN(name)

	office := e.d.client(t, "office1")
	office.ConfigDir = dir
	wantOK(t, e.call(t, office, "renew", &ceopb.Renew{Username: proto.String(name), Terms: []string{"f2040"}}))
	assert.Contains(t, e.attr(t, dn, "term"), "f2040")
	en := r.LDAPSearch(t, r.UsersBase, "(uid="+name+")", "modifiersName")
	require.Len(t, en, 1)
	mod := strings.ToLower(en[0].GetAttributeValue("modifiersName"))
	assert.True(t, strings.HasPrefix(mod, "uid=office1,"), "modifiersName %q is not office1 (ceod would be %s)", mod, r.AdminPrincipal)
	rel := e.d.log.WaitFor(t, map[string]string{"msg": "delegated credential released", "op": "renew"})
	assert.Equal(t, true, rel["wiped"])

	noTicketBytes(t, e, dir, name)

	// ceod.acl (as copied) lets regular1 renew; slapd does not let
	// regular1 write terms: the directory's refusal, nothing changed.
	regular := e.as(t, "regular1", r.Users["regular1"].Password)
	regular.ConfigDir = dir
	terms := e.attr(t, dn, "term")
	resp := e.call(t, regular, "renew", &ceopb.Renew{Username: proto.String(name), Terms: []string{"s2043"}})
	require.Len(t, resp.GetMessages(), 1)
	assert.Equal(t, ops.ELDAP, resp.GetMessages()[0].GetStatus())
	assert.Contains(t, resp.GetMessages()[0].GetMessage(), "directory error")
	assert.Contains(t, strings.ToLower(resp.GetMessages()[0].GetMessage()), "insufficient access")
	assert.Equal(t, terms, e.attr(t, dn, "term"), "a renew slapd refused changed the terms")

	// The same op without delegation: the realm's own ceod.cf, the
	// client's view here, lists no delegate_ops.
	plain := e.as(t, "office1", r.Users["office1"].Password)
	before := e.attr(t, dn, "term")
	resp = e.call(t, plain, "renew", &ceopb.Renew{Username: proto.String(name), Terms: []string{"w2041"}})
	require.Len(t, resp.GetMessages(), 1)
	assert.Equal(t, ops.ELDAP, resp.GetMessages()[0].GetStatus())
	assert.Contains(t, resp.GetMessages()[0].GetMessage(), "ldap_writes = delegated: this request carries no delegated credential")
	assert.Equal(t, before, e.attr(t, dn, "term"), "a refused renew changed the terms")
}

// noTicketBytes renews name over a handshake that forwards a TGT the test
// made itself, so that its ticket and key bytes are known, and checks
// that after the op they are in no file under the realm's state (ceod's
// replay cache and journal included) or the configuration, nor in ceod's
// log.
func noTicketBytes(t *testing.T, e *memberEnv, dir, name string) {
	t.Helper()
	r := e.r
	cc := r.Kinit(t, "office1", r.Users["office1"].Password)
	cfg, err := krb5.LoadConfigFile(r.KRB5Config)
	require.NoError(t, err)
	cl, err := krb5.ClientFromCCache(cfg, cc)
	require.NoError(t, err)
	defer cl.Destroy()
	tgt, err := krb5.CCacheTGT(cc)
	require.NoError(t, err)
	fwd, err := gss.ForwardTGT(cl, tgt.CName, tgt.CRealm, tgt.Ticket, tgt.Key)
	require.NoError(t, err)
	secrets := [][]byte{bytes.Clone(fwd.Ticket.EncPart.Cipher), bytes.Clone(fwd.Info.Key.KeyValue)}
	tkt, key, err := cl.GetServiceTicket(r.CeodPrincipal)
	require.NoError(t, err)
	ini, tok, err := gss.NewInitiatorDelegating(tgt.CName, tgt.CRealm, tkt, key, fwd, gss.Config{})
	require.NoError(t, err)
	fwd.Wipe()
	nc, err := net.Dial("tcp", e.d.addr)
	require.NoError(t, err)
	defer nc.Close()
	sess, err := session.Initiate(nc, tok, func(rep []byte) (session.Sealer, error) { return ini.Step(rep) })
	require.NoError(t, err)
	body, err := proto.Marshal(&ceopb.Renew{Username: proto.String(name), Terms: []string{"w2042"}})
	require.NoError(t, err)
	out, err := sess.Call(wire.MsgType(0x06), body)
	require.NoError(t, err)
	var resp ceopb.MemberResponse
	require.NoError(t, proto.Unmarshal(out, &resp))
	wantOK(t, &resp)
	nc.Close()
	e.d.log.WaitFor(t, map[string]string{"msg": "connection closed", "ops": "1"})

	var forms [][]byte
	for _, b := range secrets {
		forms = append(forms, b, []byte(hex.EncodeToString(b)), []byte(base64.StdEncoding.EncodeToString(b)))
	}
	logText := []byte(e.d.log.String())
	for i, f := range forms {
		require.False(t, bytes.Contains(logText, f), "forwarded credential bytes (form %d) in ceod's log", i)
	}
	files := 0
	for _, root := range []string{r.Dir, dir} {
		require.NoError(t, filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() {
				return nil // sockets, vanished temporaries
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return nil
			}
			files++
			for i, f := range forms {
				if bytes.Contains(b, f) {
					return fmt.Errorf("forwarded credential bytes (form %d) in %s", i, p)
				}
			}
			return nil
		}))
	}
	require.NotZero(t, files)
}
