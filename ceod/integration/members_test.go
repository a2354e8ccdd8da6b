package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/go-ldap/ldap/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/csclub/ceo/ceoc"
	"github.com/csclub/ceo/internal/realm"
	"github.com/csclub/ceo/wire/ceopb"
)

// memberEnv is the whole daemon on the realm's CEO_CONFIG_DIR serving
// the member ops, with its shipped ceod.acl.
type memberEnv struct {
	r *realm.Realm
	d *ceod
}

func (e *memberEnv) call(t *testing.T, c *ceoc.Client, op string, req proto.Message) *ceopb.MemberResponse {
	t.Helper()
	body, err := proto.Marshal(req)
	require.NoError(t, err)
	out, err := c.Call(t.Context(), op, body)
	require.NoError(t, err, "%s\nceod log:\n%s", op, e.d.log)
	var resp ceopb.MemberResponse
	require.NoError(t, proto.Unmarshal(out, &resp))
	return &resp
}

func wantOK(t *testing.T, resp *ceopb.MemberResponse) {
	t.Helper()
	require.NotEmpty(t, resp.GetMessages())
	for _, m := range resp.GetMessages() {
		require.Zero(t, m.GetStatus(), "%s", m.GetMessage())
	}
}

// wantRefused checks the one status line of a refusal.
func wantRefused(t *testing.T, resp *ceopb.MemberResponse, errno syscall.Errno, contains ...string) {
	t.Helper()
	require.Len(t, resp.GetMessages(), 1, "%v", resp.GetMessages())
	m := resp.GetMessages()[0]
	assert.Equal(t, int32(errno), m.GetStatus(), "%s", m.GetMessage())
	for _, c := range contains {
		assert.Contains(t, m.GetMessage(), c)
	}
}

// addMember makes a member account (LDAP, principal, home) with adduser
// as office1 and returns its name and password.
func (e *memberEnv) addMember(t *testing.T) (string, string) {
	t.Helper()
	name, pw := "mem"+randomDigits(t, 6), "pw-"+randomDigits(t, 12)
	body, err := proto.Marshal(&ceopb.AddUser{Type: ceopb.AddUser_MEMBER.Enum(), Username: proto.String(name),
		Password: proto.String(pw), Realname: proto.String("Member " + name)})
	require.NoError(t, err)
	out, err := e.d.client(t, "office1").Call(t.Context(), "adduser", body)
	require.NoError(t, err)
	var resp ceopb.AddUserResponse
	require.NoError(t, proto.Unmarshal(out, &resp))
	for _, m := range resp.GetMessages() {
		require.Zero(t, m.GetStatus(), "adduser: %s", m.GetMessage())
	}
	return name, pw
}

func (e *memberEnv) as(t *testing.T, name, pw string) *ceoc.Client {
	cc := e.r.Kinit(t, name, pw)
	return &ceoc.Client{ConfigDir: e.r.ConfigDir, Port: e.d.port, KRB5Config: e.r.KRB5Config, Credentials: ceoc.CCache("FILE:" + cc)}
}

// attr reads an entry's attribute values as the rootdn; nil if no entry.
func (e *memberEnv) attr(t *testing.T, dn, attr string) []string {
	t.Helper()
	en := e.r.LDAPEntry(t, dn)
	if en == nil {
		return nil
	}
	v := en.GetAttributeValues(attr)
	slices.Sort(v)
	return v
}

// kinitErr tries a password without failing the test.
func kinitErr(t *testing.T, r *realm.Realm, principal, pw string) error {
	cmd := exec.Command("kinit", principal)
	cmd.Env = append(r.KrbEnv(), "KRB5CCNAME=FILE:"+filepath.Join(t.TempDir(), "cc"))
	cmd.Stdin = strings.NewReader(pw + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%v: %s", err, out)
	}
	return nil
}

// getprinc runs kadmin getprinc as ceod's admin principal.
func getprinc(t *testing.T, r *realm.Realm, name string) string {
	cmd := exec.Command("kadmin", "-k", "-t", r.AdminKeytab, "-p", r.AdminPrincipal, "-r", r.Name, "-q", "getprinc "+name)
	cmd.Env = append(r.KrbEnv(), "KRB5CCNAME=MEMORY:getprinc")
	out, _ := cmd.CombinedOutput()
	return string(out)
}

