package integration

import (
	"context"
	"crypto/rand"
	"database/sql"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/csclub/ceo/ceoc"
	"github.com/csclub/ceo/internal/opstest"
	"github.com/csclub/ceo/internal/realm"
	"github.com/csclub/ceo/wire/ceopb"
)

// TestAccountOpsThroughDaemon is the whole daemon (daemon.Run on the
// realm's own CEO_CONFIG_DIR, built-in handlers built from accounts.cf,
// ceod.cf, mysql.cf, postgresql.cf and mailman.cf) serving a new member's
// first day: office1 adds the member; the member, logged in with the
// password office1 gave, sets a mail forward and gets a MariaDB and a
// PostgreSQL database, whose passwords then work; a regular user is
// refused and audited as denied.
func TestAccountOpsThroughDaemon(t *testing.T) {
	r := realm.Get(t)
	d := realmDaemon(t, r)

	started := d.log.WaitFor(t, map[string]string{"msg": "ceod listening"})
	assert.Equal(t, "adduser=0x1(builtin) mail=0x2(builtin) mysql=0x3(builtin) mailman=0x4(builtin) postgresql=0x5(builtin) renew=0x6(builtin) group=0x7(builtin) positions=0x8(builtin) shell=0x9(builtin) passwd=0xa(builtin) deluser=0xb(builtin) program=0xc(builtin) ping=0x10(builtin)",
		started["ops"])

	name := "new" + randomDigits(t, 6)
	password := "pw-" + randomDigits(t, 12)
	call := func(t *testing.T, c *ceoc.Client, op string, req, resp proto.Message) {
		t.Helper()
		body, err := proto.Marshal(req)
		require.NoError(t, err)
		out, err := c.Call(t.Context(), op, body)
		require.NoError(t, err, "%s\nceod log:\n%s", op, d.log)
		require.NoError(t, proto.Unmarshal(out, resp))
	}
	requireOK := func(t *testing.T, msgs []*ceopb.StatusMessage) {
		t.Helper()
		require.NotEmpty(t, msgs)
		for _, m := range msgs {
			require.Zero(t, m.GetStatus(), "%s", m.GetMessage())
		}
	}

	var added ceopb.AddUserResponse
	call(t, d.client(t, "office1"), "adduser", &ceopb.AddUser{Type: ceopb.AddUser_MEMBER.Enum(),
		Username: proto.String(name), Password: proto.String(password),
		Realname: proto.String("New Member"), Program: proto.String("Math")}, &added)
	requireOK(t, added.GetMessages())
	entry := r.LDAPEntry(t, r.UserDN(name))
	require.NotNil(t, entry, "no LDAP entry for %s", name)
	assert.Equal(t, "New Member", entry.GetAttributeValue("cn"))
	assert.Equal(t, "Math", entry.GetAttributeValue("program"))

	// The member logs in with the password the office set.
	cc := r.Kinit(t, name, password)
	member := &ceoc.Client{ConfigDir: r.ConfigDir, Port: d.port, KRB5Config: r.KRB5Config, Credentials: ceoc.CCache("FILE:" + cc)}

	var fwd ceopb.UpdateMailResponse
	call(t, member, "mail", &ceopb.UpdateMail{Username: proto.String(name), Forward: proto.String(name + "@example.org")}, &fwd)
	requireOK(t, fwd.GetMessages())
	home := entry.GetAttributeValue("homeDirectory")
	b, err := os.ReadFile(filepath.Join(home, ".forward"))
	require.NoError(t, err)
	assert.Equal(t, name+"@example.org\n", string(b))

	var my ceopb.AddMySQLUserResponse
	call(t, member, "mysql", &ceopb.AddMySQLUser{Username: proto.String(name)}, &my)
	requireOK(t, my.GetMessages())
	mc := mysql.NewConfig()
	mc.User, mc.Passwd, mc.Net, mc.Addr, mc.DBName = name, my.GetPassword(), "tcp", fmt.Sprintf("127.0.0.1:%d", r.MySQLPort), name
	conn, err := mysql.NewConnector(mc)
	require.NoError(t, err)
	db := sql.OpenDB(conn)
	defer db.Close()
	_, err = db.ExecContext(t.Context(), "CREATE TABLE t (x INT)")
	require.NoError(t, err, "MariaDB login with the op's password")

	var pg ceopb.AddPostgreSQLUserResponse
	call(t, member, "postgresql", &ceopb.AddPostgreSQLUser{Username: proto.String(name)}, &pg)
	requireOK(t, pg.GetMessages())
	pcfg, err := pgx.ParseConfig(fmt.Sprintf("postgres://127.0.0.1:%d/%s?sslmode=disable", r.PGPort, name))
	require.NoError(t, err)
	pcfg.User, pcfg.Password = name, pg.GetPassword()
	pconn, err := pgx.ConnectConfig(t.Context(), pcfg)
	require.NoError(t, err, "PostgreSQL login with the op's password")
	defer pconn.Close(context.Background())
	_, err = pconn.Exec(t.Context(), "CREATE TABLE t (x int)")
	require.NoError(t, err)

	// The realm runs no Mailman: the op is configured off and says so.
	out, err := member.Call(t.Context(), "mailman", []byte(name+"\n"))
	require.NoError(t, err)
	assert.Equal(t, "Disabled: "+name+"\n", string(out))

	// A regular user may not add members: a reply, audited as denied,
	// and no entry.
	other := "new" + randomDigits(t, 6)
	var refused ceopb.AddUserResponse
	call(t, d.client(t, "regular1"), "adduser", &ceopb.AddUser{Type: ceopb.AddUser_MEMBER.Enum(),
		Username: proto.String(other), Password: proto.String(password), Realname: proto.String("Not Allowed")}, &refused)
	require.Len(t, refused.GetMessages(), 1)
	assert.Equal(t, int32(syscall.EPERM), refused.GetMessages()[0].GetStatus())
	assert.Equal(t, "regular1 may not adduser "+other+": no rule of adduser in ceod.acl allows it (default deny)", refused.GetMessages()[0].GetMessage())
	assert.Nil(t, r.LDAPEntry(t, r.UserDN(other)))
	a := d.log.WaitFor(t, map[string]string{"msg": "audit", "event": "op", "op": "adduser", "principal": "regular1@" + r.Name})
	assert.Equal(t, "denied", a["outcome"])

	// The other ops' refusals by ceod.acl: EPERM naming the rule (or the
	// default denial), and nothing changed.
	var fwdRefused ceopb.UpdateMailResponse
	var myRefused ceopb.AddMySQLUserResponse
	var pgRefused ceopb.AddPostgreSQLUserResponse
	refusal := func(t *testing.T, msgs []*ceopb.StatusMessage, want string) {
		t.Helper()
		require.NotEmpty(t, msgs)
		last := msgs[len(msgs)-1]
		assert.Equal(t, int32(syscall.EPERM), last.GetStatus(), "%s", last.GetMessage())
		assert.Equal(t, want, last.GetMessage())
	}
	call(t, d.client(t, "regular1"), "mail", &ceopb.UpdateMail{Username: proto.String(name), Forward: proto.String("thief@example.org")}, &fwdRefused)
	refusal(t, fwdRefused.GetMessages(), "regular1 may not mail "+name+": no rule of mail in ceod.acl allows it (default deny)")
	call(t, d.client(t, "office1"), "mail", &ceopb.UpdateMail{Username: proto.String("syscom1"), Forward: proto.String("thief@example.org")}, &fwdRefused)
	refusal(t, fwdRefused.GetMessages(), "office1 may not mail syscom1: denied by "+opstest.Rule(t, "mail group:office")+": syscom1 is in group syscom")
	b, err = os.ReadFile(filepath.Join(home, ".forward"))
	require.NoError(t, err)
	assert.Equal(t, name+"@example.org\n", string(b), "a refused forward changed .forward")
	call(t, d.client(t, "regular1"), "mysql", &ceopb.AddMySQLUser{Username: proto.String(name)}, &myRefused)
	refusal(t, myRefused.GetMessages(), "regular1 may not mysql "+name+": no rule of mysql in ceod.acl allows it (default deny)")
	assert.Empty(t, myRefused.GetPassword())
	call(t, d.client(t, "office1"), "postgresql", &ceopb.AddPostgreSQLUser{Username: proto.String(name)}, &pgRefused)
	refusal(t, pgRefused.GetMessages(), "office1 may not postgresql "+name+": no rule of postgresql in ceod.acl allows it (default deny)")
	assert.Empty(t, pgRefused.GetPassword())
	require.NoError(t, db.PingContext(t.Context()))
	again := sql.OpenDB(conn)
	defer again.Close()
	require.NoError(t, again.PingContext(t.Context()), "a refused mysql changed the member's MariaDB password")
	pagain, err := pgx.ConnectConfig(t.Context(), pcfg)
	require.NoError(t, err, "a refused postgresql changed the member's PostgreSQL password")
	pagain.Close(context.Background())

	assert.NotContains(t, d.log.String(), password, "a password in ceod's log")
	assert.NotContains(t, d.log.String(), my.GetPassword(), "a password in ceod's log")
	assert.NotContains(t, d.log.String(), pg.GetPassword(), "a password in ceod's log")
	assert.False(t, strings.Contains(d.log.String(), r.MySQLAdminPassword), "the MariaDB admin password in ceod's log")
}

