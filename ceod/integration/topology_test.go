package integration

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/csclub/ceo/internal/realm"
	"github.com/csclub/ceo/ops/mailman/mailmantest"
	"github.com/csclub/ceo/wire/ceopb"
)

var (
	topoOnce sync.Once
	topo     *realm.Topology
	topoErr  error
)

// clubTopology starts the realm's three ceod hosts (admin, db, mail)
// once for the package.
func clubTopology(t *testing.T) (*realm.Realm, *realm.Topology) {
	t.Helper()
	r := realm.Get(t)
	bin := binaries(t)
	mailmantest.SkipUnavailable(t)
	topoOnce.Do(func() {
		topo, topoErr = r.StartTopology(filepath.Join(bin, "ceod"), realm.TopologyOptions{Mailman: true})
	})
	require.NoError(t, topoErr)
	return r, topo
}

// onClient runs a program on "the front end's host": in the topology's
// name space, with the shared ops file and user's ticket cache.
func onClient(t *testing.T, tp *realm.Topology, cc string, stdin []byte, name string, args ...string) (code int, stdout, stderr []byte) {
	t.Helper()
	env := append(tp.Env(""), "KRB5CCNAME=FILE:"+cc)
	cmd := tp.Command(env, name, args...)
	cmd.Stdin = bytes.NewReader(stdin)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), o.Bytes(), e.Bytes()
	}
	require.NoError(t, err)
	return 0, o.Bytes(), e.Bytes()
}

// auditedOn returns the hosts whose ceod log has an audit line for op,
// once one has: ceod writes the audit line after it sends the reply.
func auditedOn(t *testing.T, tp *realm.Topology, op string) []string {
	t.Helper()
	var on []string
	require.Eventually(t, func() bool {
		on = auditedNow(t, tp, op)
		return len(on) > 0
	}, 10*time.Second, 10*time.Millisecond, "no host audited %s", op)
	return on
}

func auditedNow(t *testing.T, tp *realm.Topology, op string) []string {
	t.Helper()
	var on []string
	for _, h := range tp.Hosts {
		b, err := os.ReadFile(h.Log)
		require.NoError(t, err)
		for _, l := range strings.Split(string(b), "\n") {
			if strings.Contains(l, "msg=audit") && strings.Contains(l, "event=op") && strings.Contains(l, " op="+op+" ") {
				on = append(on, h.Short)
				break
			}
		}
	}
	return on
}

// TestTopologyRouting: each op sent through ceoc from a client machine
// is served by the host that owns it in the ops file, asking for that
// host's service principal; the audit line is in that host's log only,
// and the outcome is real.
func TestTopologyRouting(t *testing.T) {
	r, tp := clubTopology(t)
	ceoc := filepath.Join(binaries(t), "ceoc")
	office := r.Kinit(t, "office1", r.Users["office1"].Password)

	call := func(t *testing.T, cc, op string, req, resp proto.Message) {
		t.Helper()
		body, err := proto.Marshal(req)
		require.NoError(t, err)
		code, out, stderr := onClient(t, tp, cc, body, ceoc, op)
		require.Equal(t, 0, code, "ceoc %s: %s", op, stderr)
		require.NoError(t, proto.Unmarshal(out, resp))
		assert.Equal(t, []string{tp.Owner(op).Short}, auditedOn(t, tp, op), "%s is served and audited by its owner only", op)
	}
	ok := func(t *testing.T, msgs []*ceopb.StatusMessage) {
		t.Helper()
		require.NotEmpty(t, msgs)
		for _, m := range msgs {
			require.Zero(t, m.GetStatus(), "%s", m.GetMessage())
		}
	}

	code, out, stderr := onClient(t, tp, office, []byte("hello"), ceoc, "ping")
	require.Equal(t, 0, code, "ceoc ping: %s", stderr)
	// ceoc prints ping's reply decoded: the principal ceod saw.
	assert.Equal(t, "office1@"+r.Name+"\n", string(out))
	assert.Equal(t, []string{"admin"}, auditedOn(t, tp, "ping"))

	name := "topo" + randomDigits(t, 6)
	password := "pw-" + randomDigits(t, 12)
	var added ceopb.AddUserResponse
	call(t, office, "adduser", &ceopb.AddUser{Type: ceopb.AddUser_MEMBER.Enum(), Username: proto.String(name),
		Password: proto.String(password), Realname: proto.String("Topo Member"), Program: proto.String("Math")}, &added)
	ok(t, added.GetMessages())
	entry := r.LDAPEntry(t, r.UserDN(name))
	require.NotNil(t, entry, "adduser on the admin host made no LDAP entry")
	// The admin host's ceod subscribed the new member through the mail
	// host's ceod (which trusts its principal): the reply's last line.
	addr := name + "@" + strings.ToLower(r.Name)
	msgs := added.GetMessages()
	assert.Equal(t, "members list: Subscribed: "+addr, msgs[len(msgs)-1].GetMessage())
	assert.Contains(t, listMembers(t, tp), addr)

	// A member op: the admin host's ceod registers a term, writing LDAP
	// as ceod/admin.
	next := realm.CurrentTerm(time.Now().AddDate(0, 4, 0))
	var renewed ceopb.MemberResponse
	call(t, office, "renew", &ceopb.Renew{Username: proto.String(name), Terms: []string{next}}, &renewed)
	ok(t, renewed.GetMessages())
	assert.Contains(t, r.LDAPEntry(t, r.UserDN(name)).GetAttributeValues("term"), next)

	member := r.Kinit(t, name, password)
	var fwd ceopb.UpdateMailResponse
	call(t, member, "mail", &ceopb.UpdateMail{Username: proto.String(name), Forward: proto.String(name + "@example.org")}, &fwd)
	ok(t, fwd.GetMessages())
	b, err := os.ReadFile(filepath.Join(entry.GetAttributeValue("homeDirectory"), ".forward"))
	require.NoError(t, err)
	assert.Equal(t, name+"@example.org\n", string(b))

	var my ceopb.AddMySQLUserResponse
	call(t, member, "mysql", &ceopb.AddMySQLUser{Username: proto.String(name)}, &my)
	ok(t, my.GetMessages())
	assert.NotEmpty(t, my.GetPassword())
	var pg ceopb.AddPostgreSQLUserResponse
	call(t, member, "postgresql", &ceopb.AddPostgreSQLUser{Username: proto.String(name)}, &pg)
	ok(t, pg.GetMessages())
	assert.NotEmpty(t, pg.GetPassword())
	assert.Equal(t, []string{"db"}, auditedOn(t, tp, "mysql"))

	// The member asks again: the mail host's ceod answers, and they are
	// on the list once.
	code, out, stderr = onClient(t, tp, member, []byte(name+"\n"), ceoc, "mailman")
	require.Equal(t, 0, code, "ceoc mailman: %s", stderr)
	assert.Equal(t, "Already a member: "+addr+"\n\n", string(out))
	assert.Equal(t, []string{"mail"}, auditedOn(t, tp, "mailman"))
	assert.Contains(t, listMembers(t, tp), addr, "reply %q", out)
}

