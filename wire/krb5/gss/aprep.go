package gss

import (
	"fmt"

	"github.com/jcmturner/gokrb5/v8/iana"
	"github.com/jcmturner/gokrb5/v8/iana/keyusage"
	"github.com/jcmturner/gokrb5/v8/iana/msgtype"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"
)

// marshalAPRep builds, with d (sessionKey's deriver), the context token
// of a KRB_AP_REP (RFC 4120 section 5.5.2) whose
// EncAPRepPart is encrypted in the ticket session key with key usage 12,
// as MIT's krb5_mk_rep does. It writes the DER itself (gokrb5 has no
// marshaller for either type, and gofork's reflective one cost more
// than the encryption); TestMarshalAPRepMatchesGofork holds it to
// gofork's encoding. enc's optional fields must be non-zero to be sent.
// mp lends the HMAC scratch (nil: fresh).
func marshalAPRep(enc messages.EncAPRepPart, sessionKey types.EncryptionKey, d deriver, mp *macPools) ([]byte, error) {
	et, err := checkKey(sessionKey)
	if err != nil {
		return nil, fmt.Errorf("gss: encrypting EncAPRepPart: %w", err)
	}
	pt, err := encodeEncAPRepPart(enc)
	if err != nil {
		return nil, err
	}
	keys, err := d.usageKeys(keyusage.AP_REP_ENCPART, false)
	if err != nil {
		return nil, err
	}
	cipher, err := encryptWith(et, &keys, mp, pt)
	if err != nil {
		return nil, fmt.Errorf("gss: encrypting EncAPRepPart: %w", err)
	}
	return encodeAPRep(sessionKey.KeyType, cipher), nil
}

// apRepRoom is enough room for the DER around an AP-REP's ciphertext
// and the context token header around that: with room, the token is
// written in one allocation.
const apRepRoom = 64

// encodeEncAPRepPart is the DER of EncAPRepPart ::= [APPLICATION 27]
// SEQUENCE {ctime [0], cusec [1], subkey [2] OPTIONAL, seq-number [3]
// OPTIONAL}.
func encodeEncAPRepPart(enc messages.EncAPRepPart) ([]byte, error) {
	ct := enc.CTime.UTC()
	if ct.Year() < 0 || ct.Year() > 9999 {
		return nil, fmt.Errorf("gss: encoding EncAPRepPart: time %v out of range", ct)
	}
	d := newDERBack(apRepRoom + len(enc.Subkey.KeyValue))
	seq := d.mark()
	if enc.SequenceNumber != 0 {
		d.explicitInt(3, enc.SequenceNumber)
	}
	if enc.Subkey.KeyType != 0 || len(enc.Subkey.KeyValue) > 0 {
		k := d.mark()
		v := d.mark()
		d.primitive(derOctetString, enc.Subkey.KeyValue)
		d.wrap(derContext0+1, v)
		d.explicitInt(0, int64(enc.Subkey.KeyType))
		d.wrap(derSequence, k)
		d.wrap(derContext0+2, k)
	}
	d.explicitInt(1, int64(enc.Cusec))
	t := d.mark()
	var ts [15]byte
	d.primitive(derGeneralizedTime, ct.AppendFormat(ts[:0], "20060102150405Z"))
	d.wrap(derContext0, t)
	d.wrap(derSequence, seq)
	d.wrap(derAppEncAPRep, seq)
	return d.bytes(), nil
}

// encodeAPRep is the context token (TOK_ID 02 00) of AP-REP ::=
// [APPLICATION 15] SEQUENCE {pvno [0], msg-type [1], enc-part [2]
// EncryptedData} with no kvno, as gofork encodes a zero one.
func encodeAPRep(etype int32, cipher []byte) []byte {
	d := newDERBack(apRepRoom + len(cipher))
	seq := d.mark()
	c := d.mark()
	d.primitive(derOctetString, cipher)
	d.wrap(derContext0+2, c)
	d.explicitInt(0, int64(etype))
	d.wrap(derSequence, seq)
	d.wrap(derContext0+2, seq)
	d.explicitInt(1, msgtype.KRB_AP_REP)
	d.explicitInt(0, iana.PVNO)
	d.wrap(derSequence, seq)
	d.wrap(derAppAPRep, seq)
	d.prepend(byte(tokAPRep>>8), byte(tokAPRep&0xff))
	d.prepend(krb5OID...)
	d.wrap(0x60, 0)
	return d.bytes()
}

// openAPRep decodes a KRB_AP_REP and decrypts its EncAPRepPart with the
// session key.
func openAPRep(b []byte, sessionKey types.EncryptionKey) (enc messages.EncAPRepPart, err error) {
	defer recoverPanic(&err, "decoding AP-REP")
	var rep messages.APRep
	if err := rep.Unmarshal(b); err != nil {
		return enc, fmt.Errorf("%w: malformed AP-REP: %v", ErrDefectiveToken, err)
	}
	if rep.PVNO != iana.PVNO {
		return enc, fmt.Errorf("%w: AP-REP protocol version %d", ErrDefectiveToken, rep.PVNO)
	}
	pt, err := decrypt(sessionKey, rep.EncPart.Cipher, keyusage.AP_REP_ENCPART)
	if err != nil {
		return enc, fmt.Errorf("gss: AP-REP does not decrypt with the session key (mutual authentication failed): %w", err)
	}
	if err := enc.Unmarshal(pt); err != nil {
		return enc, fmt.Errorf("gss: malformed EncAPRepPart: %v", err)
	}
	return enc, nil
}
