package server

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"maps"
	"testing"
	"time"

	"github.com/csclub/ceo/ops"
)

// TestAuditOKSameRecord: a successful op's record, written through the
// connection's preformatted logger, is the record the general path
// writes, in text (same line, but for the time and duration) and in
// JSON (same keys and values).
func TestAuditOKSameRecord(t *testing.T) {
	for _, format := range []string{"text", "json"} {
		t.Run(format, func(t *testing.T) {
			var buf bytes.Buffer
			h := slog.Handler(slog.NewTextHandler(&buf, nil))
			if format == "json" {
				h = slog.NewJSONHandler(&buf, nil)
			}
			s := &Server{}
			s.auditOps = slog.New(h).With(slog.String("event", "op"))
			c := &conn{srv: s, remote: "192.0.2.1:4242", principal: `alice "x"=1@CSCLUB`}
			start := time.Now()

			c.nops = 1
			c.auditOp(start, "ping", ops.OutcomeOK, nil) // the first op: audit's
			if c.auditOK != nil {
				t.Fatal("the connection's first op built the preformatted logger")
			}
			first := bytes.Clone(buf.Bytes())
			buf.Reset()
			c.nops = 2
			c.auditOp(start, "ping", ops.OutcomeOK, nil) // preformatted
			fast := bytes.Clone(buf.Bytes())
			buf.Reset()
			c.audit(s.auditOps, start, ops.OutcomeOK, c.principal, "ping", nil)
			general := bytes.Clone(buf.Bytes())
			if c.auditOK == nil {
				t.Fatal("the successful op did not go through the preformatted logger")
			}

			for _, got := range []struct {
				name string
				line []byte
			}{{"first op", first}, {"preformatted", fast}} {
				if format == "json" {
					a, b := jsonRecord(t, got.line), jsonRecord(t, general)
					if !maps.Equal(a, b) {
						t.Errorf("records differ:\n %s %v\n general %v", got.name, a, b)
					}
					if !bytes.Equal(keyOrder(got.line), keyOrder(general)) {
						t.Errorf("key order differs (%s):\n%s\n%s", got.name, got.line, general)
					}
					continue
				}
				if a, b := withoutTimes(got.line), withoutTimes(general); a != b {
					t.Errorf("lines differ:\n %s %s\n general %s", got.name, a, b)
				}
			}
		})
	}
}

func jsonRecord(t *testing.T, line []byte) map[string]string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(line, &m); err != nil {
		t.Fatalf("%s: %v", line, err)
	}
	out := map[string]string{}
	for k, v := range m {
		if k != "time" && k != "duration" {
			b, _ := json.Marshal(v)
			out[k] = string(b)
		}
	}
	return out
}

// keyOrder returns the quoted keys of a JSON line in order.
func keyOrder(line []byte) []byte {
	var keys []byte
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.Token() // {
	for dec.More() {
		k, _ := dec.Token()
		keys = append(keys, k.(string)+","...)
		var skip any
		dec.Decode(&skip)
	}
	return keys
}

// withoutTimes drops a text line's time= and duration= fields.
func withoutTimes(line []byte) string {
	var kept [][]byte
	for _, f := range bytes.Fields(line) {
		if !bytes.HasPrefix(f, []byte("time=")) && !bytes.HasPrefix(f, []byte("duration=")) {
			kept = append(kept, f)
		}
	}
	return string(bytes.Join(kept, []byte(" ")))
}
