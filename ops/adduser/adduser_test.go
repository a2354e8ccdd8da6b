package adduser_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/csclub/ceo/internal/opstest"
	"github.com/csclub/ceo/ops"
	"github.com/csclub/ceo/ops/adduser"
	"github.com/csclub/ceo/ops/config"
	"github.com/csclub/ceo/ops/kadmin"
	"github.com/csclub/ceo/wire/ceopb"
)

// checkAccount verifies everything a successful add must have made.
func (e *env) checkAccount(t *testing.T, kind string, name, password, realname, program, email string) int {
	t.Helper()
	r := e.r
	isClub := kind == "club"

	// The user entry, exactly.
	u := r.LDAPEntry(t, r.UserDN(name))
	require.NotNil(t, u, "user entry of %s", name)
	classes := []string{"top", "account", "posixAccount", "shadowAccount", "member"}
	if isClub {
		classes[4] = "club"
	}
	assert.ElementsMatch(t, classes, u.GetAttributeValues("objectClass"))
	uid, err := strconv.Atoi(u.GetAttributeValue("uidNumber"))
	require.NoError(t, err)
	lo, hi := e.cfg.IDRange(config.KindMember)
	root, _, shell := e.cfg.Home(config.KindMember)
	if isClub {
		lo, hi = e.cfg.IDRange(config.KindClub)
		root, _, shell = e.cfg.Home(config.KindClub)
	}
	assert.True(t, uid >= lo && uid <= hi, "uid %d in %d-%d", uid, lo, hi)
	homeDir := filepath.Join(root, name)
	want := map[string][]string{
		"uid": {name}, "cn": {realname}, "loginShell": {shell},
		"uidNumber": {strconv.Itoa(uid)}, "gidNumber": {strconv.Itoa(uid)}, "homeDirectory": {homeDir},
	}
	if program != "" {
		want["program"] = []string{program}
	}
	got := map[string][]string{}
	for _, a := range u.Attributes {
		if a.Name != "objectClass" {
			got[a.Name] = a.Values
		}
	}
	assert.Equal(t, want, got, "attributes of %s", u.DN)

	// The group.
	g := r.LDAPEntry(t, r.GroupDN(name))
	require.NotNil(t, g, "group of %s", name)
	assert.ElementsMatch(t, []string{"top", "group", "posixGroup"}, g.GetAttributeValues("objectClass"))
	assert.Equal(t, []string{name}, g.GetAttributeValues("cn"))
	assert.Equal(t, []string{strconv.Itoa(uid)}, g.GetAttributeValues("gidNumber"))
	// The number is nobody else's.
	same := r.LDAPSearch(t, r.LDAPBase, "(|(uidNumber="+strconv.Itoa(uid)+")(gidNumber="+strconv.Itoa(uid)+"))", "dn")
	assert.Len(t, same, 2, "only the user and its group carry %d", uid)

	// The sudo role, for clubs only.
	role := r.LDAPEntry(t, "cn=%"+name+","+r.SudoBase)
	if isClub {
		require.NotNil(t, role, "sudo role of %s", name)
		assert.ElementsMatch(t, []string{"top", "sudoRole"}, role.GetAttributeValues("objectClass"))
		assert.Equal(t, []string{"%" + name}, role.GetAttributeValues("cn"))
		assert.Equal(t, []string{"%" + name}, role.GetAttributeValues("sudoUser"))
		assert.Equal(t, []string{"ALL"}, role.GetAttributeValues("sudoHost"))
		assert.Equal(t, []string{"ALL"}, role.GetAttributeValues("sudoCommand"))
		assert.Equal(t, []string{"!authenticate"}, role.GetAttributeValues("sudoOption"))
		assert.Equal(t, []string{name}, role.GetAttributeValues("sudoRunAsUser"))
	} else {
		assert.Nil(t, role)
	}

	// The principal: kinit with the password works; none for clubs.
	if isClub {
		assert.False(t, e.principalExists(t, name))
	} else {
		require.NoError(t, kinit(t, r, name, password))
		assert.Error(t, kinit(t, r, name, password+"x"))
		p, err := e.kadm.GetPrincipal(t.Context(), name)
		require.NoError(t, err)
		assert.Equal(t, "default", p.Policy)
	}

	// The home: owner, mode, skeleton, .forward, ACLs.
	hu, hg, mode := opstest.Owner(t, homeDir)
	assert.Equal(t, uid, hu)
	assert.Equal(t, uid, hg)
	bu, _, _ := opstest.Owner(t, filepath.Join(homeDir, ".bashrc"))
	assert.Equal(t, uid, bu, ".bashrc from the skeleton")
	if email != "" {
		b, err := os.ReadFile(filepath.Join(homeDir, ".forward"))
		require.NoError(t, err)
		assert.Equal(t, email+"\n", string(b))
		fu, fg, fmode := opstest.Owner(t, filepath.Join(homeDir, ".forward"))
		assert.Equal(t, []int{uid, uid}, []int{fu, fg})
		assert.Equal(t, os.FileMode(0o644), fmode)
	} else {
		_, err := os.Lstat(filepath.Join(homeDir, ".forward"))
		assert.True(t, os.IsNotExist(err))
	}
	out, err := exec.Command("getfacl", "-n", "--omit-header", homeDir).Output()
	require.NoError(t, err)
	if isClub {
		assert.Equal(t, os.ModeDir|0o775, mode, "the group bits show the ACL mask")
		gid := strconv.Itoa(uid)
		assert.Equal(t, "user::rwx\ngroup::r-x\ngroup:"+gid+":rwx\nmask::rwx\nother::r-x\n"+
			"default:user::rwx\ndefault:group::r-x\ndefault:group:"+gid+":rwx\ndefault:mask::rwx\ndefault:other::r-x\n\n", string(out))
	} else {
		assert.Equal(t, os.ModeDir|0o755, mode)
		assert.Equal(t, "user::rwx\ngroup::r-x\nother::r-x\n\n", string(out))
	}
	return uid
}

