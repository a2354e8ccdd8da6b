package app_test

import (
	"fmt"
	"os"
	"slices"
	"testing"

	"github.com/go-ldap/ldap/v3"

	"github.com/csclub/ceo/ceo/app"
	"github.com/csclub/ceo/ceo/config"
	"github.com/csclub/ceo/ceo/internal/ceotest"
	"github.com/csclub/ceo/internal/realm"
	"github.com/csclub/ceo/ops/groups"
)

func TestMain(m *testing.M) {
	code := realm.Main(m)
	ceotest.Cleanup()
	os.Exit(code)
}

// TestGroupCascades: as syscom1 against the realm's directory, adding a
// member to office and syscom brings legacy's groups along, and removal
// mirrors it; a cascade group that does not exist (www here) is noted.
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
	cfg, err := config.Load(r.ConfigDir)
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.Connect(t.Context(), cfg, ceotest.Login(t, r, "syscom1"))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	t.Cleanup(func() {
		for _, g := range []string{"office", "syscom"} {
			a.Dir.RemoveGroupMember(t.Context(), g, "casc1")
		}
	})
	in := func(group string) bool {
		return slices.Contains(ceotest.Attr(t, admin, r.GroupDN(group), "memberUid"), "casc1")
	}
	check := func(step string, res app.GroupChange, err error, changed, notes []string, member map[string]bool) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		if !slices.Equal(res.Changed, changed) || !slices.Equal(res.Notes, notes) {
			t.Errorf("%s: changed %v notes %v, want %v %v", step, res.Changed, res.Notes, changed, notes)
		}
		for g, want := range member {
			if in(g) != want {
				t.Errorf("%s: casc1 in %s = %v, want %v", step, g, !want, want)
			}
		}
	}

	res, err := a.ChangeGroup(t.Context(), "office", "casc1", true)
	check("add office", res, err, []string{"office", "cdrom", "audio", "video"}, []string{"no group www"},
		map[string]bool{"office": true, "cdrom": true, "audio": true, "video": true, "staff": false, "syscom": false})
	// syscom brings office (already there: left alone), staff, adm, src.
	res, err = a.ChangeGroup(t.Context(), "syscom", "casc1", true)
	check("add syscom", res, err, []string{"syscom", "staff", "adm", "src"}, nil,
		map[string]bool{"syscom": true, "office": true, "staff": true, "adm": true, "src": true})
	// Removal mirrors it, one level deep as legacy: cdrom etc. stay.
	res, err = a.ChangeGroup(t.Context(), "syscom", "casc1", false)
	check("remove syscom", res, err, []string{"syscom", "office", "staff", "adm", "src"}, nil,
		map[string]bool{"syscom": false, "office": false, "staff": false, "adm": false, "src": false, "cdrom": true})

	// Configured cascades replace legacy's.
	a.Config.Cascades, err = groups.Parse(map[string]string{"group_cascade_office": "staff"})
	if err != nil {
		t.Fatal(err)
	}
	res, err = a.ChangeGroup(t.Context(), "office", "casc1", true)
	check("add office, configured", res, err, []string{"office", "staff"}, nil, map[string]bool{"staff": true})
	res, err = a.ChangeGroup(t.Context(), "office", "casc1", false)
	check("remove office, configured", res, err, []string{"office", "staff"}, nil,
		map[string]bool{"office": false, "staff": false, "audio": true})
}
