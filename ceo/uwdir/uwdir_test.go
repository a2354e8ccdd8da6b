package uwdir_test

import (
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/csclub/ceo/ceo/uwdir"
	"github.com/csclub/ceo/internal/realm"
)

func TestMain(m *testing.M) { os.Exit(realm.Main(m)) }

// TestLookupAndComplete reads the realm's university tree anonymously.
func TestLookupAndComplete(t *testing.T) {
	r := realm.Get(t)
	d, err := uwdir.Dial(t.Context(), r.LDAPURL, r.UWBase, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	want := r.UWPeople[0]
	p, ok, err := d.Lookup(want.UID)
	if err != nil || !ok || p != (uwdir.Person{UID: want.UID, Name: want.Name, Program: want.Program}) {
		t.Fatalf("Lookup(%s) = %+v, %v, %v", want.UID, p, ok, err)
	}
	for _, uid := range []string{"nobody-here", "*", "n*"} {
		if p, ok, err := d.Lookup(uid); err != nil || ok {
			t.Errorf("Lookup(%q) = %+v, %v, %v", uid, p, ok, err)
		}
	}
	var nn []string
	for _, p := range r.UWPeople {
		if strings.HasPrefix(p.UID, "nn") {
			nn = append(nn, p.UID)
		}
	}
	slices.Sort(nn)
	if got, err := d.Complete("nn", 10); err != nil || len(nn) < 2 || !slices.Equal(got, nn) {
		t.Errorf("Complete(nn) = %v, %v; want %v", got, err, nn)
	}
	if got, err := d.Complete("nn", 1); err != nil || len(got) != 1 {
		t.Errorf("Complete(nn, 1) = %v, %v", got, err)
	}
	if got, err := d.Complete("", 10); err != nil || got != nil {
		t.Errorf("Complete(\"\") = %v, %v", got, err)
	}

	// A base with nothing under it is no one, not an error.
	d2, err := uwdir.Dial(t.Context(), r.LDAPURL, "ou=Nowhere,"+r.UWBase, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer d2.Close()
	if _, ok, err := d2.Lookup(want.UID); err != nil || ok {
		t.Errorf("Lookup under a missing base = %v, %v", ok, err)
	}
}

func TestDialUnreachable(t *testing.T) {
	_, err := uwdir.Dial(t.Context(), "ldap://127.0.0.1:1", "dc=x", 2*time.Second)
	if err == nil || !strings.Contains(err.Error(), "cannot reach the university directory") {
		t.Fatalf("Dial(unreachable) = %v", err)
	}
}
