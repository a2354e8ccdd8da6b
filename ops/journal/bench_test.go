package journal

import (
	"path/filepath"
	"strconv"
	"testing"
)

// BenchmarkRequest is the journal's whole cost for one adduser: Begin,
// each of the four steps of a member begun and done, Finish: five
// fsynced writes (Done goes with the next Begun).
func BenchmarkRequest(b *testing.B) {
	j, err := Open(filepath.Join(b.TempDir(), "journal.db"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer j.Close()
	steps := []string{"ldap_user", "principal", "group", "home"}
	b.ResetTimer()
	for i := range b.N {
		r := &Record{Op: "adduser", Caller: "office1", Targets: []string{"user" + strconv.Itoa(i)}}
		if err := j.Begin(r); err != nil {
			b.Fatal(err)
		}
		for _, s := range steps {
			undo := map[string]string{"name": r.Targets[0], "id": strconv.Itoa(20000 + i)}
			if err := j.Mark(r, s, Begun, undo); err != nil {
				b.Fatal(err)
			}
			if err := j.Mark(r, s, Done, nil); err != nil {
				b.Fatal(err)
			}
		}
		if err := j.Finish(r); err != nil {
			b.Fatal(err)
		}
	}
}