func TestAddMember(t *testing.T) {
	both(t, func(t *testing.T) {
		e := newEnv(t)
		name := uniqueName("m")
		pw := "s3cret pass'\"$(x)"
		t0 := time.Now()
		msgs := e.call(t, "office1", member(name, pw, "Mary Member", "Computer Science", name+"@example.org"))
		t.Logf("adduser member took %v", time.Since(t0))
		requireOK(t, msgs)
		for _, line := range strings.Split(logOf(t), "\n") {
			if strings.Contains(line, "step timings") {
				t.Log(line)
			}
		}
		assert.Equal(t, "successfully created ldap account", msgs[0].GetMessage()[:len("successfully created ldap account")])
		uid := e.checkAccount(t, "member", name, pw, "Mary Member", "Computer Science", name+"@example.org")

		// The notify hook got the legacy argv and the messages.
		b, err := os.ReadFile(e.hookLog)
		require.NoError(t, err)
		log := string(b)
		assert.Contains(t, log, "argv: [addmember] [office1] ["+name+"] [Mary Member] [Computer Science] [success]\n")
		assert.Contains(t, log, "successfully created ldap account (uid "+strconv.Itoa(uid)+")\n")
		assert.Contains(t, log, "successfully created principal "+name+"@"+e.r.Name+"\n")
		assert.NotContains(t, log, pw)
		assertNotLogged(t, pw)
		assert.Contains(t, logOf(t), "outcome=ok")
	})
}

func TestAddClubRep(t *testing.T) {
	both(t, func(t *testing.T) {
		e := newEnv(t)
		name := uniqueName("r")
		m := member(name, "rep-password", "Rex Rep", "", "")
		m.Type = m.Type.Enum()
		*m.Type = 3 // CLUB_REP
		msgs := e.call(t, "syscom1", m)
		requireOK(t, msgs)
		e.checkAccount(t, "member", name, "rep-password", "Rex Rep", "", "")
		b, err := os.ReadFile(e.hookLog)
		require.NoError(t, err)
		assert.Contains(t, string(b), "argv: [addclubrep] [syscom1] ["+name+"] [Rex Rep] [] [success]\n")
	})
}

