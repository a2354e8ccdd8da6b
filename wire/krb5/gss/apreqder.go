package gss

import (
	"bytes"
	"reflect"

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
// TestCanonicalAPReqMatchesMarshal holds it to req.Marshal().
func isCanonicalAPReq(der []byte, req *messages.APReq) bool {
	// gokrb5 decodes an extra element at the end of the Ticket into
	// DecryptedEncPart and encodes it back; leave that rare case to it.
	if !reflect.ValueOf(&req.Ticket.DecryptedEncPart).Elem().IsZero() {
		b, err := req.Marshal()
		return err == nil && bytes.Equal(b, der)
	}
	w := derWalker{b: der, ok: true}
	app := w.sub(derAppAPReq)
	seq := app.sub(derSequence)
	seq.explicitInt(0, int64(req.PVNO))
	seq.explicitInt(1, int64(req.MsgType))
	opts := seq.sub(derContext0 + 2)
	opts.bitString(req.APOptions)
	seq.end(&opts)
	tkt := seq.sub(derContext0 + 3)
	tkt.ticket(&req.Ticket)
	seq.end(&tkt)
	auth := seq.sub(derContext0 + 4)
	auth.encryptedData(&req.EncryptedAuthenticator)
	seq.end(&auth)
	app.end(&seq)
	w.end(&app)
	return w.ok && len(w.b) == 0
}

// derWalker reads DER elements from b in order; ok turns false at the
// first element that is not the expected one in canonical form.
type derWalker struct {
	b  []byte
	ok bool
}

func (w *derWalker) fail() []byte {
	w.ok = false
	return nil
}

// next consumes one element with identifier tag and returns its contents.
func (w *derWalker) next(tag byte) []byte {
	if !w.ok || len(w.b) < 2 || w.b[0] != tag {
		return w.fail()
	}
	n, hdr := int(w.b[1]), 2
	if n >= 0x80 {
		k := n & 0x7f
		// k == 0 is the indefinite form; a leading zero byte or a
		// value under 0x80 is a longer form than needed.
		if k == 0 || k > derLengthBytes || len(w.b) < 2+k || w.b[2] == 0 {
			return w.fail()
		}
		n = 0
		for _, c := range w.b[2 : 2+k] {
			n = n<<8 | int(c)
		}
		if n < 0x80 {
			return w.fail()
		}
		hdr += k
	}
	if len(w.b)-hdr < n {
		return w.fail()
	}
	c := w.b[hdr : hdr+n]
	w.b = w.b[hdr+n:]
	return c
}

// sub consumes a constructed element and returns a walker over its
// contents; end must be called with it.
func (w *derWalker) sub(tag byte) derWalker {
	c := w.next(tag)
	return derWalker{b: c, ok: w.ok}
}

// end requires that s, from w.sub, was read without fault to its end.
func (w *derWalker) end(s *derWalker) {
	if !s.ok || len(s.b) != 0 {
		w.ok = false
	}
}

func (w *derWalker) value(tag byte, want []byte) {
	if c := w.next(tag); !bytes.Equal(c, want) {
		w.ok = false
	}
}

func (w *derWalker) str(tag byte, want string) {
	if c := w.next(tag); string(c) != want {
		w.ok = false
	}
}

// integer expects the minimal two's complement encoding of v, as
// encoding/asn1 writes it.
func (w *derWalker) integer(v int64) {
	b, n := minimalInt(v)
	w.value(derInteger, b[:n])
}

func (w *derWalker) explicitInt(n byte, v int64) {
	s := w.sub(derContext0 + n)
	s.integer(v)
	w.end(&s)
}

func (w *derWalker) bitString(b asn1.BitString) {
	c := w.next(derBitString)
	if len(c) != 1+len(b.Bytes) || c[0] != byte((8-b.BitLength%8)%8) || !bytes.Equal(c[1:], b.Bytes) {
		w.ok = false
	}
}

// ticket expects Ticket ::= [APPLICATION 1] SEQUENCE {tkt-vno [0],
// realm [1], sname [2], enc-part [3]}.
func (w *derWalker) ticket(t *messages.Ticket) {
	app := w.sub(derAppTicket)
	seq := app.sub(derSequence)
	seq.explicitInt(0, int64(t.TktVNO))
	realm := seq.sub(derContext0 + 1)
	realm.str(derGeneralString, t.Realm)
	seq.end(&realm)
	sname := seq.sub(derContext0 + 2)
	sname.principalName(&t.SName)
	seq.end(&sname)
	enc := seq.sub(derContext0 + 3)
	enc.encryptedData(&t.EncPart)
	seq.end(&enc)
	app.end(&seq)
	w.end(&app)
}

func (w *derWalker) principalName(p *types.PrincipalName) {
	seq := w.sub(derSequence)
	seq.explicitInt(0, int64(p.NameType))
	names := seq.sub(derContext0 + 1)
	list := names.sub(derSequence)
	for _, s := range p.NameString {
		list.str(derGeneralString, s)
	}
	names.end(&list)
	seq.end(&names)
	w.end(&seq)
}

// encryptedData expects EncryptedData, whose kvno [1] is OPTIONAL and,
// as gokrb5 encodes it, absent when 0.
func (w *derWalker) encryptedData(e *types.EncryptedData) {
	seq := w.sub(derSequence)
	seq.explicitInt(0, int64(e.EType))
	if e.KVNO != 0 {
		seq.explicitInt(1, int64(e.KVNO))
	}
	c := seq.sub(derContext0 + 2)
	c.value(derOctetString, e.Cipher)
	seq.end(&c)
	w.end(&seq)
}
