package gss

import (
	"fmt"

	"github.com/jcmturner/gokrb5/v8/iana"
	"github.com/jcmturner/gokrb5/v8/iana/keyusage"
	"github.com/jcmturner/gokrb5/v8/iana/msgtype"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"
)

// marshalAPRep builds a KRB_AP_REP (RFC 4120 section 5.5.2) whose
// EncAPRepPart is encrypted in the ticket session key with key usage 12,
// as MIT's krb5_mk_rep does. It writes the DER itself (gokrb5 has no
// marshaller for either type, and gofork's reflective one cost more
// than the encryption); TestMarshalAPRepMatchesGofork holds it to
// gofork's encoding. enc's optional fields must be non-zero to be sent.
func marshalAPRep(enc messages.EncAPRepPart, sessionKey types.EncryptionKey) ([]byte, error) {
	et, err := checkKey(sessionKey)
	if err != nil {
		return nil, fmt.Errorf("gss: encrypting EncAPRepPart: %w", err)
	}
	pt, err := encodeEncAPRepPart(enc)
	if err != nil {
		return nil, err
	}
	keys, err := deriveEncKeys(et, sessionKey.KeyValue, keyusage.AP_REP_ENCPART)
	if err != nil {
		return nil, err
	}
	cipher, err := encryptWith(et, &keys, pt)
	if err != nil {
		return nil, fmt.Errorf("gss: encrypting EncAPRepPart: %w", err)
	}
	return encodeAPRep(sessionKey.KeyType, cipher), nil
}

// encodeEncAPRepPart is the DER of EncAPRepPart ::= [APPLICATION 27]
// SEQUENCE {ctime [0], cusec [1], subkey [2] OPTIONAL, seq-number [3]
// OPTIONAL}.
func encodeEncAPRepPart(enc messages.EncAPRepPart) ([]byte, error) {
	ct := enc.CTime.UTC()
	if ct.Year() < 0 || ct.Year() > 9999 {
		return nil, fmt.Errorf("gss: encoding EncAPRepPart: time %v out of range", ct)
	}
	var body []byte
	body = derExplicit(body, 0, derTLV(nil, derGeneralizedTime, ct.AppendFormat(make([]byte, 0, 15), "20060102150405Z")))
	body = derExplicit(body, 1, derInteger64(nil, int64(enc.Cusec)))
	if enc.Subkey.KeyType != 0 || len(enc.Subkey.KeyValue) > 0 {
		k := derExplicit(nil, 0, derInteger64(nil, int64(enc.Subkey.KeyType)))
		k = derExplicit(k, 1, derTLV(nil, derOctetString, enc.Subkey.KeyValue))
		body = derExplicit(body, 2, derTLV(nil, derSequence, k))
	}
	if enc.SequenceNumber != 0 {
		body = derExplicit(body, 3, derInteger64(nil, enc.SequenceNumber))
	}
	return derTLV(nil, derAppEncAPRep, derTLV(nil, derSequence, body)), nil
}

// encodeAPRep is the DER of AP-REP ::= [APPLICATION 15] SEQUENCE {pvno
// [0], msg-type [1], enc-part [2] EncryptedData} with no kvno, as gofork
// encodes a zero one.
func encodeAPRep(etype int32, cipher []byte) []byte {
	ed := derExplicit(nil, 0, derInteger64(nil, int64(etype)))
	ed = derExplicit(ed, 2, derTLV(nil, derOctetString, cipher))
	rep := derExplicit(nil, 0, derInteger64(nil, iana.PVNO))
	rep = derExplicit(rep, 1, derInteger64(nil, msgtype.KRB_AP_REP))
	rep = derExplicit(rep, 2, derTLV(nil, derSequence, ed))
	return derTLV(nil, derAppAPRep, derTLV(nil, derSequence, rep))
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
