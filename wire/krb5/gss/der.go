package gss

import (
	"time"

	"github.com/jcmturner/gofork/encoding/asn1"
	"github.com/jcmturner/gokrb5/v8/types"
)

// derReader decodes the DER elements of a Kerberos message in order,
// for the few types the acceptor reads: gokrb5's reflective decoder was
// most of an Accept's cost. It is strict where gokrb5's decoder (gofork
// encoding/asn1) is strict: minimal lengths and integers, known tags,
// bounds. ok turns false at the first fault and stays false; the values
// read after that are zero.
type derReader struct {
	b  []byte
	ok bool
}

func newDERReader(b []byte) derReader { return derReader{b: b, ok: true} }

func (r *derReader) fail() []byte {
	r.ok = false
	r.b = nil
	return nil
}

// peek reports whether the next element has identifier tag.
func (r *derReader) peek(tag byte) bool {
	return r.ok && len(r.b) > 0 && r.b[0] == tag
}

// next consumes one element with identifier tag and returns its contents.
// The length must be definite and in its one minimal form.
func (r *derReader) next(tag byte) []byte {
	if !r.ok || len(r.b) < 2 || r.b[0] != tag {
		return r.fail()
	}
	n, hdr := int(r.b[1]), 2
	if n >= 0x80 {
		k := n & 0x7f
		// k == 0 is the indefinite form; a leading zero byte or a
		// value under 0x80 is a longer form than needed.
		if k == 0 || k > derLengthBytes || len(r.b) < 2+k || r.b[2] == 0 {
			return r.fail()
		}
		n = 0
		for _, c := range r.b[2 : 2+k] {
			n = n<<8 | int(c)
		}
		if n < 0x80 {
			return r.fail()
		}
		hdr += k
	}
	if len(r.b)-hdr < n {
		return r.fail()
	}
	c := r.b[hdr : hdr+n : hdr+n]
	r.b = r.b[hdr+n:]
	return c
}

// sub consumes a constructed element and returns a reader over its
// contents; done must be called with it.
func (r *derReader) sub(tag byte) derReader {
	c := r.next(tag)
	return derReader{b: c, ok: r.ok}
}

// done requires that s, from r.sub, was read without fault to its end.
func (r *derReader) done(s *derReader) {
	if !s.ok || len(s.b) != 0 {
		r.fail()
	}
}

// doneLax requires that s was read without fault, ignoring elements left
// at its end: gokrb5 (and MIT, for extensions) ignore unknown trailing
// fields of an encrypted part's SEQUENCE, whose integrity the
// decryption proved.
func (r *derReader) doneLax(s *derReader) {
	if !s.ok {
		r.fail()
	}
}

// explicit opens the [n] EXPLICIT wrapper of a field.
func (r *derReader) explicit(n byte) derReader { return r.sub(derContext0 + n) }

// optional reads the OPTIONAL field [n] with read if it is next, and
// gives T's zero value if it is absent.
func optional[T any](r *derReader, n byte, read func(*derReader, byte) T) T {
	if !r.peek(derContext0 + n) {
		var zero T
		return zero
	}
	return read(r, n)
}

// integer reads an INTEGER of at most 64 bits in minimal two's
// complement.
func (r *derReader) integer() int64 {
	c := r.next(derInteger)
	if !r.ok {
		return 0
	}
	if len(c) == 0 || len(c) > 8 || len(c) > 1 && (c[0] == 0 && c[1]&0x80 == 0 || c[0] == 0xff && c[1]&0x80 != 0) {
		r.fail()
		return 0
	}
	v := int64(int8(c[0]))
	for _, x := range c[1:] {
		v = v<<8 | int64(x)
	}
	return v
}

// int32Field reads [n] EXPLICIT Int32.
func (r *derReader) int32Field(n byte) int32 {
	s := r.explicit(n)
	v := s.integer()
	if v != int64(int32(v)) {
		s.fail()
	}
	r.done(&s)
	return int32(v)
}

