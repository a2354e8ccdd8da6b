package kadmin_test

import (
	"testing"

	"github.com/csclub/ceo/internal/opstest"
	"github.com/csclub/ceo/internal/realm"
)

// BenchmarkQuery compares one kadmin run per query with the Session, for
// a getprinc and for an addprinc (whose time is mostly kadmind deriving
// the keys of the realm's enctypes from the password).
func BenchmarkQuery(b *testing.B) {
	r := realm.Get(b)
	for _, mode := range []struct {
		name    string
		session bool
	}{{"once", false}, {"session", true}} {
		c := client(r)
		c.Session = mode.session
		b.Run("getprinc/"+mode.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := c.GetPrincipal(b.Context(), "office1"); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("addprinc/"+mode.name, func(b *testing.B) {
			for b.Loop() {
				if err := c.AddPrincipal(b.Context(), opstest.UniqueName("bq"), "bench-pw"); err != nil {
					b.Fatal(err)
				}
			}
		})
		c.Close()
	}
}