func TestAddClub(t *testing.T) {
	both(t, func(t *testing.T) {
		e := newEnv(t)
		name := uniqueName("c")
		t0 := time.Now()
		msgs := e.call(t, "office1", club(name, "Chess Club", "chess@example.org"))
		t.Logf("adduser club took %v", time.Since(t0))
		requireOK(t, msgs)
		uid := e.checkAccount(t, "club", name, "", "Chess Club", "", "chess@example.org")
		lo, _ := e.cfg.IDRange(config.KindClub)
		assert.GreaterOrEqual(t, uid, lo)
		b, err := os.ReadFile(e.hookLog)
		require.NoError(t, err)
		assert.Contains(t, string(b), "argv: [addclub] [office1] ["+name+"] [Chess Club] [] [success]\n")
		assert.Contains(t, string(b), "successfully created sudo role %"+name+"\n")
	})
}

func TestUnauthorized(t *testing.T) {
	e := newEnv(t)
	name := uniqueName("u")
	m := member(name, "password1", "Una Uthorized", "", "")
	body, _ := protoMarshal(m)
	for _, tc := range []struct{ user, principal string }{
		{"regular1", "regular1@" + e.r.Name},
		{"office1/admin", "office1/admin@" + e.r.Name}, // an instance
		{"", ""},
		{"nobody-at-all", "nobody-at-all@" + e.r.Name},
	} {
		msgs := e.callRaw(t, opsRequest(tc.user, tc.principal, body))
		requireRefused(t, msgs, adduser.StatusEPERM)
		assert.Contains(t, msgs[0].GetMessage(), " may not adduser "+name+": no rule of adduser in ceod.acl allows it (default deny)")
	}
	e.assertAbsent(t, name)
	e.assertNoHomes(t)
	_, err := os.Stat(e.hookLog)
	assert.True(t, os.IsNotExist(err), "no hook for a refusal")
}

func TestInvalidRequests(t *testing.T) {
	e := newEnv(t)
	before := len(e.r.LDAPSearch(t, e.r.LDAPBase, "(objectClass=*)", "dn"))
	okName := uniqueName("v")
	long := "a" + strings.Repeat("b", 199)
	cases := map[string]*adduserMsg{
		"dn injection":       member("a,ou=x", "password1", "A", "", ""),
		"path":               member("../x", "password1", "A", "", ""),
		"uppercase":          member("Root", "password1", "A", "", ""),
		"empty name":         member("", "password1", "A", "", ""),
		"200 chars":          member(long, "password1", "A", "", ""),
		"filter chars":       member("a*)(uid=*", "password1", "A", "", ""),
		"leading dash":       member("-randkey", "password1", "A", "", ""),
		"space":              member("a b", "password1", "A", "", ""),
		"unicode":            member("é", "password1", "A", "", ""),
		"no realname":        member(okName, "password1", "", "", ""),
		"blank realname":     member(okName, "password1", "   ", "", ""),
		"control realname":   member(okName, "password1", "A\nB", "", ""),
		"no password":        member(okName, "", "A", "", ""),
		"short password":     member(okName, "abc", "A", "", ""),
		"newline password":   member(okName, "abcd\nefgh", "A", "", ""),
		"club with password": withPassword(club(okName, "A Club", ""), "password1"),
		"club with program":  withProgram(club(okName, "A Club", ""), "CS"),
		"pipe email":         member(okName, "password1", "A", "", "|/bin/sh -c evil"),
		"two emails":         member(okName, "password1", "A", "", "a@b.c,d@e.f"),
		"file email":         member(okName, "password1", "A", "", "/etc/passwd"),
		"bad type":           withType(member(okName, "password1", "A", "", ""), 7),
	}
	for what, m := range cases {
		t.Run(what, func(t *testing.T) {
			msgs := e.call(t, "office1", m)
			requireRefused(t, msgs, adduser.StatusEINVAL)
			t.Log(msgs[0].GetMessage())
		})
	}
	// A body that is not an AddUser at all.
	msgs := e.callRaw(t, opsRequest("office1", "office1@"+e.r.Name, []byte{0xff, 0x01, 0x02}))
	requireRefused(t, msgs, adduser.StatusEINVAL)
	msgs = e.callRaw(t, opsRequest("office1", "office1@"+e.r.Name, nil))
	requireRefused(t, msgs, adduser.StatusEINVAL)

	// Nothing changed anywhere.
	assert.Equal(t, before, len(e.r.LDAPSearch(t, e.r.LDAPBase, "(objectClass=*)", "dn")))
	e.assertAbsent(t, okName)
	e.assertNoHomes(t)
	assert.False(t, e.principalExists(t, "root"))
	_, err := os.Stat(filepath.Join(filepath.Dir(e.cfg.MemberHome), "x"))
	assert.True(t, os.IsNotExist(err))
}

