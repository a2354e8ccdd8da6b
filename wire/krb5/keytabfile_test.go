package krb5

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jcmturner/gokrb5/v8/keytab"
)

func writeKVNOs(t *testing.T, path string, kvnos ...uint8) {
	t.Helper()
	kt := keytab.New()
	for _, v := range kvnos {
		if err := kt.AddEntry("ceod/h.example", "R", "pw", time.Now(), v, 18); err != nil {
			t.Fatal(err)
		}
	}
	b, err := kt.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// openTestKeytab opens a new keytab file with keys of kvnos.
func openTestKeytab(t *testing.T, kvnos ...uint8) (*KeytabFile, string) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "kt")
	writeKVNOs(t, p, kvnos...)
	kf, err := OpenKeytab(p)
	if err != nil {
		t.Fatal(err)
	}
	return kf, p
}

// TestKeytabFileRereads: a changed file (rewritten in place, or replaced)
// is reread on the next Refresh call; an unreadable change keeps the old
// keys; an unchanged file is not reread.
func TestKeytabFileRereads(t *testing.T) {
	kf, p := openTestKeytab(t, 1)
	kt1, _ := kf.Keytab()
	if kt2, _ := kf.Refresh(); kt2 != kt1 {
		t.Fatal("unchanged file reread")
	}
	writeKVNOs(t, p, 1, 2) // ktadd: a new kvno appended
	kt2, err := kf.Refresh()
	if err != nil || len(kt2.Entries) != 2 {
		t.Fatalf("after the change: %v entries, %v", len(kt2.Entries), err)
	}
	if got := kf.Describe(); got != "ceod/h.example@R kvno 1,2" {
		t.Fatalf("Describe = %q", got)
	}
	os.WriteFile(p, []byte{5, 2, 0, 0, 0, 99}, 0o600) // torn write
	if kt3, err := kf.Refresh(); err != nil || kt3 != kt2 {
		t.Fatalf("unreadable change: %v, %v; want the keys read before", kt3, err)
	}
	tmp := p + ".tmp"
	writeKVNOs(t, tmp, 3)
	os.Rename(tmp, p)
	if kt4, _ := kf.Refresh(); len(kt4.Entries) != 1 || kt4.Entries[0].KVNO != 3 {
		t.Fatalf("replaced file not reread: %+v", kt4.Entries)
	}
	if changed, err := kf.Reload(); changed || err != nil {
		t.Fatalf("Reload of an unchanged file = %v, %v", changed, err)
	}
}

// TestKeytabFileRecheck: Keytab looks at the file again only once
// keytabRecheck has passed since the last look; Refresh looks at once.
func TestKeytabFileRecheck(t *testing.T) {
	kf, p := openTestKeytab(t, 1)
	kt1, _ := kf.Keytab()
	writeKVNOs(t, p, 1, 2)
	if kt, _ := kf.Keytab(); kt != kt1 {
		t.Fatal("Keytab looked at the file again within keytabRecheck")
	}
	kf.mu.Lock()
	kf.checked = time.Now().Add(-keytabRecheck)
	kf.mu.Unlock()
	if kt, _ := kf.Keytab(); len(kt.Entries) != 2 {
		t.Fatalf("Keytab after keytabRecheck: %d entries, want the new file's 2", len(kt.Entries))
	}
	writeKVNOs(t, p, 1, 2, 3)
	if kt, _ := kf.Refresh(); len(kt.Entries) != 3 {
		t.Fatalf("Refresh: %d entries, want the new file's 3", len(kt.Entries))
	}
}

// BenchmarkKeytabFileUnchanged is what each handshake pays to notice a
// rotated key: mostly nothing, a stat of the unchanged file every
// keytabRecheck.
func BenchmarkKeytabFileUnchanged(b *testing.B) {
	kf := benchKeytabFile(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := kf.Keytab(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkKeytabFileRefresh is one look at the unchanged file: a stat.
func BenchmarkKeytabFileRefresh(b *testing.B) {
	kf := benchKeytabFile(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := kf.Refresh(); err != nil {
			b.Fatal(err)
		}
	}
}

func benchKeytabFile(b *testing.B) *KeytabFile {
	p := filepath.Join(b.TempDir(), "kt")
	kt := keytab.New()
	if err := kt.AddEntry("ceod/h.example", "R", "pw", time.Now(), 1, 18); err != nil {
		b.Fatal(err)
	}
	data, _ := kt.Marshal()
	os.WriteFile(p, data, 0o600)
	kf, err := OpenKeytab(p)
	if err != nil {
		b.Fatal(err)
	}
	return kf
}
