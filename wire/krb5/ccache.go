package krb5

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/jcmturner/gokrb5/v8/credentials"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"
	"golang.org/x/sys/unix"
)

// gokrb5 can read but not write credentials caches, so this file writes
// MIT's FILE format, version 4 (MIT krb5 doc "ccache file format"): every
// integer big-endian, principals as name type + component count + realm +
// components, each a u32-counted string, and one credential record per
// ticket. Writers follow MIT's cc_file.c so that MIT tools and we can
// share one cache: a new cache replaces the file; a new credential is
// appended under an exclusive fcntl lock on the whole file, the lock MIT
// takes to store; readers take the shared lock MIT's readers take.

// ccacheVersion is the FILE ccache format written: 0x0504 (v4).
const ccacheVersion = 0x0504

// maxCCacheSize bounds what we read of a cache: a real one holds a TGT and
// a few service tickets (a few KiB); the bound keeps a wrong path or a
// cache grown without end from being read whole.
const maxCCacheSize = 4 << 20

// Credential is one credential record of a FILE ccache.
type Credential struct {
	Client      types.PrincipalName
	ClientRealm string
	Server      types.PrincipalName
	ServerRealm string
	Key         types.EncryptionKey
	AuthTime    time.Time
	StartTime   time.Time
	EndTime     time.Time
	RenewTill   time.Time
	Flags       []byte // KerberosFlags bit string, first four bytes
	Ticket      []byte // DER of the Ticket
}

// CredentialFromKDCRep takes the stored fields from a verified AS-REP or
// TGS-REP (DecryptedEncPart filled in by gokrb5's exchange).
func CredentialFromKDCRep(crealm string, cname types.PrincipalName, tkt messages.Ticket, ep messages.EncKDCRepPart) (Credential, error) {
	return withTicket(Credential{Client: cname, ClientRealm: crealm, Key: ep.Key, Flags: ep.Flags.Bytes,
		AuthTime: ep.AuthTime, StartTime: ep.StartTime, EndTime: ep.EndTime, RenewTill: ep.RenewTill}, tkt)
}

// withTicket completes c with the ticket tkt: its server and its DER; and
// a start time, the auth time where the KDC gave none.
func withTicket(c Credential, tkt messages.Ticket) (Credential, error) {
	der, err := tkt.Marshal()
	if err != nil {
		return Credential{}, fmt.Errorf("krb5: encoding the ticket: %w", err)
	}
	c.Server, c.ServerRealm, c.Ticket = tkt.SName, tkt.Realm, der
	if c.StartTime.IsZero() {
		c.StartTime = c.AuthTime
	}
	return c, nil
}

type ccWriter struct{ bytes.Buffer }

func (w *ccWriter) u8(v uint8)   { w.WriteByte(v) }
func (w *ccWriter) u16(v uint16) { w.Write(binary.BigEndian.AppendUint16(nil, v)) }
func (w *ccWriter) u32(v uint32) { w.Write(binary.BigEndian.AppendUint32(nil, v)) }
func (w *ccWriter) data(b []byte) {
	w.u32(uint32(len(b)))
	w.Write(b)
}

func (w *ccWriter) principal(p types.PrincipalName, realm string) {
	w.u32(uint32(p.NameType))
	w.u32(uint32(len(p.NameString)))
	w.data([]byte(realm))
	for _, c := range p.NameString {
		w.data([]byte(c))
	}
}

func (w *ccWriter) time(t time.Time) {
	if t.IsZero() {
		w.u32(0)
		return
	}
	w.u32(uint32(t.Unix()))
}

func (w *ccWriter) credential(c Credential) {
	w.principal(c.Client, c.ClientRealm)
	w.principal(c.Server, c.ServerRealm)
	w.u16(uint16(c.Key.KeyType))
	w.data(c.Key.KeyValue)
	w.time(c.AuthTime)
	w.time(c.StartTime)
	w.time(c.EndTime)
	w.time(c.RenewTill)
	w.u8(0) // is_skey
	var flags [4]byte
	copy(flags[:], c.Flags)
	w.Write(flags[:])
	w.u32(0) // addresses
	w.u32(0) // authdata
	w.data(c.Ticket)
	w.data(nil) // second ticket
}