func TestExisting(t *testing.T) {
	both(t, func(t *testing.T) {
		e := newEnv(t)
		// Taken in LDAP as a user, as a group only, in NSS only.
		requireRefused(t, e.call(t, "office1", member("regular1", "password1", "Dup", "", "")), adduser.StatusEEXIST)
		requireRefused(t, e.call(t, "office1", member("office", "password1", "Dup", "", "")), adduser.StatusEEXIST)
		requireRefused(t, e.call(t, "office1", member("bin", "password1", "Dup", "", "")), adduser.StatusEEXIST)
		requireRefused(t, e.call(t, "office1", club("daemon", "Dup", "")), adduser.StatusEEXIST)

		// A sudo role left from an old club.
		name := uniqueName("s")
		conn := e.r.LDAPRootConn(t)
		req := ldap.NewAddRequest("cn=%"+name+","+e.r.SudoBase, nil)
		req.Attribute("objectClass", []string{"top", "sudoRole"})
		req.Attribute("cn", []string{"%" + name})
		req.Attribute("sudoUser", []string{"%" + name})
		require.NoError(t, conn.Add(req))
		t.Cleanup(func() { conn.Del(ldap.NewDelRequest("cn=%"+name+","+e.r.SudoBase, nil)) })
		msgs := e.call(t, "office1", club(name, "Old Club", ""))
		requireRefused(t, msgs, adduser.StatusEEXIST)
		assert.Contains(t, msgs[0].GetMessage(), "sudo role")
		assert.Nil(t, e.r.LDAPEntry(t, e.r.UserDN(name)))

		// A home directory left behind.
		name = uniqueName("h")
		require.NoError(t, os.Mkdir(filepath.Join(e.cfg.MemberHome, name), 0o700))
		msgs = e.call(t, "office1", member(name, "password1", "Homey", "", ""))
		requireRefused(t, msgs, adduser.StatusEEXIST)
		assert.Contains(t, msgs[0].GetMessage(), "home directory")
		assert.Nil(t, e.r.LDAPEntry(t, e.r.UserDN(name)))

		// Adding the same member twice: the second changes nothing.
		name = uniqueName("t")
		requireOK(t, e.call(t, "office1", member(name, "first-pw", "Twice", "", "")))
		requireRefused(t, e.call(t, "office1", member(name, "second-pw", "Twice Again", "", "")), adduser.StatusEEXIST)
		e.checkAccount(t, "member", name, "first-pw", "Twice", "", "")
	})
}

