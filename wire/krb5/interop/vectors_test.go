package interop

import (
	"encoding/hex"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/jcmturner/gokrb5/v8/keytab"
	krbmsg "github.com/jcmturner/gokrb5/v8/messages"
)

// UpdateEnv, when set, makes the tests rewrite vectorsPath with the wrap
// tokens MIT produced in this run, for package gss's offline
// known-answer test.
const UpdateEnv = "CEO_UPDATE_VECTORS"

const vectorsPath = "../gss/testdata/mit-wrap-vectors.txt"

// apReqVectorsPath gets the context tokens MIT's initiator sent, for
// package gss's offline cross-check of its AP-REQ decoder with gokrb5's.
const apReqVectorsPath = "../gss/testdata/mit-apreq-vectors.txt"

var recorded struct {
	mu     sync.Mutex
	lines  map[string]string // one vector per sender, enctype and kind
	apReqs map[string]string // one per ticket enctype, session enctype and delegation
}

// recordAPReq keeps an MIT-made initial context token with the service
// key its ticket is encrypted in.
func recordAPReq(t *testing.T, kt *keytab.Keytab, tok []byte) {
	t.Helper()
	if kt == nil {
		return
	}
	// Skip the RFC 2743 header: 0x60, its length, the 11-byte OID and
	// the 2-byte TOK_ID.
	hdr := 2
	if len(tok) > 1 && tok[1] >= 0x80 {
		hdr += int(tok[1] & 0x7f)
	}
	var req krbmsg.APReq
	if len(tok) < hdr+13 || req.Unmarshal(tok[hdr+13:]) != nil {
		t.Fatalf("recording an AP-REQ: cannot decode % x", tok)
	}
	if err := req.Ticket.DecryptEncPart(kt, nil); err != nil {
		t.Fatalf("recording an AP-REQ: %v", err)
	}
	enc := req.Ticket.EncPart
	key, _, err := kt.GetEncryptionKey(req.Ticket.SName, req.Ticket.Realm, enc.KVNO, enc.EType)
	if err != nil {
		t.Fatal(err)
	}
	deleg := req.Authenticator.Cksum.Checksum != nil && len(req.Authenticator.Cksum.Checksum) > 24
	recorded.mu.Lock()
	defer recorded.mu.Unlock()
	if recorded.apReqs == nil {
		recorded.apReqs = map[string]string{}
	}
	id := fmt.Sprintf("%d %d %v", enc.EType, req.Ticket.DecryptedEncPart.Key.KeyType, deleg)
	if _, dup := recorded.apReqs[id]; !dup {
		recorded.apReqs[id] = fmt.Sprintf("%d %s %s", key.KeyType, hex.EncodeToString(key.KeyValue), hex.EncodeToString(tok))
	}
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

// writeVectors rewrites vectorsPath and apReqVectorsPath if UpdateEnv is
// set.
func writeVectors() error {
	if os.Getenv(UpdateEnv) == "" {
		return nil
	}
	if err := writeVectorFile(vectorsPath, recorded.lines, "RFC 4121 wrap tokens",
		"SENDER ENCTYPE KEY-HEX TOKEN-HEX PLAINTEXT-HEX; the key is the acceptor subkey."); err != nil {
		return err
	}
	return writeVectorFile(apReqVectorsPath, recorded.apReqs, "Initial context tokens (AP-REQs)",
		"SERVICE-KEY-ENCTYPE SERVICE-KEY-HEX TOKEN-HEX; the ticket is encrypted in the service key.")
}

func writeVectorFile(path string, recorded map[string]string, what, format string) error {
	if len(recorded) == 0 {
		return nil
	}
	lines := make([]string, 0, len(recorded))
	for _, l := range recorded {
		lines = append(lines, l)
	}
	sort.Strings(lines)
	var b strings.Builder
	b.WriteString("# " + what + " made by MIT krb5 1.20.1 libgssapi_krb5, recorded by\n")
	b.WriteString("# wire/interop with " + UpdateEnv + "=1 against the test realm.\n")
	b.WriteString("# " + format + "\n")
	for _, l := range lines {
		b.WriteString(l + "\n")
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}
