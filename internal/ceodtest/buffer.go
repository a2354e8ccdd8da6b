package ceodtest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// waitLimit bounds the wait for a log record: ceod writes an op's audit
// record just after sending its reply.
const waitLimit = 15 * time.Second

// Buffer is a goroutine-safe log sink (or process output), with lookups
// of its text lines and JSON records.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// WaitLine waits for a line holding every one of parts and reports
// whether one came.
func (s *Buffer) WaitLine(parts ...string) bool {
	deadline := time.Now().Add(waitLimit)
	for {
		for _, line := range strings.Split(s.String(), "\n") {
			if containsAll(line, parts) {
				return true
			}
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func containsAll(s string, parts []string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}

// Records parses the JSON log lines written so far.
func (s *Buffer) Records(t testing.TB) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(s.String()))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("log line %q: %v", sc.Text(), err)
		}
		out = append(out, m)
	}
	return out
}

// Find returns the JSON records that have all of want.
func (s *Buffer) Find(t testing.TB, want map[string]string) []map[string]any {
	t.Helper()
	var out []map[string]any
next:
	for _, m := range s.Records(t) {
		for k, v := range want {
			if fmt.Sprint(m[k]) != v {
				continue next
			}
		}
		out = append(out, m)
	}
	return out
}

// WaitFor waits until a JSON record has all of want, and returns it; it
// fails the test if none comes.
func (s *Buffer) WaitFor(t testing.TB, want map[string]string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for time.Now().Before(deadline) {
		if m := s.Find(t, want); len(m) > 0 {
			return m[0]
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("no log record with %v in:\n%s", want, s.String())
	return nil
}