// listMembers returns the members list's roster on the mail host.
func listMembers(t *testing.T, tp *realm.Topology) []string {
	t.Helper()
	m := tp.Mailman
	members, err := mailmantest.Members(t.Context(), m.URL, m.User, m.Password, realm.MembersList+"."+strings.ToLower(tp.Realm().Name))
	require.NoError(t, err)
	return members
}

// TestTopologyNonOwnerRefused: an op sent straight to a host that does
// not own it is refused (the connection closes, as legacy did), audited
// there with the op's name, and nothing changes; with the owning host
// down, ceoc's error names that host and its port.
func TestTopologyNonOwnerRefused(t *testing.T) {
	r, tp := clubTopology(t)
	peer := mitpeer(t)
	cc := r.Kinit(t, "regular1", r.Users["regular1"].Password)

	// The legacy C client's protocol reaches each host by its short name
	// (canonicalized as legacy ceoc does) with an op that host owns.
	mysqlReq, err := proto.Marshal(&ceopb.AddMySQLUser{Username: proto.String("regular1")})
	require.NoError(t, err)
	for _, c := range []struct{ host, op, body string }{
		{"admin", "ping", "hello"},
		{"db", "mysql", string(mysqlReq)},
		{"mail", "mailman", "regular1\n"},
	} {
		code, out, stderr := onClient(t, tp, cc, nil, "env", "MITPEER_MSGTYPE="+opIDs[c.op], peer, "init", c.host, fmt.Sprint(r.CeodPort), c.body)
		require.Equal(t, 0, code, "mitpeer to %s (%s): %s", c.host, c.op, stderr)
		assert.Contains(t, string(out), "reply: ", c.host)
	}

	// adduser belongs to admin: db refuses it, even from office staff,
	// and no account appears.
	office := r.Kinit(t, "office1", r.Users["office1"].Password)
	name := "nonowner" + randomDigits(t, 6)
	addReq, err := proto.Marshal(&ceopb.AddUser{Type: ceopb.AddUser_MEMBER.Enum(), Username: proto.String(name),
		Password: proto.String("pw-" + randomDigits(t, 10)), Realname: proto.String("Not Here")})
	require.NoError(t, err)
	code, out, _ := onClient(t, tp, office, nil, "env", "MITPEER_MSGTYPE="+opIDs["adduser"], peer, "init", "db", fmt.Sprint(r.CeodPort), string(addReq))
	assert.NotEqual(t, 0, code, "db served adduser: %s", out)
	assert.NotContains(t, string(out), "reply: ")
	db := tp.Host("db")
	require.Eventually(t, func() bool {
		b, _ := os.ReadFile(db.Log)
		for _, l := range strings.Split(string(b), "\n") {
			if strings.Contains(l, "msg=audit event=op outcome=denied") && strings.Contains(l, " op=adduser ") {
				return true
			}
		}
		return false
	}, 10*time.Second, 20*time.Millisecond, "db audits the refused op by name")
	assert.Nil(t, r.LDAPEntry(t, r.UserDN(name)), "a refused adduser made an entry")
	assert.NoDirExists(t, filepath.Join(r.HomeRoot, "members", name))

	// The owner down: ceoc names it and its port.
	require.NoError(t, tp.StopHost("db"))
	t.Cleanup(func() { require.NoError(t, tp.StartHost("db")) })
	code, _, stderr := onClient(t, tp, cc, mysqlReq, filepath.Join(binaries(t), "ceoc"), "mysql")
	assert.Equal(t, 1, code)
	assert.Contains(t, string(stderr), fmt.Sprintf("db.%s:%d", strings.ToLower(r.Name), r.CeodPort), "the error names the owning host and port")
}

