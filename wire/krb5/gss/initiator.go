package gss

import (
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/jcmturner/gokrb5/v8/client"
	"github.com/jcmturner/gokrb5/v8/iana"
	"github.com/jcmturner/gokrb5/v8/iana/flags"
	"github.com/jcmturner/gokrb5/v8/iana/keyusage"
	"github.com/jcmturner/gokrb5/v8/iana/msgtype"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"
)

// Initiator is the client side of a context being established. It is not
// safe for concurrent use.
type Initiator struct {
	cfg        Config
	sessionKey types.EncryptionKey
	subkey     types.EncryptionKey // our authenticator subkey
	seq        uint64              // our initial sequence number
	ctime      time.Time           // authenticator ctime and cusec, which
	cusec      int                 // the AP-REP must echo
	target     string
	done       bool
}

// NewInitiator gets a service ticket for spn ("ceod/host", realm from
// [domain_realm] or the client's) with cl and returns the initiator and
// its first context token: an RFC 1964 initial context token carrying an
// AP-REQ with the mutual-required ap-option and an authenticator holding
// the 0x8003 checksum (MUTUAL|REPLAY|SEQUENCE|CONF|INTEG), a fresh subkey
// of the session key's enctype and a random sequence number. Send the token
// to the acceptor and pass its answer to Step.
func NewInitiator(cl *client.Client, spn string, cfg Config) (*Initiator, []byte, error) {
	if cl == nil || cl.Credentials == nil {
		return nil, nil, errors.New("gss: nil client")
	}
	tkt, key, err := cl.GetServiceTicket(spn)
	if err != nil {
		return nil, nil, fmt.Errorf("gss: getting a ticket for %s: %w", spn, err)
	}
	return newInitiatorFromTicket(cl.Credentials.CName(), cl.Credentials.Domain(), tkt, key, cfg, initOptions{})
}

// initOptions vary the AP-REQ; the zero value is what NewInitiator sends.
type initOptions struct {
	gssFlags  uint32     // 0 means initiatorFlags
	apOptions []int      // added to mutual-required
	noSubkey  bool       // send no authenticator subkey
	noCksum   bool       // send no 0x8003 checksum
	deleg     *Delegated // forwarded in the checksum, GSS_C_DELEG_FLAG
}

// newInitiatorFromTicket builds the AP-REQ from a ticket and its session
// key, however they were obtained (NewInitiator asks the KDC; tests make
// tickets themselves).
func newInitiatorFromTicket(cname types.PrincipalName, crealm string, tkt messages.Ticket, sessionKey types.EncryptionKey, cfg Config, opts initOptions) (*Initiator, []byte, error) {
	if len(tkt.SName.NameString) == 0 || slicesContainsEmpty(tkt.SName.NameString) {
		return nil, nil, errors.New("gss: ticket has an empty service name")
	}
	if _, err := checkKey(sessionKey); err != nil {
		return nil, nil, fmt.Errorf("gss: session key for %s: %w", tkt.SName.PrincipalNameString(), err)
	}
	subkey, err := newKey(cfg.rand(), sessionKey.KeyType)
	if err != nil {
		return nil, nil, err
	}
	seq, err := randomSeq(cfg.rand())
	if err != nil {
		return nil, nil, err
	}
	now := cfg.authenticatorTime()
	ctime := now.Truncate(time.Second) // KerberosTime has whole seconds
	cusec := now.Nanosecond() / 1000
	auth := types.Authenticator{
		AVNO:      iana.PVNO,
		CRealm:    crealm,
		CName:     cname,
		Cksum:     gssChecksum(initiatorFlags),
		Cusec:     cusec,
		CTime:     ctime,
		SubKey:    subkey,
		SeqNumber: int64(seq),
	}
	if opts.gssFlags != 0 {
		auth.Cksum = gssChecksum(opts.gssFlags)
	}
	if opts.deleg != nil {
		cred, err := marshalKRBCred(opts.deleg, sessionKey)
		if err != nil {
			return nil, nil, err
		}
		if auth.Cksum, err = gssChecksumDeleg(initiatorFlags, cred); err != nil {
			return nil, nil, err
		}
	}
	if opts.noCksum {
		auth.Cksum = types.Checksum{}
	}
	if opts.noSubkey {
		auth.SubKey = types.EncryptionKey{}
		subkey = sessionKey // RFC 4121: without subkeys, the session key
	}
	req, err := newAPReq(tkt, sessionKey, auth)
	if err != nil {
		return nil, nil, fmt.Errorf("gss: building AP-REQ: %w", err)
	}
	types.SetFlag(&req.APOptions, flags.APOptionMutualRequired)
	for _, o := range opts.apOptions {
		types.SetFlag(&req.APOptions, o)
	}
	b, err := req.Marshal()
	if err != nil {
		return nil, nil, fmt.Errorf("gss: encoding AP-REQ: %w", err)
	}
	i := &Initiator{
		cfg:        cfg,
		sessionKey: sessionKey,
		subkey:     subkey,
		seq:        seq,
		ctime:      ctime,
		cusec:      cusec,
		target:     tkt.SName.PrincipalNameString() + "@" + tkt.Realm,
	}
	return i, encodeContextToken(tokAPReq, b), nil
}

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