// TestQuota: each account type copies its own prototype's quota, as
// legacy (ctdalek for members, csc for clubs); the machine has no quota
// file system, so a stand-in setquota on the configured path records its
// argv.
func TestQuota(t *testing.T) {
	t.Run("prototype per account type", func(t *testing.T) {
		e := newEnv(t)
		dir := t.TempDir()
		script := filepath.Join(dir, "setquota")
		require.NoError(t, os.WriteFile(script, []byte("#!/bin/sh\necho \"$@\" >> "+dir+"/args\n"), 0o755))
		e.cfg.QuotaPrototype = "fallback"
		e.cfg.MemberQuotaPrototype = "ctdalek"
		e.cfg.ClubQuotaPrototype = "csc"
		e.cfg.SetquotaPath = script
		m, rep, c := uniqueName("qm"), uniqueName("qr"), uniqueName("qc")
		requireOK(t, e.call(t, "office1", member(m, "password1", "Quo Ta", "", "")))
		clubRep := member(rep, "password1", "Club Rep", "", "")
		clubRep.Type = ceopb.AddUser_CLUB_REP.Enum()
		msgs := e.call(t, "office1", clubRep)
		requireOK(t, msgs)
		requireOK(t, e.call(t, "office1", club(c, "Quota Club", "")))
		uidM := e.checkAccount(t, "member", m, "password1", "Quo Ta", "", "")
		uidR := e.checkAccount(t, "member", rep, "password1", "Club Rep", "", "")
		uidC := e.checkAccount(t, "club", c, "", "Quota Club", "", "")
		b, err := os.ReadFile(filepath.Join(dir, "args"))
		require.NoError(t, err)
		assert.Equal(t, fmt.Sprintf("-a -p ctdalek %d\n-a -p fallback %d\n-a -p csc %d\n", uidM, uidR, uidC), string(b))
		assert.Contains(t, text(msgs), "successfully set quota (copied from fallback)")
	})
	t.Run("failure keeps the account", func(t *testing.T) {
		e := newEnv(t)
		if _, err := exec.LookPath("setquota"); err != nil {
			e.cfg.SetquotaPath = "/nonexistent/setquota"
		}
		// This machine's file systems have no quotas: the real setquota
		// fails; as legacy, that is reported as EQUOTA and the account stays.
		e.cfg.MemberQuotaPrototype = "root"
		name := uniqueName("q")
		msgs := e.call(t, "office1", member(name, "password1", "Quo Ta", "", ""))
		t.Log(text(msgs))
		last := msgs[len(msgs)-1]
		assert.Equal(t, ops.EQUOTA, last.GetStatus())
		assert.Contains(t, last.GetMessage(), "failed to set quota")
		assert.Contains(t, text(msgs), "quota prototypes empty")
		assert.NotContains(t, text(msgs), "rollback")
		e.checkAccount(t, "member", name, "password1", "Quo Ta", "", "")
	})
}

func TestLDAPBindIsGSSAPI(t *testing.T) {
	// Setup must refuse to run without the admin keytab, and the handler
	// it builds binds as ceod/admin: the entries it makes carry
	// creatorsName uid=ceod/admin.
	e := newEnv(t)
	cfg := *e.cfg
	cfg.AdminKeytab = ""
	_, err := adduser.Setup(t.Context(), &cfg, adduser.Options{KRB5Config: e.r.KRB5Config})
	require.Error(t, err)

	name := uniqueName("g")
	requireOK(t, e.call(t, "office1", member(name, "password1", "Gee Ess", "", "")))
	got := e.r.LDAPSearch(t, e.r.UsersBase, "(uid="+name+")", "creatorsName")
	require.Len(t, got, 1)
	assert.True(t, strings.EqualFold("uid=ceod/admin,ou=people,"+e.r.LDAPBase, got[0].GetAttributeValue("creatorsName")),
		"creatorsName %s", got[0].GetAttributeValue("creatorsName"))
}

