// Package ccfile encodes MIT's FILE credentials cache, version 4 (MIT
// krb5 doc "ccache file format"), which gokrb5 can read but not write:
// every integer big-endian, principals as name type + component count +
// realm + components, each a u32-counted string, and one credential
// record per ticket. Package krb5 writes caches with it, under MIT's
// locks; krbtest forges them for tests.
package ccfile

import (
	"bytes"
	"encoding/binary"
	"time"

	"github.com/jcmturner/gokrb5/v8/types"
)

// version is the format written: 0x0504 (v4).
const version = 0x0504

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

// Marshal encodes a cache whose default principal is client@realm,
// holding creds in order.
func Marshal(client types.PrincipalName, realm string, creds ...Credential) []byte {
	var w writer
	w.u16(version)
	w.u16(0) // no header tags (no KDC time offset)
	w.principal(client, realm)
	for _, c := range creds {
		w.credential(c)
	}
	return w.Bytes()
}

// MarshalCredential encodes c's record, as it is appended to a cache.
func MarshalCredential(c Credential) []byte {
	var w writer
	w.credential(c)
	return w.Bytes()
}

type writer struct{ bytes.Buffer }

func (w *writer) u8(v uint8)   { w.WriteByte(v) }
func (w *writer) u16(v uint16) { w.Write(binary.BigEndian.AppendUint16(nil, v)) }
func (w *writer) u32(v uint32) { w.Write(binary.BigEndian.AppendUint32(nil, v)) }
func (w *writer) data(b []byte) {
	w.u32(uint32(len(b)))
	w.Write(b)
}

func (w *writer) principal(p types.PrincipalName, realm string) {
	w.u32(uint32(p.NameType))
	w.u32(uint32(len(p.NameString)))
	w.data([]byte(realm))
	for _, c := range p.NameString {
		w.data([]byte(c))
	}
}

func (w *writer) time(t time.Time) {
	if t.IsZero() {
		w.u32(0)
		return
	}
	w.u32(uint32(t.Unix()))
}

func (w *writer) credential(c Credential) {
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