// MarshalCCache encodes a v4 FILE ccache whose default principal is c's
// client, holding c.
func MarshalCCache(c Credential) []byte {
	var w ccWriter
	w.u16(ccacheVersion)
	w.u16(0) // no header tags (no KDC time offset)
	w.principal(c.Client, c.ClientRealm)
	w.credential(c)
	return w.Bytes()
}

// WriteCCache replaces the ccache at path with a new one holding c:
// a temporary file in the same directory, mode 0600 as MIT makes it,
// renamed over path.
func WriteCCache(path string, c Credential) error {
	if path == "" {
		return errors.New("krb5: empty credentials cache path")
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".ceo-krb5cc-*")
	if err != nil {
		return fmt.Errorf("krb5: writing credentials cache: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // a no-op after the rename
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return fmt.Errorf("krb5: writing credentials cache: %w", err)
	}
	if _, err := f.Write(MarshalCCache(c)); err != nil {
		f.Close()
		return fmt.Errorf("krb5: writing credentials cache: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("krb5: writing credentials cache: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("krb5: writing credentials cache: %w", err)
	}
	return nil
}

// lockFile takes MIT's lock on a ccache: a POSIX record lock over the
// whole file, shared to read and exclusive to write, waiting for it.
func lockFile(f *os.File, how int16) error {
	lk := unix.Flock_t{Type: how, Whence: io.SeekStart}
	for {
		err := unix.FcntlFlock(f.Fd(), unix.F_SETLKW, &lk)
		if err != unix.EINTR {
			return err
		}
	}
}

// readLocked reads the open cache under the lock the caller holds.
func readLocked(f *os.File) (*credentials.CCache, error) {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	b, err := io.ReadAll(io.LimitReader(f, maxCCacheSize+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxCCacheSize {
		return nil, fmt.Errorf("larger than %d bytes", maxCCacheSize)
	}
	return unmarshalCCache(b)
}

// unmarshalCCache is gokrb5's parser, which panics on a truncated file,
// with the panic turned into an error.
func unmarshalCCache(b []byte) (cc *credentials.CCache, err error) {
	defer func() {
		if recover() != nil {
			cc, err = nil, errors.New("corrupt credentials cache")
		}
	}()
	cc = new(credentials.CCache)
	if err := cc.Unmarshal(b); err != nil {
		return nil, err
	}
	return cc, nil
}

// ReadCCache reads the FILE ccache at path under MIT's shared lock, so
// that it never sees half of a credential another process is storing.
func ReadCCache(path string) (*credentials.CCache, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if err := lockFile(f, unix.F_RDLCK); err != nil {
		return nil, fmt.Errorf("locking: %w", err)
	}
	return readLocked(f)
}

// AppendCCache stores c in the FILE ccache at path the way MIT's
// krb5_cc_store_cred does: under the exclusive lock, at the end of the
// file, in one write. keep is called with the cache as it is under the
// lock; when it returns false (another process stored an equivalent
// credential meanwhile) nothing is written. The cache must exist and hold
// a v4 header; AppendCCache never creates one.
func AppendCCache(path string, c Credential, keep func(*credentials.CCache) bool) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("krb5: storing in credentials cache: %w", err)
	}
	defer f.Close()
	if err := lockFile(f, unix.F_WRLCK); err != nil {
		return fmt.Errorf("krb5: locking credentials cache %s: %w", path, err)
	}
	cc, err := readLocked(f)
	if err != nil {
		return fmt.Errorf("krb5: reading credentials cache %s: %w", path, err)
	}
	if cc.Version != 4 {
		return fmt.Errorf("krb5: credentials cache %s is format version %d; only version 4 is written", path, cc.Version)
	}
	if keep != nil && !keep(cc) {
		return nil
	}
	var w ccWriter
	w.credential(c)
	if _, err := f.Seek(0, io.SeekEnd); err != nil {
		return fmt.Errorf("krb5: storing in credentials cache %s: %w", path, err)
	}
	if _, err := f.Write(w.Bytes()); err != nil {
		return fmt.Errorf("krb5: storing in credentials cache %s: %w", path, err)
	}
	return nil
}
