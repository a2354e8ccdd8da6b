package crashtest

import (
	"slices"
	"testing"
	"time"

	"github.com/csclub/ceo/ceod/daemon"
)

// BenchmarkAddUser measures adduser through the daemon (ceoc -> a ceod
// process -> LDAP, kadmind, the home root), one request at a time, with
// the journal and without it, and reports p50 and p99 in ms. Run with a
// fixed count, e.g. -bench AddUser -benchtime 40x.
func BenchmarkAddUser(b *testing.B) {
	for _, mode := range []struct {
		name string
		env  []string
	}{{"journal", nil}, {"nojournal", []string{daemon.NoJournalEnv + "=1"}}} {
		b.Run(mode.name, func(b *testing.B) {
			f := newFixture(b)
			p := f.start(b, mode.env...)
			defer p.stop(b)
			// One request first: the ccache, connections and caches warm.
			if ok, text, err := f.send(b.Context(), account{name: unique("w"), password: "bench-pw"}); err != nil || !ok {
				b.Fatalf("warm-up adduser: %v %s", err, text)
			}
			lat := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for range b.N {
				a := account{name: unique("b"), password: "bench-pw"}
				t0 := time.Now()
				ok, text, err := f.send(b.Context(), a)
				lat = append(lat, time.Since(t0))
				if err != nil || !ok {
					b.Fatalf("adduser %s: %v %s", a.name, err, text)
				}
			}
			b.StopTimer()
			slices.Sort(lat)
			pct := func(q float64) float64 {
				return float64(lat[min(len(lat)-1, int(q*float64(len(lat))))]) / float64(time.Millisecond)
			}
			b.ReportMetric(pct(0.50), "p50-ms")
			b.ReportMetric(pct(0.99), "p99-ms")
		})
	}
}
