package interop

import (
	"flag"
	"fmt"
	"os"
	"testing"

	"github.com/csclub/ceo/internal/realm"
)

func TestMain(m *testing.M) {
	flag.Parse()
	if noTestsWillRun() {
		os.Exit(m.Run()) // go test -list, or -run '^$' for benchmarks/fuzzing
	}
	code := realm.Main(m)
	cleanupPeer()
	if err := writeVectors(); err != nil {
		fmt.Fprintf(os.Stderr, "interop: writing vectors: %v\n", err)
		code = 1
	}
	os.Exit(code)
}

// noTestsWillRun reports a listing or a "-run ^$" invocation, for which
// starting a realm would only cost time.
func noTestsWillRun() bool {
	if f := flag.Lookup("test.list"); f != nil && f.Value.String() != "" {
		return true
	}
	f := flag.Lookup("test.run")
	return f != nil && f.Value.String() == "^$"
}