// intField reads [n] EXPLICIT INTEGER (gokrb5 decodes these into int).
func (r *derReader) intField(n byte) int {
	s := r.explicit(n)
	v := s.integer()
	r.done(&s)
	return int(v)
}

func (r *derReader) int64Field(n byte) int64 {
	s := r.explicit(n)
	v := s.integer()
	r.done(&s)
	return v
}

// stringField reads [n] EXPLICIT GeneralString.
func (r *derReader) stringField(n byte) string {
	s := r.explicit(n)
	v := s.generalString()
	r.done(&s)
	return v
}

// generalString reads a GeneralString, which gofork (so gokrb5) takes
// only in ASCII; so does this reader.
func (r *derReader) generalString() string {
	c := r.next(derGeneralString)
	for _, b := range c {
		if b >= 0x80 {
			r.fail()
			return ""
		}
	}
	return string(c)
}

// octetsField reads [n] EXPLICIT OCTET STRING; the result aliases the
// input.
func (r *derReader) octetsField(n byte) []byte {
	return r.explicitValue(n, derOctetString)
}

// explicitValue reads [n] EXPLICIT around a primitive element with
// identifier tag and returns its contents, nil after a fault.
func (r *derReader) explicitValue(n, tag byte) []byte {
	s := r.explicit(n)
	v := s.next(tag)
	r.done(&s)
	if !r.ok {
		return nil
	}
	return v
}

// bitStringField reads [n] EXPLICIT BIT STRING as gofork does: at most 7
// unused bits, and those zero.
func (r *derReader) bitStringField(n byte) asn1.BitString {
	c := r.explicitValue(n, derBitString)
	if !r.ok {
		return asn1.BitString{}
	}
	if len(c) == 0 || c[0] > 7 || len(c) == 1 && c[0] > 0 || len(c) > 1 && c[len(c)-1]&(1<<c[0]-1) != 0 {
		r.fail()
		return asn1.BitString{}
	}
	return asn1.BitString{Bytes: c[1:], BitLength: (len(c)-1)*8 - int(c[0])}
}

// timeField reads [n] EXPLICIT KerberosTime, which RFC 4120 fixes as
// "YYYYMMDDHHMMSSZ" (MIT's decoder accepts only that form too).
func (r *derReader) timeField(n byte) time.Time {
	c := r.explicitValue(n, derGeneralizedTime)
	if !r.ok {
		return time.Time{}
	}
	if len(c) != 15 || c[14] != 'Z' {
		r.fail()
		return time.Time{}
	}
	var d [7]int
	widths := [7]int{4, 2, 2, 2, 2, 2}
	p := 0
	for i := range 6 {
		for range widths[i] {
			if c[p] < '0' || c[p] > '9' {
				r.fail()
				return time.Time{}
			}
			d[i] = d[i]*10 + int(c[p]-'0')
			p++
		}
	}
	if d[1] < 1 || d[1] > 12 || d[2] < 1 || d[2] > 31 || d[3] > 23 || d[4] > 59 || d[5] > 59 {
		r.fail()
		return time.Time{}
	}
	t := time.Date(d[0], time.Month(d[1]), d[2], d[3], d[4], d[5], 0, time.UTC)
	if t.Day() != d[2] { // 31 February and the like
		r.fail()
		return time.Time{}
	}
	return t
}

// principalNameField reads [n] EXPLICIT PrincipalName.
func (r *derReader) principalNameField(n byte) types.PrincipalName {
	s := r.explicit(n)
	seq := s.sub(derSequence)
	p := types.PrincipalName{NameType: seq.int32Field(0)}
	names := seq.explicit(1)
	list := names.sub(derSequence)
	for list.ok && len(list.b) > 0 {
		p.NameString = append(p.NameString, list.generalString())
	}
	names.done(&list)
	seq.done(&names)
	s.done(&seq)
	r.done(&s)
	return p
}

// encryptionKeyField reads [n] EXPLICIT EncryptionKey; the key value
// aliases the input.
func (r *derReader) encryptionKeyField(n byte) types.EncryptionKey {
	s := r.explicit(n)
	t, v := s.typedOctets()
	r.done(&s)
	return types.EncryptionKey{KeyType: t, KeyValue: v}
}