// Step processes the acceptor's answer and returns the established
// context. The answer must be an AP-REP context token (TOK_ID 02 00) that
// decrypts with the session key and echoes our authenticator's ctime and
// cusec (mutual authentication); the context then uses the acceptor's
// subkey and initial sequence number, or our subkey if it sent none. A
// KRB-ERROR token (03 00) gives a *KRBError.
//
// A failed Step changes nothing; once one succeeds, further calls fail.
func (i *Initiator) Step(token []byte) (ctx *Context, err error) {
	defer recoverPanic(&err, "processing AP-REP")
	if i.done {
		return nil, errors.New("gss: context already established")
	}
	tokID, inner, err := decodeContextToken(token)
	if err != nil {
		return nil, err
	}
	switch tokID {
	case tokAPRep:
	case tokKRBError:
		var ke messages.KRBError
		if err := ke.Unmarshal(inner); err != nil {
			return nil, fmt.Errorf("%w: malformed KRB-ERROR: %v", ErrDefectiveToken, err)
		}
		return nil, &KRBError{Code: ke.ErrorCode, Text: ke.EText}
	default:
		return nil, fmt.Errorf("%w: context token has TOK_ID %04x, want an AP-REP (0200)", ErrDefectiveToken, tokID)
	}
	enc, err := openAPRep(inner, i.sessionKey)
	if err != nil {
		return nil, err
	}
	if !enc.CTime.Equal(i.ctime) || enc.Cusec != i.cusec {
		return nil, errors.New("gss: AP-REP does not echo our authenticator's time (mutual authentication failed)")
	}
	recvSeq, err := seqFromASN1(enc.SequenceNumber)
	if err != nil {
		return nil, err
	}
	key, acceptorSubkey := i.subkey, false
	if len(enc.Subkey.KeyValue) > 0 || enc.Subkey.KeyType != 0 {
		key, acceptorSubkey = enc.Subkey, true
	}
	et, err := checkKey(key)
	if err != nil {
		return nil, fmt.Errorf("gss: acceptor subkey: %w", err)
	}
	i.done = true
	sc := newContext(true, key, et, acceptorSubkey, i.target, initiatorFlags, i.seq, recvSeq)
	// A client has few contexts, each used by one caller at a time: its
	// own pool costs little and needs no owner to share it.
	sc.scratch = new(scratch)
	return sc, nil
}

// Stamps hands out authenticator times for the initiators that share
// it. The zero value is ready to use; share one per process (ceoc's
// Client holds one), as MIT keeps one per krb5 context.
type Stamps struct {
	// last is the last time handed out, in microseconds since the Unix
	// epoch.
	last atomic.Int64
}

// stampSlack is how far the clock may read behind the last authenticator
// time and still be bumped past it. A clock further behind was stepped
// back, or is a Config.Now that is deliberately off; its time is used as
// is, as MIT does, rather than stamping every later authenticator that
// far ahead of the clock.
const stampSlack = time.Second

// next returns now, in UTC and whole microseconds, but strictly later
// than every earlier result within stampSlack of it: two initiators
// started in the same microsecond, or from a coarse or fixed clock, get
// distinct authenticator times (ctime, cusec), so an acceptor whose
// replay cache keys on the client and that time (gokrb5's does) does not
// refuse the second as a replay. Like MIT's krb5_us_timeofday it bumps a
// repeated time by one microsecond.
func (st *Stamps) next(now time.Time) time.Time {
	t := now.UnixMicro()
	for {
		last := st.last.Load()
		s := t
		if s <= last && last-s <= stampSlack.Microseconds() {
			s = last + 1
		}
		if st.last.CompareAndSwap(last, s) {
			return time.UnixMicro(s).UTC()
		}
	}
}
