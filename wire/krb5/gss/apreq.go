package gss

import (
	"fmt"

	"github.com/jcmturner/gokrb5/v8/iana"
	"github.com/jcmturner/gokrb5/v8/iana/keyusage"
	"github.com/jcmturner/gokrb5/v8/iana/msgtype"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"
)

// newAPReq is gokrb5's messages.NewAPReq, field for field, with the
// authenticator encrypted by this package's cryptography: gokrb5's
// EncryptMessage derives the keys and makes its cipher objects on every
// call, a fifth of building an AP-REQ. sessionKey must have passed
// checkKey.
func newAPReq(tkt messages.Ticket, sessionKey types.EncryptionKey, auth types.Authenticator) (messages.APReq, error) {
	et, err := checkKey(sessionKey)
	if err != nil {
		return messages.APReq{}, err
	}
	pt, err := auth.Marshal()
	if err != nil {
		return messages.APReq{}, fmt.Errorf("gss: encoding the authenticator: %w", err)
	}
	keys, err := deriveEncKeys(et, sessionKey.KeyValue, authenticatorUsage(tkt.SName))
	if err != nil {
		return messages.APReq{}, err
	}
	ct, err := encryptWith(et, &keys, nil, pt)
	if err != nil {
		return messages.APReq{}, fmt.Errorf("gss: encrypting the authenticator: %w", err)
	}
	return messages.APReq{
		PVNO:      iana.PVNO,
		MsgType:   msgtype.KRB_AP_REQ,
		APOptions: types.NewKrbFlags(),
		Ticket:    tkt,
		// The ticket's kvno, as gokrb5 sends it; MIT ignores it.
		EncryptedAuthenticator: types.EncryptedData{EType: sessionKey.KeyType, Cipher: ct, KVNO: tkt.EncPart.KVNO},
	}, nil
}

// authenticatorUsage is the key usage of the authenticator of an AP-REQ
// for service sname: a TGS-REQ's for a ticket-granting ticket (RFC 4120
// section 7.5.1).
func authenticatorUsage(sname types.PrincipalName) uint32 {
	if len(sname.NameString) > 0 && sname.NameString[0] == "krbtgt" {
		return keyusage.TGS_REQ_PA_TGS_REQ_AP_REQ_AUTHENTICATOR
	}
	return keyusage.AP_REQ_AUTHENTICATOR
}
