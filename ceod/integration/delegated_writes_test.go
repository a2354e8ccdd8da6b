package integration

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/csclub/ceo/internal/realm"
	"github.com/csclub/ceo/ops"
	"github.com/csclub/ceo/wire/ceopb"
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
// forwarded credential is released after the op, and a request that
// delegates nothing gets an error naming the mode with nothing changed.
func TestDelegatedLDAPWrites(t *testing.T) {
	r := realm.Get(t)
	dir := copyConfig(t, r, "ldap_writes = delegated\ndelegate_ops = renew adduser\n")
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

	// The same op without delegation: the realm's own ceod.cf, the
	// client's view here, lists no delegate_ops.
	plain := e.as(t, "office1", r.Users["office1"].Password)
	before := e.attr(t, dn, "term")
	resp := e.call(t, plain, "renew", &ceopb.Renew{Username: proto.String(name), Terms: []string{"w2041"}})
	require.Len(t, resp.GetMessages(), 1)
	assert.Equal(t, ops.ELDAP, resp.GetMessages()[0].GetStatus())
	assert.Contains(t, resp.GetMessages()[0].GetMessage(), "ldap_writes = delegated: this request carries no delegated credential")
	assert.Equal(t, before, e.attr(t, dn, "term"), "a refused renew changed the terms")
}
