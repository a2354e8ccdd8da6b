package kv

import (
	"strings"
	"testing"
)

// FuzzParseKV: never panics; whatever parses has valid names, and a
// value written back quoted parses to itself.
func FuzzParseKV(f *testing.F) {
	for _, s := range []string{
		"a = b\n", `k = "v # x" # c`, `e = "a\"b\\c"`, "# c\n\nx=\n", "novalue", `k = "open`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		entries, err := ParseEntries(strings.NewReader(in))
		if err != nil {
			return
		}
		for _, e := range entries {
			if !validName(e.Name) {
				t.Fatalf("invalid name %q accepted", e.Name)
			}
			if strings.ContainsAny(e.Value, "\n") {
				continue
			}
			q := strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(e.Value)
			back, err := ParseEntries(strings.NewReader(e.Name + ` = "` + q + `"`))
			if err != nil || len(back) != 1 || back[0].Value != e.Value {
				t.Fatalf("value %q does not round-trip: %v %v", e.Value, back, err)
			}
		}
	})
}