// randomDigits returns n random decimal digits, for names that do not
// collide across runs against one realm.
func randomDigits(t testing.TB, n int) string {
	var b strings.Builder
	for range n {
		d, err := rand.Int(rand.Reader, big.NewInt(10))
		require.NoError(t, err)
		b.WriteByte(byte('0' + d.Int64()))
	}
	return b.String()
}

// TestSiteEditedACL: ceod.acl is the one authorization point, and a
// site's edits take effect: here regular1 may add members
// (principal:regular1), and office only members and club reps, no clubs.
func TestSiteEditedACL(t *testing.T) {
	r := realm.Get(t)
	dir := copyConfig(t, r, "")
	path := filepath.Join(dir, "ceod.acl")
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	edited := strings.Replace(string(b), "adduser    group:office\n",
		"adduser    group:office   member\nadduser    principal:regular1 member\n", 1)
	require.NotEqual(t, string(b), edited, "the shipped ceod.acl has no line \"adduser    group:office\"")
	require.NoError(t, os.WriteFile(path, []byte(edited), 0o644))
	line := 1 + strings.Count(edited[:strings.Index(edited, "adduser    group:office   member")], "\n")
	d := (&testEnv{r: r, dir: dir}).start(t, nil, "-listen", "127.0.0.1:0")
	d.log.WaitFor(t, map[string]string{"msg": "ceod listening"})
	add := func(caller string, typ ceopb.AddUser_Type, name string) []*ceopb.StatusMessage {
		m := &ceopb.AddUser{Type: typ.Enum(), Username: proto.String(name), Realname: proto.String("Edited " + name)}
		if typ != ceopb.AddUser_CLUB {
			m.Password = proto.String("pw-" + randomDigits(t, 12))
		}
		body, err := proto.Marshal(m)
		require.NoError(t, err)
		out, err := d.client(t, caller).Call(t.Context(), "adduser", body)
		require.NoError(t, err)
		var resp ceopb.AddUserResponse
		require.NoError(t, proto.Unmarshal(out, &resp))
		return resp.GetMessages()
	}

	name := "acl" + randomDigits(t, 6)
	for _, m := range add("regular1", ceopb.AddUser_MEMBER, name) {
		require.Zero(t, m.GetStatus(), "regular1's adduser: %s", m.GetMessage())
	}
	assert.NotNil(t, r.LDAPEntry(t, r.UserDN(name)), "regular1's member was not made")

	club := "aclclub" + randomDigits(t, 6)
	msgs := add("office1", ceopb.AddUser_CLUB, club)
	require.Len(t, msgs, 1)
	assert.Equal(t, int32(syscall.EPERM), msgs[0].GetStatus())
	assert.Equal(t, fmt.Sprintf("office1 may not adduser %s: denied by ceod.acl:%d (adduser group:office member): %s is a club account, not a member account", club, line, club),
		msgs[0].GetMessage())
	assert.Nil(t, r.LDAPEntry(t, r.UserDN(club)), "office1's club was made")
	assert.Nil(t, r.LDAPEntry(t, r.GroupDN(club)))
}
