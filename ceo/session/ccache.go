package session

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"
)

// Why we write the ccache ourselves rather than run MIT kinit: the
// password then never leaves this process (no child, no pipe), the front
// end does not depend on the krb5-user package being installed, and the
// TGT we store is exactly the one gokrb5 verified. gokrb5 can read but not
// write caches, so this file writes MIT's FILE format, version 4 (MIT
// krb5 doc "ccache file format"): every integer big-endian, principals as
// name type + component count + realm + components, each a u32-counted
// string, and one credential record per ticket.

// ccacheVersion is the FILE ccache format written: 0x0504 (v4).
const ccacheVersion = 0x0504

// tgtCredential is what one AS exchange gives us to store.
type tgtCredential struct {
	client, server types.PrincipalName
	realm          string // the client's and the TGT's realm
	key            types.EncryptionKey
	authTime       time.Time
	startTime      time.Time
	endTime        time.Time
	renewTill      time.Time
	flags          []byte // KerberosFlags bit string, first four bytes
	ticket         []byte // DER of the Ticket
}

// credentialFromASRep takes the stored fields from a verified AS-REP
// (DecryptedEncPart filled in by ASExchange).
func credentialFromASRep(rep messages.ASRep) (tgtCredential, error) {
	tkt, err := rep.Ticket.Marshal()
	if err != nil {
		return tgtCredential{}, fmt.Errorf("encoding the ticket: %w", err)
	}
	ep := rep.DecryptedEncPart
	start := ep.StartTime
	if start.IsZero() {
		start = ep.AuthTime
	}
	return tgtCredential{
		client:    rep.CName,
		server:    rep.Ticket.SName,
		realm:     rep.CRealm,
		key:       ep.Key,
		authTime:  ep.AuthTime,
		startTime: start,
		endTime:   ep.EndTime,
		renewTill: ep.RenewTill,
		flags:     ep.Flags.Bytes,
		ticket:    tkt,
	}, nil
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

// marshalCCache encodes a v4 FILE ccache holding one TGT.
func marshalCCache(c tgtCredential) []byte {
	var w ccWriter
	w.u16(ccacheVersion)
	w.u16(0) // no header tags (no KDC time offset)
	w.principal(c.client, c.realm)

	w.principal(c.client, c.realm)
	w.principal(c.server, c.realm)
	w.u16(uint16(c.key.KeyType))
	w.data(c.key.KeyValue)
	w.time(c.authTime)
	w.time(c.startTime)
	w.time(c.endTime)
	w.time(c.renewTill)
	w.u8(0) // is_skey
	var flags [4]byte
	copy(flags[:], c.flags)
	w.Write(flags[:])
	w.u32(0) // addresses
	w.u32(0) // authdata
	w.data(c.ticket)
	w.data(nil) // second ticket
	return w.Bytes()
}

// writeCCache replaces the ccache at path atomically (temporary file in
// the same directory, then rename), mode 0600 as MIT makes it.
func writeCCache(path string, c tgtCredential) error {
	if path == "" {
		return errors.New("empty credentials cache path")
	}
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, ".ceo-krb5cc-*")
	if err != nil {
		return fmt.Errorf("writing credentials cache: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // a no-op after the rename
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return fmt.Errorf("writing credentials cache: %w", err)
	}
	if _, err := f.Write(marshalCCache(c)); err != nil {
		f.Close()
		return fmt.Errorf("writing credentials cache: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing credentials cache: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("writing credentials cache: %w", err)
	}
	return nil
}
