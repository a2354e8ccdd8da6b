// Package rcache is a replay cache for Kerberos authenticators (RFC 4120
// section 3.2.3), keyed as MIT krb5 1.18 and later key theirs: on a hash
// of the authenticator's ciphertext, not on the client and its timestamp.
// Distinct authenticators that carry equal timestamps (parallel MIT
// clients of one principal send them) are all accepted; only the same
// ciphertext twice is a replay.
//
// A Cache kept in a file survives restarts, like MIT's file rcache: an
// AP-REQ replayed to a restarted acceptor is still refused. The file is
// append-only (one 24-byte record per authenticator, written before the
// AP-REP is sent), synced at most once per SyncInterval, and rewritten
// without the expired records once they outnumber the live ones.
package rcache

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// ErrReplay reports an authenticator seen before and not yet expired.
var ErrReplay = errors.New("rcache: authenticator replayed (KRB_AP_ERR_REPEAT)")

// File format: magic, then records of tag || expiry (big-endian Unix
// seconds).
const magic = "CEORC01\n"

const (
	tagLen    = 16 // of SHA-256: a collision needs 2^64 authenticators
	recordLen = tagLen + 8

	// SyncInterval bounds how much an fsync batch holds: after a power
	// loss at most this much of the cache is lost. Process restarts lose
	// nothing, since every record is written at once.
	SyncInterval = time.Second
	// pruneInterval is how often expired entries leave the map: often
	// enough to keep it at about one skew window of authenticators.
	pruneInterval = 30 * time.Second
	// compactMin is the least number of dead records worth rewriting the
	// file for.
	compactMin = 4096
)

type tag [tagLen]byte

// Cache remembers authenticators until they expire. It is safe for
// concurrent use. The zero value is not usable: call New or Open.
type Cache struct {
	mu        sync.Mutex
	seen      map[tag]int64 // expiry, Unix seconds
	lastPrune time.Time

	// File-backed caches only.
	path     string
	f        *os.File
	records  int // records in the file
	lastSync time.Time
}

// New returns a cache kept in memory only.
func New() *Cache {
	return &Cache{seen: map[tag]int64{}}
}

// Open returns a cache kept in the file at path, loading the unexpired
// records it holds. A missing file is created (mode 0600, its directory
// 0700); a symlink is refused, and so is a file another process holds
// open as its replay cache. Close it when done.
func Open(path string) (*Cache, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("rcache: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return nil, fmt.Errorf("rcache: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("rcache: %s is in use by another process: %w", path, err)
	}
	c := &Cache{seen: map[tag]int64{}, path: path, f: f}
	if err := c.load(time.Now()); err != nil {
		f.Close()
		return nil, err
	}
	return c, nil
}

// load reads the file into the map and leaves the offset at its end.
// An empty file gets the magic; a torn last record (a crash mid-write)
// is cut off.
func (c *Cache) load(now time.Time) error {
	b, err := io.ReadAll(c.f)
	if err != nil {
		return fmt.Errorf("rcache: reading %s: %w", c.path, err)
	}
	if len(b) == 0 {
		if _, err := c.f.WriteString(magic); err != nil {
			return fmt.Errorf("rcache: writing %s: %w", c.path, err)
		}
		return nil
	}
	if !bytes.HasPrefix(b, []byte(magic)) {
		return fmt.Errorf("rcache: %s is not a ceod replay cache", c.path)
	}
	body := b[len(magic):]
	whole := len(body) / recordLen * recordLen
	if whole != len(body) {
		if err := c.f.Truncate(int64(len(magic) + whole)); err != nil {
			return fmt.Errorf("rcache: truncating %s: %w", c.path, err)
		}
	}
	if _, err := c.f.Seek(int64(len(magic)+whole), io.SeekStart); err != nil {
		return fmt.Errorf("rcache: %w", err)
	}
	for off := 0; off < whole; off += recordLen {
		var t tag
		copy(t[:], body[off:])
		exp := int64(binary.BigEndian.Uint64(body[off+tagLen:]))
		if exp > now.Unix() && exp > c.seen[t] {
			c.seen[t] = exp
		}
	}
	c.records = whole / recordLen
	c.lastPrune = now
	return nil
}

// Check records the authenticator whose ciphertext is given, to be
// remembered until expires (its time plus the allowed clock skew: after
// that the acceptor refuses it as too old anyway), and returns ErrReplay
// if it was recorded before and has not expired. Any other error (the
// file could not be written) means the authenticator must be refused
// too: it could not be remembered.
func (c *Cache) Check(ciphertext []byte, expires, now time.Time) error {
	sum := sha256.Sum256(ciphertext)
	var t tag
	copy(t[:], sum[:])
	exp := expires.Unix() + 1 // round up: never forget early

	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.seen[t]; ok && old > now.Unix() {
		return ErrReplay
	}
	if err := c.append(t, exp, now); err != nil {
		return err
	}
	c.seen[t] = exp
	if now.Sub(c.lastPrune) >= pruneInterval {
		c.prune(now)
	}
	return nil
}

// append writes one record, syncing if the last sync is SyncInterval
// old. The caller holds mu.
func (c *Cache) append(t tag, exp int64, now time.Time) error {
	if c.f == nil {
		return nil
	}
	var rec [recordLen]byte
	copy(rec[:], t[:])
	binary.BigEndian.PutUint64(rec[tagLen:], uint64(exp))
	if _, err := c.f.Write(rec[:]); err != nil {
		return fmt.Errorf("rcache: writing %s: %w", c.path, err)
	}
	c.records++
	if now.Sub(c.lastSync) >= SyncInterval {
		c.lastSync = now
		if err := c.f.Sync(); err != nil {
			return fmt.Errorf("rcache: syncing %s: %w", c.path, err)
		}
	}
	return nil
}

// prune drops expired entries from the map and, if dead records then
// outnumber live ones in the file, rewrites it. The caller holds mu. A
// failed rewrite keeps the old file, which is still correct.
func (c *Cache) prune(now time.Time) {
	c.lastPrune = now
	for t, exp := range c.seen {
		if exp <= now.Unix() {
			delete(c.seen, t)
		}
	}
	if c.f == nil || c.records-len(c.seen) < max(compactMin, len(c.seen)) {
		return
	}
	c.compact()
}

// compact writes the live entries to a new file and renames it over the
// old one.
func (c *Cache) compact() error {
	tmp := c.path + ".new"
	os.Remove(tmp)
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return err
	}
	buf := make([]byte, 0, len(magic)+len(c.seen)*recordLen)
	buf = append(buf, magic...)
	for t, exp := range c.seen {
		buf = append(buf, t[:]...)
		buf = binary.BigEndian.AppendUint64(buf, uint64(exp))
	}
	err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if err == nil {
		_, err = f.Write(buf)
	}
	if err == nil {
		err = f.Sync()
	}
	if err == nil {
		err = os.Rename(tmp, c.path)
	}
	if err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	c.f.Close()
	c.f, c.records, c.lastSync = f, len(c.seen), time.Now()
	return nil
}

// Len returns the number of unexpired authenticators remembered (as of
// the last prune).
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.seen)
}

// Close syncs and closes the file of a file-backed cache.
func (c *Cache) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.f == nil {
		return nil
	}
	err := c.f.Sync()
	if cerr := c.f.Close(); err == nil {
		err = cerr
	}
	c.f = nil
	return err
}
