package krb5

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/jcmturner/gokrb5/v8/credentials"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"
	"golang.org/x/sys/unix"

	"github.com/csclub/ceo/wire/krb5/internal/ccfile"
)

// The cache's format is package ccfile's. Writers follow MIT's cc_file.c
// so that MIT tools and we can share one cache: a new cache replaces the
// file; a new credential is appended under an exclusive fcntl lock on
// the whole file, the lock MIT takes to store; readers take the shared
// lock MIT's readers take.

// maxCCacheSize bounds what we read of a cache: a real one holds a TGT and
// a few service tickets (a few KiB); the bound keeps a wrong path or a
// cache grown without end from being read whole.
const maxCCacheSize = 4 << 20

// Credential is one credential record of a FILE ccache.
type Credential = ccfile.Credential

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

// MarshalCCache encodes a v4 FILE ccache whose default principal is c's
// client, holding c.
func MarshalCCache(c Credential) []byte { return ccfile.Marshal(c.Client, c.ClientRealm, c) }

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
	if _, err := f.Seek(0, io.SeekEnd); err != nil {
		return fmt.Errorf("krb5: storing in credentials cache %s: %w", path, err)
	}
	if _, err := f.Write(ccfile.MarshalCredential(c)); err != nil {
		return fmt.Errorf("krb5: storing in credentials cache %s: %w", path, err)
	}
	return nil
}
