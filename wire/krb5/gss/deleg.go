package gss

import (
	"errors"
	"fmt"
	"time"

	"github.com/jcmturner/gofork/encoding/asn1"
	"github.com/jcmturner/gokrb5/v8/asn1tools"
	"github.com/jcmturner/gokrb5/v8/client"
	"github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/iana"
	"github.com/jcmturner/gokrb5/v8/iana/asnAppTag"
	"github.com/jcmturner/gokrb5/v8/iana/flags"
	"github.com/jcmturner/gokrb5/v8/iana/keyusage"
	"github.com/jcmturner/gokrb5/v8/iana/msgtype"
	"github.com/jcmturner/gokrb5/v8/iana/nametype"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"
)

// Delegated is a forwarded credential (RFC 4120 KRB-CRED, one ticket): on
// the initiator the TGT it forwards, on the acceptor the TGT it received.
// It lives in memory only; call Wipe when done with it.
type Delegated struct {
	Ticket messages.Ticket
	Info   messages.KrbCredInfo // key, client, flags, times, server
}

// Client returns the delegated client principal, e.g. "alice@REALM".
func (d *Delegated) Client() string {
	return d.Info.PName.PrincipalNameString() + "@" + d.Info.PRealm
}

// Wipe zeroes the session key and the ticket's ciphertext, so that the
// credential is unusable from here on.
func (d *Delegated) Wipe() {
	if d == nil {
		return
	}
	clear(d.Info.Key.KeyValue)
	clear(d.Ticket.EncPart.Cipher)
	clear(d.Ticket.DecryptedEncPart.Key.KeyValue)
}

// Wiped reports whether Wipe has run (all key bytes are zero), for tests
// and hooks that prove a credential did not outlive its use.
func (d *Delegated) Wiped() bool {
	for _, b := range d.Info.Key.KeyValue {
		if b != 0 {
			return false
		}
	}
	return true
}

// ForwardTGT asks the KDC, with cl and the client's TGT (tgt, its session
// key tgtKey, for cname@crealm; krb5.CCacheTGT reads one), for a forwarded TGT: a TGS-REQ for
// krbtgt/REALM with the FORWARDED and FORWARDABLE options and no
// addresses, as MIT's krb5_fwd_tgt_creds does. The TGT must be
// forwardable (kinit -f), else the KDC refuses.
func ForwardTGT(cl *client.Client, cname types.PrincipalName, crealm string, tgt messages.Ticket, tgtKey types.EncryptionKey) (*Delegated, error) {
	if cl == nil || cl.Config == nil {
		return nil, errors.New("gss: nil client")
	}
	sname := types.PrincipalName{NameType: nametype.KRB_NT_SRV_INST, NameString: []string{"krbtgt", crealm}}
	req, err := messages.NewTGSReq(cname, crealm, cl.Config, tgt, tgtKey, sname, false)
	if err != nil {
		return nil, fmt.Errorf("gss: building the TGS-REQ for a forwarded TGT: %w", err)
	}
	req.ReqBody.KDCOptions = types.NewKrbFlags()
	types.SetFlag(&req.ReqBody.KDCOptions, flags.Forwardable)
	types.SetFlag(&req.ReqBody.KDCOptions, flags.Forwarded)
	req.ReqBody.Addresses = nil
	req.ReqBody.RTime = time.Time{}
	// The options changed, so the PA-TGS-REQ checksum over the body
	// must be made again.
	if err := signTGSReq(&req, tgt, tgtKey); err != nil {
		return nil, err
	}
	_, rep, err := cl.TGSExchange(req, crealm, tgt, tgtKey, 0)
	if err != nil {
		return nil, fmt.Errorf("gss: getting a forwarded TGT (is the TGT forwardable? kinit -f): %w", err)
	}
	ep := rep.DecryptedEncPart
	if !types.IsFlagSet(&ep.Flags, flags.Forwarded) {
		return nil, errors.New("gss: the KDC did not mark the forwarded TGT forwarded")
	}
	return &Delegated{
		Ticket: rep.Ticket,
		Info: messages.KrbCredInfo{
			Key:       ep.Key,
			PRealm:    crealm,
			PName:     cname,
			Flags:     ep.Flags,
			AuthTime:  ep.AuthTime,
			StartTime: ep.StartTime,
			EndTime:   ep.EndTime,
			RenewTill: ep.RenewTill,
			SRealm:    rep.Ticket.Realm,
			SName:     rep.Ticket.SName,
		},
	}, nil
}

