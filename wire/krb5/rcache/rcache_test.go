package rcache

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

var t0 = time.Unix(1_800_000_000, 0)

func open(t *testing.T, path string) *Cache {
	t.Helper()
	c, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestCheck(t *testing.T) {
	for _, name := range []string{"memory", "file"} {
		t.Run(name, func(t *testing.T) {
			c := New()
			if name == "file" {
				c = open(t, filepath.Join(t.TempDir(), "rc"))
			}
			exp := t0.Add(5 * time.Minute)
			for i := range 3 {
				if err := c.Check(fmt.Appendf(nil, "authenticator %d", i), exp, t0); err != nil {
					t.Fatalf("distinct authenticator %d: %v", i, err)
				}
			}
			if err := c.Check([]byte("authenticator 1"), exp, t0.Add(time.Minute)); !errors.Is(err, ErrReplay) {
				t.Fatalf("replay: %v, want ErrReplay", err)
			}
			// Once expired, the acceptor's skew check refuses it; the cache
			// has forgotten it.
			if err := c.Check([]byte("authenticator 1"), exp.Add(10*time.Minute), exp.Add(2*time.Second)); err != nil {
				t.Fatalf("after expiry: %v", err)
			}
		})
	}
}

// TestSurvivesReopen: what one Cache recorded, the next one over the
// same file refuses; expired records are not loaded; a torn last record
// is dropped.
func TestSurvivesReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "rc")
	now := time.Now()
	c, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Check([]byte("live"), now.Add(5*time.Minute), now); err != nil {
		t.Fatal(err)
	}
	if err := c.Check([]byte("old"), now.Add(-time.Minute), now.Add(-6*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("torn record"))
	f.Close()

	c = open(t, path)
	if c.Len() != 1 {
		t.Fatalf("reopened cache holds %d entries, want 1 (the live one)", c.Len())
	}
	if err := c.Check([]byte("live"), now.Add(5*time.Minute), now); !errors.Is(err, ErrReplay) {
		t.Fatalf("replay after reopen: %v, want ErrReplay", err)
	}
	if err := c.Check([]byte("new"), now.Add(5*time.Minute), now); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(path); (fi.Size()-int64(len(magic)))%recordLen != 0 {
		t.Fatalf("file size %d: torn record not cut off", fi.Size())
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, want 0600", fi.Mode().Perm())
	}
}

func TestOpenRefuses(t *testing.T) {
	dir := t.TempDir()
	foreign := filepath.Join(dir, "foreign")
	os.WriteFile(foreign, []byte("not a replay cache at all"), 0o600)
	if _, err := Open(foreign); err == nil {
		t.Error("foreign file accepted")
	}
	link := filepath.Join(dir, "link")
	os.Symlink(filepath.Join(dir, "target"), link)
	if _, err := Open(link); err == nil {
		t.Error("symlink followed")
	}
	p := filepath.Join(dir, "rc")
	open(t, p)
	if _, err := Open(p); err == nil {
		t.Error("second Open of a cache in use succeeded")
	}
}

// TestCompaction: once dead records outnumber live ones, the file is
// rewritten with the live ones only, and they still count as seen.
func TestCompaction(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rc")
	c := open(t, path)
	for i := range compactMin + 10 {
		c.Check(fmt.Appendf(nil, "short-lived %d", i), t0.Add(time.Second), t0)
	}
	later := t0.Add(time.Hour)
	if err := c.Check([]byte("keeper"), later.Add(5*time.Minute), later); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := int64(len(magic) + recordLen); fi.Size() != want {
		t.Fatalf("file is %d bytes after compaction, want %d", fi.Size(), want)
	}
	c.Check([]byte("after"), later.Add(5*time.Minute), later)
	c.Close()
	c2 := open(t, path)
	for _, k := range []string{"keeper", "after"} {
		if err := c2.Check([]byte(k), later.Add(5*time.Minute), later); !errors.Is(err, ErrReplay) {
			t.Fatalf("%s after compaction and reopen: %v, want ErrReplay", k, err)
		}
	}
}

// BenchmarkCheckFile is the cost the replay cache adds to each accepted
// context: a hash, a map insert and a 24-byte append (an fsync at most
// once per SyncInterval).
func BenchmarkCheckFile(b *testing.B) {
	c, err := Open(filepath.Join(b.TempDir(), "rc"))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	ct := make([]byte, 200)
	now := time.Now()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		ct[0], ct[1], ct[2], ct[3] = byte(i), byte(i>>8), byte(i>>16), byte(i>>24)
		if err := c.Check(ct, now.Add(5*time.Minute), now); err != nil {
			b.Fatal(err)
		}
	}
}
