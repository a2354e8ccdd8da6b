package crashtest

import (
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/csclub/ceo/ceod/daemon"
)

// BenchmarkAddUser measures adduser through the daemon (ceoc -> a ceod
// process -> LDAP, kadmind, the home root), one request at a time, with
// the journal and without it. It reports p50 and p99 in ms end to end,
// ceod's own time for the op (ceod-p50-ms), and the p50 of each step
// from ceod's "adduser: step timings" debug records (STEP-p50-ms, in the
// order the steps run). Run with a fixed count, e.g.
// -bench AddUser -benchtime 40x, and with CEO_REALM_ENCTYPES=debian for
// a club's KDC (the test realm's aes-sha2 keys cost kadmind ~120 ms of
// string-to-key per principal).
func BenchmarkAddUser(b *testing.B) {
	for _, mode := range []struct {
		name string
		env  []string
	}{{"journal", nil}, {"nojournal", []string{daemon.NoJournalEnv + "=1"}}} {
		b.Run(mode.name, func(b *testing.B) {
			f := newFixture(b)
			f.debugLog = true
			p := f.start(b, mode.env...)
			defer p.stop(b)
			// One request first: the ccache, connections, caches and
			// the kadmin session warm.
			if ok, text, err := f.send(b.Context(), account{name: unique("w"), password: "bench-pw"}); err != nil || !ok {
				b.Fatalf("warm-up adduser: %v %s", err, text)
			}
			lat := make([]time.Duration, 0, b.N)
			names := map[string]bool{}
			b.ResetTimer()
			for range b.N {
				a := account{name: unique("b"), password: "bench-pw"}
				names[a.name] = true
				t0 := time.Now()
				ok, text, err := f.send(b.Context(), a)
				lat = append(lat, time.Since(t0))
				if err != nil || !ok {
					b.Fatalf("adduser %s: %v %s", a.name, err, text)
				}
			}
			b.StopTimer()
			b.ReportMetric(p50(lat), "p50-ms")
			b.ReportMetric(percentile(lat, 0.99), "p99-ms")
			steps, order := stepTimings(p.lines(), names)
			for _, s := range order {
				b.ReportMetric(p50(steps[s]), s+"-p50-ms")
			}
		})
	}
}

// percentile is the q-th percentile of d in ms.
func percentile(d []time.Duration, q float64) float64 {
	if len(d) == 0 {
		return 0
	}
	d = slices.Sorted(slices.Values(d))
	return float64(d[min(len(d)-1, int(q*float64(len(d))))]) / float64(time.Millisecond)
}

func p50(d []time.Duration) float64 { return percentile(d, 0.5) }

// logAttr is one key=value of ceod's text log, the value a duration.
var logAttr = regexp.MustCompile(`ops\.(\w+)=(\S+)`)

// stepTimings collects, for the requests of the users named, ceod's
// time for the whole op ("ceod") and for each step, in the order the
// steps first appear.
func stepTimings(lines []string, users map[string]bool) (map[string][]time.Duration, []string) {
	steps := map[string][]time.Duration{}
	var order []string
	add := func(k string, d time.Duration) {
		if _, ok := steps[k]; !ok {
			order = append(order, k)
		}
		steps[k] = append(steps[k], d)
	}
	for _, l := range lines {
		timings := strings.Contains(l, `msg="adduser: step timings"`)
		if !timings && !strings.Contains(l, "msg=adduser ") {
			continue
		}
		m := logAttr.FindAllStringSubmatch(l, -1)
		var user string
		for _, kv := range m {
			if kv[1] == "user" {
				user = kv[2]
			}
		}
		if !users[user] {
			continue
		}
		for _, kv := range m {
			d, err := time.ParseDuration(kv[2])
			switch {
			case err != nil:
			case timings:
				add(kv[1], d)
			case kv[1] == "duration":
				add("ceod", d)
			}
		}
	}
	return steps, order
}