// ensureGroups adds empty groups (the cascade targets) as the rootdn.
func ensureGroups(t *testing.T, r *realm.Realm, names ...string) {
	conn := r.LDAPRootConn(t)
	for i, n := range names {
		add := ldap.NewAddRequest(r.GroupDN(n), nil)
		add.Attribute("objectClass", []string{"top", "group", "posixGroup"})
		add.Attribute("cn", []string{n})
		add.Attribute("gidNumber", []string{fmt.Sprint(19900 + i)})
		if err := conn.Add(add); err != nil && !ldap.IsErrorWithCode(err, ldap.LDAPResultEntryAlreadyExists) {
			t.Fatalf("adding group %s: %v", n, err)
		}
	}
}

// TestMemberOpsThroughDaemon: renew, group, positions, shell, program,
// passwd and deluser through ceoc and the real ceod on the realm, authorized by the
// shipped ceod.acl: the real outcome of each, each refusal EPERM naming
// the rule with nothing changed, each bad input refused with nothing
// changed.
func TestMemberOpsThroughDaemon(t *testing.T) {
	r := realm.Get(t)
	e := &memberEnv{r: r, d: realmDaemon(t, r)}
	e.d.log.WaitFor(t, map[string]string{"msg": "ceod listening"})
	office, syscom, regular := e.d.client(t, "office1"), e.d.client(t, "syscom1"), e.d.client(t, "regular1")
	name, pw := e.addMember(t)
	dn := r.UserDN(name)

	t.Run("renew", func(t *testing.T) {
		before := e.attr(t, dn, "term")
		wantOK(t, e.call(t, office, "renew", &ceopb.Renew{Username: proto.String(name), Terms: []string{"f2030", "w2031"}}))
		terms := e.attr(t, dn, "term")
		assert.Equal(t, append(slices.Clone(before), "f2030", "w2031"), terms)

		wantRefused(t, e.call(t, office, "renew", &ceopb.Renew{Username: proto.String(name), Terms: []string{"s2032", "f2030"}}),
			syscall.EEXIST, "already holds f2030")
		wantRefused(t, e.call(t, regular, "renew", &ceopb.Renew{Username: proto.String(name), Terms: []string{"s2032"}}),
			syscall.EPERM, "no rule of renew in ceod.acl allows it")
		wantRefused(t, e.call(t, office, "renew", &ceopb.Renew{Username: proto.String(name), Terms: []string{"x2032"}}),
			syscall.EINVAL, `invalid term "x2032"`)
		assert.Equal(t, terms, e.attr(t, dn, "term"), "a refusal changed the terms")

		wantOK(t, e.call(t, syscom, "renew", &ceopb.Renew{Username: proto.String(name), Terms: []string{"s2032"}, ClubRep: proto.Bool(true)}))
		assert.Equal(t, []string{"s2032"}, e.attr(t, dn, "nonMemberTerm"))
		a := e.d.log.WaitFor(t, map[string]string{"msg": "audit", "event": "op", "op": "renew", "principal": "regular1@" + r.Name})
		assert.Equal(t, "denied", a["outcome"])
	})

	t.Run("group", func(t *testing.T) {
		cascade := []string{"cdrom", "audio", "video", "www"}
		ensureGroups(t, r, cascade...)
		members := func() map[string]bool {
			out := map[string]bool{}
			for _, g := range append([]string{"office", "syscom"}, cascade...) {
				out[g] = slices.Contains(e.attr(t, r.GroupDN(g), "memberUid"), name) &&
					slices.Contains(e.attr(t, r.GroupDN(g), "uniqueMember"), dn)
			}
			return out
		}
		wantOK(t, e.call(t, syscom, "group", &ceopb.GroupChange{Action: ceopb.GroupChange_ADD.Enum(), Group: proto.String("office"), Usernames: []string{name}}))
		assert.Equal(t, map[string]bool{"office": true, "syscom": false, "cdrom": true, "audio": true, "video": true, "www": true}, members())

		in := members()
		wantRefused(t, e.call(t, office, "group", &ceopb.GroupChange{Action: ceopb.GroupChange_ADD.Enum(), Group: proto.String("syscom"), Usernames: []string{name}}),
			syscall.EPERM, "denied by ceod.acl:", "(group group:office club): syscom is not a club account")
		wantRefused(t, e.call(t, syscom, "group", &ceopb.GroupChange{Action: ceopb.GroupChange_ADD.Enum(), Group: proto.String("office"), Usernames: []string{name}}),
			syscall.EEXIST, "already in office: "+name)
		wantRefused(t, e.call(t, syscom, "group", &ceopb.GroupChange{Action: ceopb.GroupChange_ADD.Enum(), Group: proto.String("office"), Usernames: []string{"nosuchuser"}}),
			syscall.ENOENT, "no such user: nosuchuser")
		wantRefused(t, e.call(t, syscom, "group", &ceopb.GroupChange{Action: ceopb.GroupChange_ADD.Enum(), Group: proto.String("Bad,Group"), Usernames: []string{name}}),
			syscall.EINVAL, "invalid group name")
		assert.Equal(t, in, members(), "a refusal changed memberships")

		wantOK(t, e.call(t, syscom, "group", &ceopb.GroupChange{Action: ceopb.GroupChange_REMOVE.Enum(), Group: proto.String("office"), Usernames: []string{name}}))
		for g, ok := range members() {
			assert.False(t, ok, "still in %s", g)
		}
	})

	t.Run("positions", func(t *testing.T) {
		holders := func() []string {
			var out []string
			for _, en := range r.LDAPSearch(t, r.UsersBase, "(position=treasurer)", "uid") {
				out = append(out, en.GetAttributeValue("uid"))
			}
			return out
		}
		wantOK(t, e.call(t, office, "positions", &ceopb.SetPosition{Position: proto.String("treasurer"), Usernames: []string{name}}))
		assert.Equal(t, []string{name}, holders())
		wantRefused(t, e.call(t, regular, "positions", &ceopb.SetPosition{Position: proto.String("treasurer")}),
			syscall.EPERM, "no rule of positions")
		wantRefused(t, e.call(t, office, "positions", &ceopb.SetPosition{Position: proto.String("emperor"), Usernames: []string{name}}),
			syscall.EINVAL, "no such position")
		assert.Equal(t, []string{name}, holders())
		wantOK(t, e.call(t, office, "positions", &ceopb.SetPosition{Position: proto.String("treasurer")}))
		assert.Empty(t, holders())
	})

	t.Run("shell", func(t *testing.T) {
		self := e.as(t, name, pw)
		wantOK(t, e.call(t, self, "shell", &ceopb.ChangeShell{Username: proto.String(name), Shell: proto.String("/bin/sh")}))
		assert.Equal(t, []string{"/bin/sh"}, e.attr(t, dn, "loginShell"))
		wantRefused(t, e.call(t, regular, "shell", &ceopb.ChangeShell{Username: proto.String(name), Shell: proto.String("/bin/bash")}),
			syscall.EPERM, "no rule of shell")
		wantRefused(t, e.call(t, self, "shell", &ceopb.ChangeShell{Username: proto.String(name), Shell: proto.String("/tmp/evil")}),
			syscall.EINVAL, "/tmp/evil is not an allowed shell")
		assert.Equal(t, []string{"/bin/sh"}, e.attr(t, dn, "loginShell"))
		wantOK(t, e.call(t, syscom, "shell", &ceopb.ChangeShell{Username: proto.String(name), Shell: proto.String("/bin/bash")}))
		assert.Equal(t, []string{"/bin/bash"}, e.attr(t, dn, "loginShell"))
	})

	t.Run("program", func(t *testing.T) {
		set := func(c *ceoc.Client, p string) *ceopb.MemberResponse {
			return e.call(t, c, "program", &ceopb.SetProgram{Username: proto.String(name), Program: proto.String(p)})
		}
		wantOK(t, set(syscom, "Pure Mathematics"))
		assert.Equal(t, []string{"Pure Mathematics"}, e.attr(t, dn, "program"))
		wantRefused(t, set(office, "Arts"), syscall.EPERM, "no rule of program in ceod.acl allows it")
		self := e.as(t, name, pw)
		wantRefused(t, set(self, "Arts"), syscall.EPERM, "no rule of program")
		wantRefused(t, set(syscom, "Arts\nterm: f2099"), syscall.EINVAL, "printable text")
		wantRefused(t, set(syscom, strings.Repeat("x", 257)), syscall.EINVAL, "at most 256 bytes")
		assert.Equal(t, []string{"Pure Mathematics"}, e.attr(t, dn, "program"), "a refusal changed the program")
		wantOK(t, set(syscom, ""))
		assert.Empty(t, e.attr(t, dn, "program"))
		wantOK(t, set(syscom, "")) // removing an absent program is no error
	})

	t.Run("passwd", func(t *testing.T) {
		resp := e.call(t, office, "passwd", &ceopb.ResetPassword{Username: proto.String(name)})
		wantOK(t, resp)
		newPW := resp.GetPassword()
		require.NotEmpty(t, newPW)
		require.NoError(t, kinitErr(t, r, name, newPW), "kinit with the new password")
		require.Error(t, kinitErr(t, r, name, pw), "kinit with the old password")
		assert.NotContains(t, e.d.log.String(), newPW, "the new password in ceod's log")

		wantRefused(t, e.call(t, office, "passwd", &ceopb.ResetPassword{Username: proto.String("syscom1"), Password: proto.String("stolen-1234")}),
			syscall.EPERM, "denied by ceod.acl:", "(passwd group:office member !group:syscom): syscom1 is in group syscom")
		require.NoError(t, kinitErr(t, r, "syscom1", r.Users["syscom1"].Password), "syscom1's password changed")
		wantRefused(t, e.call(t, regular, "passwd", &ceopb.ResetPassword{Username: proto.String(name), Password: proto.String("mine-1234")}),
			syscall.EPERM, "no rule of passwd")
		wantRefused(t, e.call(t, syscom, "passwd", &ceopb.ResetPassword{Username: proto.String(name), Password: proto.String("a\nb")}),
			syscall.EINVAL, "line break")
		require.NoError(t, kinitErr(t, r, name, newPW), "a refusal changed the password")

		wantOK(t, e.call(t, syscom, "passwd", &ceopb.ResetPassword{Username: proto.String(name), Password: proto.String("given-" + pw), NeedChange: proto.Bool(true)}))
		assert.Contains(t, getprinc(t, r, name), "REQUIRES_PWCHANGE")
	})

	t.Run("deluser", func(t *testing.T) {
		victim, vpw := e.addMember(t)
		vdn := r.UserDN(victim)
		home := e.r.LDAPEntry(t, vdn).GetAttributeValue("homeDirectory")
		require.DirExists(t, home)

		wantRefused(t, e.call(t, office, "deluser", &ceopb.DeleteUser{Username: proto.String(victim), RemoveHome: proto.Bool(true)}),
			syscall.EPERM, "no rule of deluser")
		wantRefused(t, e.call(t, syscom, "deluser", &ceopb.DeleteUser{Username: proto.String("no such")}),
			syscall.EINVAL, "invalid user name")
		require.NotNil(t, e.r.LDAPEntry(t, vdn))
		require.NoError(t, kinitErr(t, r, victim, vpw))

		wantOK(t, e.call(t, syscom, "deluser", &ceopb.DeleteUser{Username: proto.String(victim), RemoveHome: proto.Bool(true)}))
		assert.Nil(t, e.r.LDAPEntry(t, vdn), "user entry left")
		assert.Nil(t, e.r.LDAPEntry(t, r.GroupDN(victim)), "group entry left")
		assert.Contains(t, getprinc(t, r, victim), "does not exist")
		assert.Error(t, kinitErr(t, r, victim, vpw))
		_, err := os.Lstat(home)
		assert.True(t, os.IsNotExist(err), "home left: %v", err)

		// Without remove_home the home stays.
		keep, _ := e.addMember(t)
		khome := e.r.LDAPEntry(t, r.UserDN(keep)).GetAttributeValue("homeDirectory")
		wantOK(t, e.call(t, syscom, "deluser", &ceopb.DeleteUser{Username: proto.String(keep)}))
		assert.Nil(t, e.r.LDAPEntry(t, r.UserDN(keep)))
		assert.DirExists(t, khome)
	})
}
