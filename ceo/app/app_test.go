package app_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/csclub/ceo/ceo/app"
	"github.com/csclub/ceo/ceo/internal/ceotest"
	"github.com/csclub/ceo/internal/ceodtest/daemontest"
	"github.com/csclub/ceo/internal/realm"
)

func TestMain(m *testing.M) { os.Exit(ceotest.Main(m)) }

// TestGroupCascades: the front end's group change (App.Remote, as the
// TUI's group screen makes it) goes through ceod's group op, which
// applies the cascades: adding a member to office and syscom brings
// legacy's groups along, removal mirrors it, and a cascade group that
// does not exist (www here) is skipped; cascades configured in ceo.cf
// (ceod reads it) replace legacy's. syscom1 may not write the directory
// itself (strict mode): the changes are ceod's.
func TestGroupCascades(t *testing.T) {
	r := ceotest.Setup(t)
	admin := ceotest.Admin(t, r)
	for i, g := range []string{"cdrom", "audio", "video", "staff", "adm", "src"} {
		req := ldap.NewAddRequest(r.GroupDN(g), nil)
		req.Attribute("objectClass", []string{"top", "group", "posixGroup"})
		req.Attribute("cn", []string{g})
		req.Attribute("gidNumber", []string{fmt.Sprint(600 + i)})
		if err := admin.Add(req); err != nil {
			t.Fatalf("adding group %s: %v", g, err)
		}
		t.Cleanup(func() { admin.Del(ldap.NewDelRequest(r.GroupDN(g), nil)) })
	}
	ceotest.AddEntry(t, r, admin, ceotest.Entry{UID: "casc1", UIDNumber: 27301})
	t.Cleanup(func() {
		for _, g := range []string{"office", "syscom"} {
			del := ldap.NewModifyRequest(r.GroupDN(g), nil)
			del.Delete("memberUid", []string{"casc1"})
			admin.Modify(del)
		}
	})
	in := func(group string) bool {
		return slices.Contains(ceotest.Attr(t, admin, r.GroupDN(group), "memberUid"), "casc1")
	}
	change := func(t *testing.T, a *app.App, group string, add bool, messages []string, member map[string]bool) {
		t.Helper()
		st, err := a.Remote.ChangeGroup(t.Context(), group, add, []string{"casc1"})
		if err != nil {
			t.Fatalf("%s %v: %v", group, add, err)
		}
		var got []string
		for _, s := range st {
			got = append(got, s.Message)
		}
		if !slices.Equal(got, messages) {
			t.Errorf("%s %v: ceod said %q, want %q", group, add, got, messages)
		}
		for g, want := range member {
			if in(g) != want {
				t.Errorf("%s %v: casc1 in %s = %v, want %v", group, add, g, !want, want)
			}
		}
	}

	t.Run("legacy", func(t *testing.T) {
		daemontest.Start(t, r, daemontest.Options{}).RequireServed(t, "group")
		a := ceotest.Connect(t, r, r.ConfigDir, "syscom1")
		change(t, a, "office", true, []string{"added to office: casc1", "added to cdrom: casc1", "added to audio: casc1", "added to video: casc1"},
			map[string]bool{"office": true, "cdrom": true, "audio": true, "video": true, "staff": false, "syscom": false})
		// syscom brings office (already there: left alone), staff, adm, src.
		change(t, a, "syscom", true, []string{"added to syscom: casc1", "added to staff: casc1", "added to adm: casc1", "added to src: casc1"},
			map[string]bool{"syscom": true, "office": true, "staff": true, "adm": true, "src": true})
		// Removal mirrors it, one level deep as legacy: cdrom etc. stay.
		change(t, a, "syscom", false, []string{"removed from syscom: casc1", "removed from office: casc1", "removed from staff: casc1",
			"removed from adm: casc1", "removed from src: casc1"},
			map[string]bool{"syscom": false, "office": false, "staff": false, "adm": false, "src": false, "cdrom": true})
	})

	t.Run("configured", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "config")
		if err := os.CopyFS(dir, os.DirFS(r.ConfigDir)); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "ceo.cf"), []byte("group_cascade_office = staff\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		daemontest.Start(t, r, daemontest.Options{ConfigDir: dir}).RequireServed(t, "group")
		a := ceotest.Connect(t, r, dir, "syscom1")
		change(t, a, "office", true, []string{"added to office: casc1", "added to staff: casc1"},
			map[string]bool{"office": true, "staff": true})
		change(t, a, "office", false, []string{"removed from office: casc1", "removed from staff: casc1"},
			map[string]bool{"office": false, "staff": false, "cdrom": true})
	})
}

// TestStrictLDAP: the front end's tests run in strict mode, and it is
// real: slapd refuses office1's and syscom1's own writes to member,
// group and position data and programs (ceod's ops make those changes).
func TestStrictLDAP(t *testing.T) {
	r := ceotest.Setup(t)
	if !r.StrictLDAP {
		t.Fatal("the front end's realm is not in strict LDAP mode")
	}
	admin := ceotest.Admin(t, r)
	ceotest.AddEntry(t, r, admin, ceotest.Entry{UID: "strict1", UIDNumber: 27311, Program: "Testing"})
	office := ceotest.Conn(t, r, ceotest.Login(t, r, "office1"))
	syscom := ceotest.Conn(t, r, ceotest.Login(t, r, "syscom1"))
	modify := func(dn, attr, value string) *ldap.ModifyRequest {
		req := ldap.NewModifyRequest(dn, nil)
		req.Add(attr, []string{value})
		return req
	}
	replace := func(dn, attr, value string) *ldap.ModifyRequest {
		req := ldap.NewModifyRequest(dn, nil)
		req.Replace(attr, []string{value})
		return req
	}
	for _, w := range []struct {
		who  string
		c    *ldap.Conn
		req  *ldap.ModifyRequest
		attr string
	}{
		{"office1", office, modify(r.UserDN("strict1"), "term", realm.CurrentTerm(time.Now())), "term"},
		{"office1", office, modify(r.GroupDN("strict1"), "memberUid", "office1"), "memberUid"},
		{"office1", office, modify(r.UserDN("strict1"), "position", "librarian"), "position"},
		{"syscom1", syscom, modify(r.GroupDN("syscom"), "memberUid", "strict1"), "memberUid"},
		{"syscom1", syscom, modify(r.UserDN("strict1"), "nonMemberTerm", realm.CurrentTerm(time.Now())), "nonMemberTerm"},
		{"syscom1", syscom, modify(r.UserDN("syscom1"), "loginShell", "/bin/sh"), "loginShell"},
		{"syscom1", syscom, replace(r.UserDN("strict1"), "program", "Mathematics"), "program"},
	} {
		err := w.c.Modify(w.req)
		if !ldap.IsErrorWithCode(err, ldap.LDAPResultInsufficientAccessRights) {
			t.Errorf("%s writing %s of %s: %v, want insufficient access", w.who, w.attr, w.req.DN, err)
		}
		if got := ceotest.Attr(t, admin, w.req.DN, w.attr); slices.Contains(got, w.req.Changes[0].Modification.Vals[0]) {
			t.Errorf("%s's refused write of %s is in the directory: %v", w.who, w.attr, got)
		}
	}
	// ceod's own identity writes.
	if err := admin.Modify(modify(r.UserDN("strict1"), "position", "librarian")); err != nil {
		t.Errorf("ceod/admin writing position: %v", err)
	}
}