// signTGSReq replaces the PA-TGS-REQ of req with one whose authenticator
// checksums req's current body (gokrb5 computes it only in NewTGSReq).
func signTGSReq(req *messages.TGSReq, tgt messages.Ticket, key types.EncryptionKey) error {
	body, err := req.ReqBody.Marshal()
	if err != nil {
		return fmt.Errorf("gss: encoding the TGS-REQ body: %w", err)
	}
	et, err := crypto.GetEtype(key.KeyType)
	if err != nil {
		return fmt.Errorf("gss: TGT session key: %w", err)
	}
	sum, err := et.GetChecksumHash(key.KeyValue, body, keyusage.TGS_REQ_PA_TGS_REQ_AP_REQ_AUTHENTICATOR_CHKSUM)
	if err != nil {
		return fmt.Errorf("gss: TGS-REQ checksum: %w", err)
	}
	auth, err := types.NewAuthenticator(tgt.Realm, req.ReqBody.CName)
	if err != nil {
		return fmt.Errorf("gss: TGS-REQ authenticator: %w", err)
	}
	auth.Cksum = types.Checksum{CksumType: et.GetHashID(), Checksum: sum}
	ap, err := messages.NewAPReq(tgt, key, auth)
	if err != nil {
		return fmt.Errorf("gss: TGS-REQ AP-REQ: %w", err)
	}
	b, err := ap.Marshal()
	if err != nil {
		return fmt.Errorf("gss: encoding the TGS-REQ AP-REQ: %w", err)
	}
	req.PAData[0].PADataValue = b
	return nil
}

// Wire forms of KRB-CRED parts (RFC 4120 section 5.8); gokrb5 only
// decodes them.
type encKrbCredPartWire struct {
	TicketInfo []krbCredInfoWire `asn1:"explicit,tag:0"`
}

// krbCredInfoWire is messages.KrbCredInfo with srealm a GeneralString
// (gokrb5's says IA5String, which MIT's decoder refuses).
type krbCredInfoWire struct {
	Key       types.EncryptionKey `asn1:"explicit,tag:0"`
	PRealm    string              `asn1:"generalstring,optional,explicit,tag:1"`
	PName     types.PrincipalName `asn1:"optional,explicit,tag:2"`
	Flags     asn1.BitString      `asn1:"optional,explicit,tag:3"`
	AuthTime  time.Time           `asn1:"generalized,optional,explicit,tag:4"`
	StartTime time.Time           `asn1:"generalized,optional,explicit,tag:5"`
	EndTime   time.Time           `asn1:"generalized,optional,explicit,tag:6"`
	RenewTill time.Time           `asn1:"generalized,optional,explicit,tag:7"`
	SRealm    string              `asn1:"generalstring,optional,explicit,tag:8"`
	SName     types.PrincipalName `asn1:"optional,explicit,tag:9"`
}