// opIDs are the shipped ops' ids, for the MIT client's msgtype.
var opIDs = map[string]string{"adduser": "1", "mail": "2", "mysql": "3", "mailman": "4", "postgresql": "5", "ping": "16"}

var (
	peerOnce sync.Once
	peerDir  string // removed by TestMain
	peerBin  string
	peerErr  error
)

// mitpeer builds the MIT libgssapi test client once.
func mitpeer(t *testing.T) string {
	t.Helper()
	peerOnce.Do(func() {
		src, err := filepath.Abs(filepath.Join("..", "..", "wire", "krb5", "gss", "testdata", "mitpeer.c"))
		if err != nil {
			peerErr = err
			return
		}
		dir, err := os.MkdirTemp("", "mitpeer-")
		if err != nil {
			peerErr = err
			return
		}
		peerDir, peerBin = dir, filepath.Join(dir, "mitpeer")
		if out, err := exec.Command("gcc", "-o", peerBin, src, "-lgssapi_krb5").CombinedOutput(); err != nil {
			peerErr = fmt.Errorf("building mitpeer: %v\n%s", err, out)
		}
	})
	require.NoError(t, peerErr)
	return peerBin
}

// TestTopologyNewMemberSubscribed: adduser on the admin host subscribes
// the new member on the mail host, ceod calling ceod through the ceoc
// relay as its service principal. With the mail host's ceod down the
// account is still made, the reply says the subscription failed, and
// the mailman op retries it.
func TestTopologyNewMemberSubscribed(t *testing.T) {
	r, tp := clubTopology(t)
	ceoc := filepath.Join(binaries(t), "ceoc")
	office := r.Kinit(t, "office1", r.Users["office1"].Password)
	domain := strings.ToLower(r.Name)
	add := func(name string) []*ceopb.StatusMessage {
		t.Helper()
		body, err := proto.Marshal(&ceopb.AddUser{Type: ceopb.AddUser_MEMBER.Enum(), Username: proto.String(name),
			Password: proto.String("pw-" + randomDigits(t, 10)), Realname: proto.String("Listed Member")})
		require.NoError(t, err)
		code, out, stderr := onClient(t, tp, office, body, ceoc, "adduser")
		require.Equal(t, 0, code, "ceoc adduser: %s", stderr)
		var rep ceopb.AddUserResponse
		require.NoError(t, proto.Unmarshal(out, &rep))
		require.NotEmpty(t, rep.GetMessages())
		return rep.GetMessages()
	}

	name := "listed" + randomDigits(t, 5)
	msgs := add(name)
	for _, m := range msgs {
		assert.Zero(t, m.GetStatus(), "%s", m.GetMessage())
	}
	assert.Contains(t, msgs[len(msgs)-1].GetMessage(), "Subscribed: "+name+"@"+domain)
	assert.Contains(t, listMembers(t, tp), name+"@"+domain)
	assert.Equal(t, []string{"mail"}, auditedOn(t, tp, "mailman"), "the subscription is served by the mail host")
	b, err := os.ReadFile(tp.Host("mail").Log)
	require.NoError(t, err)
	assert.Contains(t, string(b), "principal="+tp.Owner("adduser").Principal+"@"+r.Name, "the admin host's ceod called as itself")

	require.NoError(t, tp.StopHost("mail"))
	down := "unlisted" + randomDigits(t, 5)
	msgs = add(down)
	require.NoError(t, tp.StartHost("mail"))
	last := msgs[len(msgs)-1]
	assert.NotZero(t, last.GetStatus(), "%s", last.GetMessage())
	assert.Contains(t, last.GetMessage(), "failed to subscribe "+down)
	require.NotNil(t, r.LDAPEntry(t, r.UserDN(down)), "a list failure keeps the account")
	assert.NotContains(t, listMembers(t, tp), down+"@"+domain)

	code, _, stderr := onClient(t, tp, office, []byte(down+"\n"), ceoc, "mailman")
	require.Equal(t, 0, code, "retry: %s", stderr)
	assert.Contains(t, listMembers(t, tp), down+"@"+domain, "the retry subscribes")
}
