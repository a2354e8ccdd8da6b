package gss

import (
	"bytes"

	"github.com/jcmturner/gofork/encoding/asn1"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"
)

// DER identifier octets of the AP-REQ's elements (RFC 4120 section 5).
const (
	derInteger         = 0x02
	derBitString       = 0x03
	derOctetString     = 0x04
	derGeneralizedTime = 0x18
	derGeneralString   = 0x1b
	derSequence        = 0x30
	derAppTicket       = 0x61 // [APPLICATION 1] Ticket
	derAppAuth         = 0x62 // [APPLICATION 2] Authenticator
	derAppEncTicket    = 0x63 // [APPLICATION 3] EncTicketPart
	derAppAPReq        = 0x6e // [APPLICATION 14] AP-REQ
	derAppAPRep        = 0x6f // [APPLICATION 15] AP-REP
	derAppEncAPRep     = 0x7b // [APPLICATION 27] EncAPRepPart
	derContext0        = 0xa0 // [n] EXPLICIT is derContext0+n
)

// derLengthBytes bounds the long form of a DER length: 4 bytes cover
// any frame (wire.DefaultMaxFrame is far below 4 GiB).
const derLengthBytes = 4

// isCanonicalAPReq reports whether der is exactly the DER encoding of
// req as decoded from it, which is what comparing der with req.Marshal()
// says, without re-encoding: it walks der and checks each element's
// identifier, that its length is in the one minimal form and matches its
// contents, and that each value is the encoding of the decoded field.
// TestCanonicalAPReqMatchesMarshal holds it to req.Marshal(). req must
// have no DecryptedEncPart, as decodeAPReq's have: gokrb5's decoder puts
// an extra element of the Ticket there, which the walk does not expect.
func isCanonicalAPReq(der []byte, req *messages.APReq) bool {
	w := newDERReader(der)
	app := w.sub(derAppAPReq)
	seq := app.sub(derSequence)
	seq.wantExplicitInt(0, int64(req.PVNO))
	seq.wantExplicitInt(1, int64(req.MsgType))
	opts := seq.sub(derContext0 + 2)
	opts.wantBitString(req.APOptions)
	seq.done(&opts)
	tkt := seq.sub(derContext0 + 3)
	tkt.wantTicket(&req.Ticket)
	seq.done(&tkt)
	auth := seq.sub(derContext0 + 4)
	auth.wantEncryptedData(&req.EncryptedAuthenticator)
	seq.done(&auth)
	app.done(&seq)
	w.done(&app)
	return w.ok && len(w.b) == 0
}

func (w *derReader) wantValue(tag byte, want []byte) {
	if c := w.next(tag); !bytes.Equal(c, want) {
		w.fail()
	}
}

func (w *derReader) wantStr(tag byte, want string) {
	if c := w.next(tag); string(c) != want {
		w.fail()
	}
}

// integer expects the minimal two's complement encoding of v, as
// encoding/asn1 writes it.
func (w *derReader) wantInteger(v int64) {
	b, n := minimalInt(v)
	w.wantValue(derInteger, b[:n])
}

func (w *derReader) wantExplicitInt(n byte, v int64) {
	s := w.sub(derContext0 + n)
	s.wantInteger(v)
	w.done(&s)
}

func (w *derReader) wantBitString(b asn1.BitString) {
	c := w.next(derBitString)
	if len(c) != 1+len(b.Bytes) || c[0] != byte((8-b.BitLength%8)%8) || !bytes.Equal(c[1:], b.Bytes) {
		w.fail()
	}
}

// ticket expects Ticket ::= [APPLICATION 1] SEQUENCE {tkt-vno [0],
// realm [1], sname [2], enc-part [3]}.
func (w *derReader) wantTicket(t *messages.Ticket) {
	app := w.sub(derAppTicket)
	seq := app.sub(derSequence)
	seq.wantExplicitInt(0, int64(t.TktVNO))
	realm := seq.sub(derContext0 + 1)
	realm.wantStr(derGeneralString, t.Realm)
	seq.done(&realm)
	sname := seq.sub(derContext0 + 2)
	sname.wantPrincipalName(&t.SName)
	seq.done(&sname)
	enc := seq.sub(derContext0 + 3)
	enc.wantEncryptedData(&t.EncPart)
	seq.done(&enc)
	app.done(&seq)
	w.done(&app)
}

func (w *derReader) wantPrincipalName(p *types.PrincipalName) {
	seq := w.sub(derSequence)
	seq.wantExplicitInt(0, int64(p.NameType))
	names := seq.sub(derContext0 + 1)
	list := names.sub(derSequence)
	for _, s := range p.NameString {
		list.wantStr(derGeneralString, s)
	}
	names.done(&list)
	seq.done(&names)
	w.done(&seq)
}

// encryptedData expects EncryptedData, whose kvno [1] is OPTIONAL and,
// as gokrb5 encodes it, absent when 0.
func (w *derReader) wantEncryptedData(e *types.EncryptedData) {
	seq := w.sub(derSequence)
	seq.wantExplicitInt(0, int64(e.EType))
	if e.KVNO != 0 {
		seq.wantExplicitInt(1, int64(e.KVNO))
	}
	c := seq.sub(derContext0 + 2)
	c.wantValue(derOctetString, e.Cipher)
	seq.done(&c)
	w.done(&seq)
}
