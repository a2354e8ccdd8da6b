package gss

import (
	"fmt"

	"github.com/jcmturner/gofork/encoding/asn1"
	"github.com/jcmturner/gokrb5/v8/asn1tools"
	"github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/iana"
	"github.com/jcmturner/gokrb5/v8/iana/asnAppTag"
	"github.com/jcmturner/gokrb5/v8/iana/keyusage"
	"github.com/jcmturner/gokrb5/v8/iana/msgtype"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"
)

// marshalAPRep builds a KRB_AP_REP (RFC 4120 section 5.5.2) whose
// EncAPRepPart is encrypted in the ticket session key with key usage 12,
// as MIT's krb5_mk_rep does. gokrb5 has no marshaller for either type; its
// structs carry the right tags, so gofork's asn1 encodes them. enc's
// optional fields must be non-zero to be sent.
func marshalAPRep(enc messages.EncAPRepPart, sessionKey types.EncryptionKey) ([]byte, error) {
	b, err := asn1.Marshal(enc)
	if err != nil {
		return nil, fmt.Errorf("gss: encoding EncAPRepPart: %w", err)
	}
	b = asn1tools.AddASNAppTag(b, asnAppTag.EncAPRepPart)
	ed, err := crypto.GetEncryptedData(b, sessionKey, keyusage.AP_REP_ENCPART, 0)
	if err != nil {
		return nil, fmt.Errorf("gss: encrypting EncAPRepPart: %w", err)
	}
	rep := messages.APRep{PVNO: iana.PVNO, MsgType: msgtype.KRB_AP_REP, EncPart: ed}
	b, err = asn1.Marshal(rep)
	if err != nil {
		return nil, fmt.Errorf("gss: encoding AP-REP: %w", err)
	}
	return asn1tools.AddASNAppTag(b, asnAppTag.APREP), nil
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