// checksumField reads [n] EXPLICIT Checksum; the value aliases the input.
func (r *derReader) checksumField(n byte) types.Checksum {
	s := r.explicit(n)
	t, v := s.typedOctets()
	r.done(&s)
	return types.Checksum{CksumType: t, Checksum: v}
}

// typedOctets reads SEQUENCE {[0] Int32, [1] OCTET STRING}, the shape of
// EncryptionKey, Checksum, HostAddress and AuthorizationData's elements,
// ignoring trailing fields as gokrb5 does.
func (r *derReader) typedOctets() (int32, []byte) {
	seq := r.sub(derSequence)
	t, v := seq.int32Field(0), seq.octetsField(1)
	r.doneLax(&seq)
	return t, v
}

// encryptedDataField reads [n] EXPLICIT EncryptedData; the ciphertext
// aliases the input.
func (r *derReader) encryptedDataField(n byte) types.EncryptedData {
	s := r.explicit(n)
	seq := s.sub(derSequence)
	e := types.EncryptedData{EType: seq.int32Field(0)}
	e.KVNO = optional(&seq, 1, (*derReader).intField)
	e.Cipher = seq.octetsField(2)
	s.done(&seq)
	r.done(&s)
	return e
}

// typedListField checks that [n] EXPLICIT holds a SEQUENCE OF SEQUENCE
// {[0] Int32, [1] OCTET STRING}, the shape of AuthorizationData and
// HostAddresses, and returns how many elements it has. Their contents
// are not otherwise read.
func (r *derReader) typedListField(n byte) int {
	s := r.explicit(n)
	list := s.sub(derSequence)
	count := 0
	for list.ok && len(list.b) > 0 {
		list.typedOctets()
		count++
	}
	s.done(&list)
	r.done(&s)
	return count
}

// derBack writes DER back to front into one buffer, so that each
// element's length is known when its header is written: a SEQUENCE's
// fields are written last first, then mark's wrap adds its header. The
// encoding is b[i:].
type derBack struct {
	b []byte
	i int
}

// newDERBack returns a writer with room for n bytes.
func newDERBack(n int) *derBack {
	return &derBack{b: make([]byte, n), i: n}
}

func (d *derBack) bytes() []byte { return d.b[d.i:] }

// mark returns the position an element's contents end at, for wrap.
func (d *derBack) mark() int { return len(d.b) - d.i }

func (d *derBack) prepend(p ...byte) {
	if d.i < len(p) {
		nb := make([]byte, 2*len(d.b)+len(p))
		copy(nb[len(nb)-d.mark():], d.bytes())
		d.i += len(nb) - len(d.b)
		d.b = nb
	}
	d.i -= len(p)
	copy(d.b[d.i:], p)
}

// wrap writes the header of the element tag whose contents are what was
// written since mark m.
func (d *derBack) wrap(tag byte, m int) {
	var hdr [6]byte
	h := appendDERLength(append(hdr[:0], tag), d.mark()-m)
	d.prepend(h...)
}

// primitive writes the element tag with contents c.
func (d *derBack) primitive(tag byte, c []byte) {
	m := d.mark()
	d.prepend(c...)
	d.wrap(tag, m)
}

// integer writes INTEGER v in minimal two's complement.
func (d *derBack) integer(v int64) {
	b, n := minimalInt(v)
	d.primitive(derInteger, b[:n])
}

// explicitInt writes [n] EXPLICIT INTEGER v.
func (d *derBack) explicitInt(n byte, v int64) {
	m := d.mark()
	d.integer(v)
	d.wrap(derContext0+n, m)
}

// minimalInt returns v's minimal two's complement bytes in b[:n].
func minimalInt(v int64) (b [8]byte, n int) {
	n = 1
	for i := v; i > 127; i >>= 8 {
		n++
	}
	for i := v; i < -128; i >>= 8 {
		n++
	}
	for j := range n {
		b[j] = byte(v >> uint((n-1-j)*8))
	}
	return b, n
}
