package krb5

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jcmturner/gokrb5/v8/keytab"
)

// KeytabFile is a keytab file that is reread when it changes, so that a
// service picks up a key rotation (kadmin ktadd) without a restart, as
// MIT services do: they read the keytab on every accept. Refresh checks
// the file's identity, size and modification time, one stat, and rereads
// it only when they changed; Keytab does that at most every
// keytabRecheck. It is safe for concurrent use.
type KeytabFile struct {
	path string

	mu      sync.Mutex
	kt      *keytab.Keytab
	id      fileID
	checked time.Time // when id was last compared with the file
}

// keytabRecheck is how long Keytab trusts its last look at the file: a
// stat per handshake was a measurable part of ceod's cost of one. The
// acceptor calls Refresh when a ticket needs a key the keytab it was
// given lacks (gss.KeytabRefresher), so a new key is still used at once;
// a removed key is refused within keytabRecheck.
const keytabRecheck = time.Second

// fileID is what tells that a file changed: a new inode (the file was
// replaced), a new size or a new modification time.
type fileID struct {
	dev, ino uint64
	size     int64
	mtime    time.Time
}

func statID(path string) (fileID, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return fileID{}, err
	}
	id := fileID{size: fi.Size(), mtime: fi.ModTime()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		id.dev, id.ino = uint64(st.Dev), st.Ino
	}
	return id, nil
}

// OpenKeytab loads the keytab file at path.
func OpenKeytab(path string) (*KeytabFile, error) {
	k := &KeytabFile{path: path}
	if _, err := k.Reload(); err != nil {
		return nil, err
	}
	return k, nil
}

// Path returns the file's path.
func (k *KeytabFile) Path() string { return k.path }

// Keytab returns the keytab, reread first if the file changed; the file
// is looked at if it was not within keytabRecheck.
func (k *KeytabFile) Keytab() (*keytab.Keytab, error) {
	k.mu.Lock()
	kt, fresh := k.kt, time.Since(k.checked) < keytabRecheck
	k.mu.Unlock()
	if fresh && kt != nil {
		return kt, nil
	}
	return k.Refresh()
}

// Refresh returns the keytab, reread first if the file changed, looking
// at the file now. If the changed file cannot be read (a partial write),
// the keytab read before is returned and the next call tries again.
func (k *KeytabFile) Refresh() (*keytab.Keytab, error) {
	now := time.Now()
	id, err := statID(k.path)
	k.mu.Lock()
	kt, same := k.kt, err == nil && id == k.id
	if same {
		k.checked = now
	}
	k.mu.Unlock()
	if same {
		return kt, nil
	}
	if _, err := k.Reload(); err != nil && kt != nil {
		return kt, nil
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.kt, nil
}

// Reload rereads the file if it changed since the last read and reports
// whether it did. On error the keytab read before stays in use.
func (k *KeytabFile) Reload() (changed bool, err error) {
	// Stat before reading: a write after the stat changes the mtime
	// again, so the next check rereads.
	now := time.Now()
	id, err := statID(k.path)
	if err != nil {
		return false, fmt.Errorf("loading keytab %s: %w", k.path, err)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.kt != nil && id == k.id {
		k.checked = now
		return false, nil
	}
	kt, err := keytab.Load(k.path)
	if err != nil {
		return false, fmt.Errorf("loading keytab %s: %w", k.path, err)
	}
	k.kt, k.id, k.checked = kt, id, now
	return true, nil
}

// Describe lists the principals and key versions the current keytab
// holds, e.g. "ceod/host@REALM kvno 2,3", for logs.
func (k *KeytabFile) Describe() string {
	k.mu.Lock()
	kt := k.kt
	k.mu.Unlock()
	kvnos := map[string]map[uint32]bool{}
	for _, e := range kt.Entries {
		p := strings.Join(e.Principal.Components, "/") + "@" + e.Principal.Realm
		if kvnos[p] == nil {
			kvnos[p] = map[uint32]bool{}
		}
		kvnos[p][e.KVNO] = true
	}
	var out []string
	for p, set := range kvnos {
		var vs []string
		for v := range set {
			vs = append(vs, fmt.Sprint(v))
		}
		sort.Strings(vs)
		out = append(out, p+" kvno "+strings.Join(vs, ","))
	}
	sort.Strings(out)
	return strings.Join(out, "; ")
}