// marshalKRBCred builds the KRB-CRED carrying d, its EncKrbCredPart
// encrypted in key (the ticket session key, as RFC 4121 section 4.1.1
// and MIT's initiator do) with key usage 14. Like MIT's initiator it sends
// no timestamp, nonce or addresses.
func marshalKRBCred(d *Delegated, key types.EncryptionKey) ([]byte, error) {
	tkt, err := d.Ticket.Marshal()
	if err != nil {
		return nil, fmt.Errorf("gss: encoding the forwarded ticket: %w", err)
	}
	seq, err := asn1.Marshal(asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSequence, IsCompound: true, Bytes: tkt})
	if err != nil {
		return nil, err
	}
	enc, err := asn1.Marshal(encKrbCredPartWire{TicketInfo: []krbCredInfoWire{{
		Key: d.Info.Key, PRealm: d.Info.PRealm, PName: d.Info.PName, Flags: d.Info.Flags,
		AuthTime: d.Info.AuthTime, StartTime: d.Info.StartTime, EndTime: d.Info.EndTime,
		RenewTill: d.Info.RenewTill, SRealm: d.Info.SRealm, SName: d.Info.SName,
	}}})
	if err != nil {
		return nil, fmt.Errorf("gss: encoding EncKrbCredPart: %w", err)
	}
	enc = asn1tools.AddASNAppTag(enc, asnAppTag.EncKrbCredPart)
	ed, err := crypto.GetEncryptedData(enc, key, keyusage.KRB_CRED_ENCPART, 0)
	clear(enc) // it holds the forwarded TGT's session key
	if err != nil {
		return nil, fmt.Errorf("gss: encrypting EncKrbCredPart: %w", err)
	}
	// Built field by field: gofork drops the explicit tag of a RawValue
	// given as FullBytes, so the sequence of tickets cannot go through
	// a tagged struct.
	var body []byte
	for i, v := range []any{iana.PVNO, msgtype.KRB_CRED, asn1.RawValue{FullBytes: seq}, ed} {
		inner, err := asn1.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("gss: encoding KRB-CRED: %w", err)
		}
		f, err := asn1.Marshal(asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: i, IsCompound: true, Bytes: inner})
		if err != nil {
			return nil, fmt.Errorf("gss: encoding KRB-CRED: %w", err)
		}
		body = append(body, f...)
	}
	b, err := asn1.Marshal(asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSequence, IsCompound: true, Bytes: body})
	if err != nil {
		return nil, fmt.Errorf("gss: encoding KRB-CRED: %w", err)
	}
	return asn1tools.AddASNAppTag(b, asnAppTag.KRBCred), nil
}

// parseKRBCred decrypts a KRB-CRED holding one ticket. Like MIT's
// krb5_rd_cred it tries each key given (the initiator's subkey, then the
// ticket session key), since old initiators used the subkey.
func parseKRBCred(b []byte, keys ...types.EncryptionKey) (*Delegated, error) {
	var kc messages.KRBCred
	if err := kc.Unmarshal(b); err != nil {
		return nil, fmt.Errorf("%w: malformed KRB-CRED: %v", ErrDefectiveToken, err)
	}
	if len(kc.Tickets) != 1 {
		return nil, fmt.Errorf("gss: KRB-CRED carries %d tickets, want 1", len(kc.Tickets))
	}
	if _, err := checkEnctype(kc.EncPart.EType); err != nil {
		return nil, fmt.Errorf("gss: KRB-CRED: %w", err)
	}
	var err error
	for _, k := range keys {
		if len(k.KeyValue) == 0 || k.KeyType != kc.EncPart.EType {
			continue
		}
		if err = kc.DecryptEncPart(k); err == nil {
			break
		}
	}
	if err != nil || len(kc.DecryptedEncPart.TicketInfo) == 0 {
		return nil, fmt.Errorf("gss: KRB-CRED does not decrypt with the session key or subkey: %v", err)
	}
	if len(kc.DecryptedEncPart.TicketInfo) != 1 {
		return nil, fmt.Errorf("gss: KRB-CRED has %d ticket infos, want 1", len(kc.DecryptedEncPart.TicketInfo))
	}
	d := &Delegated{Ticket: kc.Tickets[0], Info: kc.DecryptedEncPart.TicketInfo[0]}
	if _, err := checkKey(d.Info.Key); err != nil {
		d.Wipe()
		return nil, fmt.Errorf("gss: forwarded ticket's key: %w", err)
	}
	return d, nil
}