// TestNoTakeover: a principal made outside ceod (kadmin addprinc) with
// no LDAP entry is not ceod's to replace: adduser gets EEXIST, nothing
// is created, and the principal's keys are unchanged (same kvno, and the
// old password still works).
func TestNoTakeover(t *testing.T) {
	e := newEnv(t)
	name := uniqueName("l")
	require.NoError(t, e.kadm.AddPrincipal(t.Context(), name, "old-password"))
	kvno := e.r.KVNO(t, name)
	msgs := e.call(t, "office1", member(name, "new-password", "Left Over", "", ""))
	requireRefused(t, msgs, 17)
	assert.Contains(t, text(msgs), "already exists without an account")
	assert.Equal(t, kvno, e.r.KVNO(t, name), "the principal's keys changed")
	require.NoError(t, kinit(t, e.r, name, "old-password"))
	assert.Empty(t, e.r.LDAPSearch(t, e.r.UsersBase, "(uid="+name+")", "uid"))
	assert.Empty(t, e.r.LDAPSearch(t, e.r.GroupsBase, "(cn="+name+")", "cn"))

	// A club has no principal: one of its name is left alone and the
	// club is made.
	name = uniqueName("l")
	require.NoError(t, e.kadm.AddPrincipal(t.Context(), name, "old-password"))
	kvno = e.r.KVNO(t, name)
	requireOK(t, e.call(t, "office1", club(name, "Left Club", "")))
	assert.Len(t, e.r.LDAPSearch(t, e.r.UsersBase, "(uid="+name+")", "uid"), 1)
	assert.Equal(t, kvno, e.r.KVNO(t, name))
}

// TestReservedNames: every built-in reserved name and one from
// reserved_names is refused with EINVAL, and nothing is created.
func TestReservedNames(t *testing.T) {
	e := newEnv(t)
	e.cfg.ReservedNames = []string{"postmaster"}
	for _, name := range append(slices.Clone(config.BuiltinReservedNames), "postmaster", "Root") {
		msgs := e.call(t, "office1", member(name, "password1", "Re Served", "", ""))
		requireRefused(t, msgs, 22)
		assert.Contains(t, text(msgs), "is reserved", name)
		assert.Empty(t, e.r.LDAPSearch(t, e.r.UsersBase, "(uid="+name+")", "uid"), name)
		assert.Empty(t, e.r.LDAPSearch(t, e.r.GroupsBase, "(cn="+name+")", "cn"), name)
		_, err := os.Stat(filepath.Join(e.cfg.MemberHome, name))
		assert.True(t, os.IsNotExist(err), name)
	}
	// The realm's own krbtgt and kadmin principals are untouched (their
	// instances make them real; the bare names must stay unmade).
	_, err := e.kadm.GetPrincipal(t.Context(), "ceod")
	assert.ErrorIs(t, err, kadmin.ErrNotFound)
}

// TestHookFailureIgnored: a failing notify hook is logged, and the
// account stands.
func TestHookFailureIgnored(t *testing.T) {
	e := newEnv(t)
	require.NoError(t, os.WriteFile(e.cfg.NotifyHook, []byte("#!/bin/sh\necho hook broke >&2\nexit 3\n"), 0o755))
	name := uniqueName("n")
	requireOK(t, e.call(t, "office1", member(name, "password1", "Noti Fy", "", "")))
	e.checkAccount(t, "member", name, "password1", "Noti Fy", "", "")
	assert.Contains(t, logOf(t), "notify hook failed")
	assert.Contains(t, logOf(t), "hook broke")

	// No hook configured: fine too.
	e.cfg.NotifyHook = ""
	name = uniqueName("n")
	requireOK(t, e.call(t, "office1", member(name, "password1", "Noti Fy", "", "")))
}

type failingNSS struct{ adduser.SystemNSS }

func (failingNSS) GroupExists(string) (bool, error) { return false, errors.New("nslcd is down") }

// TestNSSFailure: a name service that cannot answer fails the request
// closed, before anything is made.
func TestNSSFailure(t *testing.T) {
	e := newEnv(t, func(d *adduser.Deps) { d.NSS = failingNSS{} })
	name := uniqueName("f")
	msgs := e.call(t, "office1", member(name, "password1", "Nss Down", "", ""))
	requireRefused(t, msgs, 5)
	e.assertAbsent(t, name)
}
