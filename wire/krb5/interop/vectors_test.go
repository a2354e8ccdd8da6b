package interop

import (
	"encoding/hex"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
)

// UpdateEnv, when set, makes the tests rewrite vectorsPath with the wrap
// tokens MIT produced in this run, for package gss's offline
// known-answer test.
const UpdateEnv = "CEO_UPDATE_VECTORS"

const vectorsPath = "../gss/testdata/mit-wrap-vectors.txt"

var recorded struct {
	mu    sync.Mutex
	lines map[string]string // one vector per sender, enctype and kind
}

// record keeps an MIT-made token with the key and plaintext it holds.
// sender is "initiator" or "acceptor"; keyLine is mitpeer's last line.
func record(t *testing.T, sender string, et int32, keyLine string, tok, plain []byte) {
	t.Helper()
	_, key, ok := strings.Cut(keyLine, " key ")
	if !ok {
		t.Fatalf("mitpeer did not dump its key: %q", keyLine)
	}
	kind := "sealed"
	if tok[2]&0x02 == 0 {
		kind = "integrity"
	}
	recorded.mu.Lock()
	defer recorded.mu.Unlock()
	if recorded.lines == nil {
		recorded.lines = map[string]string{}
	}
	id := fmt.Sprintf("%s %d %s", sender, et, kind)
	if _, dup := recorded.lines[id]; dup {
		return
	}
	recorded.lines[id] = fmt.Sprintf("%s %d %s %s %s", sender, et, key, hex.EncodeToString(tok), hex.EncodeToString(plain))
}

// writeVectors rewrites vectorsPath if UpdateEnv is set.
func writeVectors() error {
	if os.Getenv(UpdateEnv) == "" || len(recorded.lines) == 0 {
		return nil
	}
	lines := make([]string, 0, len(recorded.lines))
	for _, l := range recorded.lines {
		lines = append(lines, l)
	}
	sort.Strings(lines)
	var b strings.Builder
	b.WriteString("# RFC 4121 wrap tokens made by MIT krb5 1.20.1 libgssapi_krb5, recorded by\n")
	b.WriteString("# wire/interop with " + UpdateEnv + "=1 against the test realm.\n")
	b.WriteString("# SENDER ENCTYPE KEY-HEX TOKEN-HEX PLAINTEXT-HEX; the key is the acceptor subkey.\n")
	for _, l := range lines {
		b.WriteString(l + "\n")
	}
	return os.WriteFile(vectorsPath, []byte(b.String()), 0o644)
}
