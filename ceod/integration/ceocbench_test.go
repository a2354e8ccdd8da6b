package integration

import (
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/csclub/ceo/internal/realm"
)

// BenchmarkCeocPingCached is issue 15's figure: one "ceoc ping" process,
// from start to exit, with the service ticket already in the credentials
// cache (ns/op is the time of one call), against a ceod process; and MIT
// kvno for the same service, the reference for a client that starts,
// reads the cache and finds the ticket there.
func BenchmarkCeocPingCached(b *testing.B) {
	r := realm.Get(b)
	env, _ := ticketEnv(b, r)
	for _, c := range []struct {
		name string
		argv []string
	}{
		{"ceoc", []string{filepath.Join(binaries(b), "ceoc"), "ping"}},
		{"kvno", []string{"kvno", "-q", "ceod/" + r.Host}},
	} {
		b.Run(c.name, func(b *testing.B) {
			call := func() {
				cmd := exec.Command(c.argv[0], c.argv[1:]...)
				cmd.Env = env
				if out, err := cmd.CombinedOutput(); err != nil {
					b.Fatalf("%v: %v\n%s", c.argv, err, out)
				}
			}
			call() // the first call caches the ticket
			for b.Loop() {
				call()
			}
		})
	}
}
