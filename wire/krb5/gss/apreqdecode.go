package gss

import (
	"fmt"

	"github.com/jcmturner/gokrb5/v8/iana/msgtype"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"
)

// decodeAPReq decodes an AP-REQ (RFC 4120 section 5.5.1) into gokrb5's
// struct, the fields gokrb5's Unmarshal fills except DecryptedEncPart.
// The ciphertexts alias der. Callers still hold der to isCanonicalAPReq.
func decodeAPReq(der []byte) (*messages.APReq, error) {
	r := newDERReader(der)
	app := r.sub(derAppAPReq)
	seq := app.sub(derSequence)
	req := &messages.APReq{
		PVNO:      seq.intField(0),
		MsgType:   seq.intField(1),
		APOptions: seq.bitStringField(2),
	}
	tkt := seq.explicit(3)
	req.Ticket = tkt.ticket()
	seq.done(&tkt)
	req.EncryptedAuthenticator = seq.encryptedDataField(4)
	app.done(&seq)
	r.done(&app)
	if !r.ok || len(r.b) != 0 {
		return nil, fmt.Errorf("%w: malformed AP-REQ", ErrDefectiveToken)
	}
	if req.MsgType != msgtype.KRB_AP_REQ {
		return nil, fmt.Errorf("%w: message type %d, want an AP-REQ (14)", ErrDefectiveToken, req.MsgType)
	}
	return req, nil
}

// ticket reads Ticket ::= [APPLICATION 1] SEQUENCE {tkt-vno [0], realm
// [1], sname [2], enc-part [3]}.
func (r *derReader) ticket() messages.Ticket {
	app := r.sub(derAppTicket)
	seq := app.sub(derSequence)
	t := messages.Ticket{
		TktVNO:  seq.intField(0),
		Realm:   seq.stringField(1),
		SName:   seq.principalNameField(2),
		EncPart: seq.encryptedDataField(3),
	}
	app.done(&seq)
	r.done(&app)
	return t
}

// encTicketPart is what the acceptor reads of a decrypted ticket:
// gokrb5's struct (without the contents of transited, caddr and
// authorization-data) and the number of client addresses.
type encTicketPart struct {
	messages.EncTicketPart
	addresses int
}

// decodeEncTicketPart decodes a ticket's decrypted EncTicketPart. Key,
// names and flags alias b.
func decodeEncTicketPart(b []byte) (encTicketPart, error) {
	r := newDERReader(b)
	app := r.sub(derAppEncTicket)
	seq := app.sub(derSequence)
	var e encTicketPart
	t := &e.EncTicketPart
	t.Flags = seq.bitStringField(0)
	t.Key = seq.encryptionKeyField(1)
	t.CRealm = seq.stringField(2)
	t.CName = seq.principalNameField(3)
	tr := seq.explicit(4)
	trSeq := tr.sub(derSequence)
	t.Transited.TRType = trSeq.int32Field(0)
	t.Transited.Contents = trSeq.octetsField(1)
	tr.doneLax(&trSeq)
	seq.done(&tr)
	t.AuthTime = seq.timeField(5)
	t.StartTime = optional(&seq, 6, (*derReader).timeField)
	t.EndTime = seq.timeField(7)
	t.RenewTill = optional(&seq, 8, (*derReader).timeField)
	e.addresses = optional(&seq, 9, (*derReader).typedListField)
	optional(&seq, 10, (*derReader).typedListField) // authorization-data: checked, not kept
	if err := r.endEncPart(&app, &seq, "EncTicketPart"); err != nil {
		return encTicketPart{}, err
	}
	return e, nil
}

// decodeAuthenticator decodes a decrypted Authenticator. Checksum and
// subkey alias b.
func decodeAuthenticator(b []byte) (types.Authenticator, error) {
	r := newDERReader(b)
	app := r.sub(derAppAuth)
	seq := app.sub(derSequence)
	a := types.Authenticator{
		AVNO:   seq.intField(0),
		CRealm: seq.stringField(1),
		CName:  seq.principalNameField(2),
	}
	a.Cksum = optional(&seq, 3, (*derReader).checksumField)
	a.Cusec = seq.intField(4)
	a.CTime = seq.timeField(5)
	a.SubKey = optional(&seq, 6, (*derReader).encryptionKeyField)
	a.SeqNumber = optional(&seq, 7, (*derReader).int64Field)
	optional(&seq, 8, (*derReader).typedListField) // authorization-data: checked, not kept
	if err := r.endEncPart(&app, &seq, "Authenticator"); err != nil {
		return types.Authenticator{}, err
	}
	return a, nil
}

// endEncPart ends the decoding of a decrypted part, app holding its
// SEQUENCE seq, and reports a fault as a malformed name. Elements after
// those read, and bytes after the element, are ignored, as gokrb5 and
// MIT do (doneLax).
func (r *derReader) endEncPart(app, seq *derReader, name string) error {
	app.doneLax(seq)
	r.done(app)
	if !r.ok {
		return fmt.Errorf("gss: malformed %s", name)
	}
	return nil
}
