package opsfile

import (
	"bytes"
	"strings"
	"testing"
)

// FuzzParseOps: never panics, and accepted ops have names that cannot
// leave lib_dir and ids that are not reserved.
func FuzzParseOps(f *testing.F) {
	for _, s := range []string{
		"h op root 0x10\n", "h op root 010", "# x\nh a b 1\nh c d 2\n", "h ../x root 1", "h op root 0x08000000",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		ops, err := ParseOps(bytes.NewReader(in), "fuzz")
		if err != nil {
			return
		}
		for _, op := range ops {
			if strings.ContainsAny(op.Name, "/.") || op.Name == "" {
				t.Fatalf("op name %q accepted", op.Name)
			}
			if op.ID == 0 || op.ID == msgAuth || op.ID == msgExplode {
				t.Fatalf("reserved id %#x accepted", op.ID)
			}
		}
	})
}
