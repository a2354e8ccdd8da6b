package gss

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jcmturner/gokrb5/v8/iana"
	"github.com/jcmturner/gokrb5/v8/iana/flags"
	"github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"

	"github.com/csclub/ceo/wire/krb5/rcache"
)

// Acceptor accepts security contexts for a service, like
// gss_accept_sec_context with the service's keytab. An Acceptor is safe for
// concurrent use and may accept any number of contexts.
type Acceptor struct {
	// Keytab holds the service's keys, unless Keys is set.
	Keytab *keytab.Keytab
	// Keys, if not nil, supplies the keytab on each Accept instead of
	// Keytab, so that a rotated key is used at once (krb5.KeytabFile
	// rereads its file when it changes). Tickets are accepted for every
	// key version the keytab holds.
	Keys KeytabSource
	// Principal is the service principal without realm, e.g.
	// "ceod/localhost": tickets for any other service are refused. ""
	// accepts a ticket for any principal that has a key in Keytab.
	Principal string
	// Config supplies randomness, the clock and the allowed skew.
	Config Config
	// ReplayCache remembers the authenticators accepted, keyed on a
	// hash of their ciphertext as MIT does. Nil means one kept in
	// memory for this Acceptor; an rcache.Open one survives restarts.
	ReplayCache *rcache.Cache

	rcOnce sync.Once
	rc     *rcache.Cache

	serviceKeys serviceKeyCache

	// scratch is lent to the contexts it accepts: one pool for all
	// connections, so that an idle one holds none.
	scratch scratch
}

// KeytabSource supplies the current keytab.
type KeytabSource interface {
	Keytab() (*keytab.Keytab, error)
}

// KeytabRefresher is a KeytabSource whose Keytab may be a moment old
// (krb5.KeytabFile looks at its file at most once a second): Refresh
// looks at the source now. The acceptor calls it when a ticket needs a
// key that the keytab it got lacks or that does not decrypt the ticket,
// and then verifies the AP-REQ again with the refreshed keytab, so that
// a rotated key is used at once.
type KeytabRefresher interface {
	KeytabSource
	Refresh() (*keytab.Keytab, error)
}

// errServiceKey marks the failures that a newer keytab may cure: no key
// for the ticket, or a key that does not decrypt it.
var errServiceKey = errors.New("no key in the keytab decrypts the ticket")

func (a *Acceptor) keytab() (*keytab.Keytab, error) {
	if a.Keys != nil {
		return a.Keys.Keytab()
	}
	if a.Keytab == nil {
		return nil, errors.New("gss: acceptor has no keytab")
	}
	return a.Keytab, nil
}

func (a *Acceptor) replayCache() *rcache.Cache {
	if a.ReplayCache != nil {
		return a.ReplayCache
	}
	a.rcOnce.Do(func() { a.rc = rcache.New() })
	return a.rc
}

// Accept processes the initiator's first context token (a MSG_AUTH body):
// an RFC 1964 initial context token carrying an AP-REQ.
//
// It verifies the AP-REQ with gokrb5 (ticket decryption with the key of
// the ticket's kvno and enctype, ticket times, client name, clock skew;
// PACs are not decoded, since MIT 1.20 puts non-Microsoft PACs in
// tickets), checks the ticket is for Principal and uses a supported
// enctype, refuses unless the 0x8003 checksum requests mutual
// authentication, confidentiality and integrity (ErrContextFlags), and
// last records the authenticator in the replay cache, refusing one seen
// before (an error wrapping rcache.ErrReplay).
//
// On success it returns the established context and the AP-REP token
// (TOK_ID 02 00) to send back. The AP-REP carries a fresh acceptor subkey
// of the initiator subkey's enctype (else the session key's) and a random
// initial sequence number. Errors are safe to log but should not be sent
// to the peer verbatim.
func (a *Acceptor) Accept(token []byte) (ctx *Context, out []byte, err error) {
	defer recoverPanic(&err, "accepting context")
	if a == nil {
		return nil, nil, errors.New("gss: nil acceptor")
	}
	kt, err := a.keytab()
	if err != nil {
		return nil, nil, err
	}
	v, err := a.verify(kt, token)
	if r, ok := a.Keys.(KeytabRefresher); ok && errors.Is(err, errServiceKey) {
		// verify changes nothing before its last check (the replay
		// cache), which a request refused here never reached.
		if kt2, rerr := r.Refresh(); rerr == nil && kt2 != kt {
			v, err = a.verify(kt2, token)
		}
	}
	if err != nil {
		return nil, nil, err
	}
	req, gssFlags := v.req, v.flags
	var deleg *Delegated
	if gssFlags&flagDeleg != 0 {
		if deleg, err = delegated(req); err != nil {
			return nil, nil, err
		}
	}
	ctx, out, err = a.reply(v)
	if err != nil {
		deleg.Wipe()
		return nil, nil, err
	}
	ctx.delegated = deleg
	return ctx, out, nil
}

// delegated decrypts the KRB-CRED of a verified AP-REQ's checksum and
// checks it forwards a credential of the authenticated client.
func delegated(req *messages.APReq) (*Delegated, error) {
	b, err := delegField(req.Authenticator.Cksum)
	if err != nil || b == nil {
		return nil, err
	}
	tkt := &req.Ticket.DecryptedEncPart
	d, err := parseKRBCred(b, req.Authenticator.SubKey, tkt.Key)
	if err != nil {
		return nil, err
	}
	if !d.Info.PName.Equal(tkt.CName) || d.Info.PRealm != tkt.CRealm {
		d.Wipe()
		return nil, fmt.Errorf("gss: delegated credential is for %s, not the authenticated %s@%s", d.Client(), tkt.CName.PrincipalNameString(), tkt.CRealm)
	}
	return d, nil
}

// verify decodes and checks the AP-REQ and returns it, decrypted, with the
// context flags the initiator requested. The checks are those of gokrb5's
// APReq.Verify (which this replaces: its reflective decoding and per-call
// key derivation were most of an Accept's cost) and ours: the key for the
// ticket's service, realm, kvno and enctype; the ticket's integrity,
// flags, times and (absent) addresses; the authenticator's integrity,
// client, realm and time; the checksum's flags; the subkey; the replay
// cache.
func (a *Acceptor) verify(kt *keytab.Keytab, token []byte) (verified, error) {
	tokID, inner, err := decodeContextToken(token)
	if err != nil {
		return verified{}, err
	}
	if tokID != tokAPReq {
		return verified{}, fmt.Errorf("%w: context token has TOK_ID %04x, want an AP-REQ (0100)", ErrDefectiveToken, tokID)
	}
	req, err := decodeAPReq(inner)
	if err != nil {
		return verified{}, err
	}
	// The AP-REQ's framing (tags, lengths, the ticket's realm and name,
	// ap-options) is not covered by any checksum: accept only the one
	// DER encoding of what was decoded, as MIT's decoder is strict too.
	if !isCanonicalAPReq(inner, req) {
		return verified{}, fmt.Errorf("%w: AP-REQ is not in canonical DER", ErrDefectiveToken)
	}
	if err := a.precheck(req); err != nil {
		return verified{}, err
	}
	session, err := a.decryptTicket(kt, req)
	if err != nil {
		return verified{}, err
	}
	tkt := &req.Ticket.DecryptedEncPart
	auth := &req.Authenticator
	if auth.CRealm != tkt.CRealm {
		return verified{}, fmt.Errorf("gss: authenticator realm %q does not match ticket realm %q", auth.CRealm, tkt.CRealm)
	}
	cfg := &a.Config
	if err := checkTimes(cfg.now(), cfg.maxSkew(), tkt, auth); err != nil {
		return verified{}, err
	}
	if cfg.Now != nil {
		// gokrb5's Verify checked against the system clock as well.
		if err := checkTimes(time.Now(), cfg.maxSkew(), tkt, auth); err != nil {
			return verified{}, err
		}
	}
	gssFlags, err := parseGSSChecksum(auth.Cksum)
	if err != nil {
		return verified{}, err
	}
	if gssFlags&requiredFlags != requiredFlags {
		return verified{}, fmt.Errorf("%w (flags %#x)", ErrContextFlags, gssFlags)
	}
	if len(auth.SubKey.KeyValue) > 0 || auth.SubKey.KeyType != 0 {
		if _, err := checkKey(auth.SubKey); err != nil {
			return verified{}, fmt.Errorf("gss: initiator subkey: %w", err)
		}
	}
	// Last, so that only authentic, acceptable authenticators take
	// room: one is remembered until it is too old to pass checkTimes.
	ct := auth.CTime.Add(time.Duration(auth.Cusec) * time.Microsecond)
	if err := a.replayCache().Check(req.EncryptedAuthenticator.Cipher, ct.Add(cfg.maxSkew()), cfg.now()); err != nil {
		return verified{}, fmt.Errorf("gss: AP-REQ rejected: %w", err)
	}
	return verified{req: req, flags: gssFlags, session: session}, nil
}

// verified is an AP-REQ that passed verify: decrypted, the context flags
// it requested, and the deriver of its session key's keys.
type verified struct {
	req     *messages.APReq
	flags   uint32
	session deriver
}

// decryptTicket decrypts the ticket with the service key and the
// authenticator with the ticket's session key, fills in
// req.Ticket.DecryptedEncPart and req.Authenticator, and checks what
// only needs those two: the session key, the ticket's flags and
// addresses, the authenticator's client. It returns the session key's
// deriver, for the AP-REP's keys.
func (a *Acceptor) decryptTicket(kt *keytab.Keytab, req *messages.APReq) (deriver, error) {
	tkt := &req.Ticket
	sname := tkt.SName
	if a.Principal != "" {
		sname, _ = types.ParseSPNString(a.Principal)
	}
	key, _, err := kt.GetEncryptionKey(sname, tkt.Realm, tkt.EncPart.KVNO, tkt.EncPart.EType)
	if err != nil {
		return deriver{}, fmt.Errorf("gss: AP-REQ rejected: %w: %w", errServiceKey, err)
	}
	et, err := checkKey(key)
	if err != nil {
		return deriver{}, fmt.Errorf("gss: AP-REQ rejected: service key: %w", err)
	}
	tk, err := a.serviceKeys.get(kt, et, key)
	if err != nil {
		return deriver{}, err
	}
	pt, err := decryptWith(et, tk, &a.scratch.macs, tkt.EncPart.Cipher)
	if err != nil {
		return deriver{}, fmt.Errorf("gss: AP-REQ rejected: %w: %w", errServiceKey, err)
	}
	etp, err := decodeEncTicketPart(pt)
	if err != nil {
		return deriver{}, fmt.Errorf("gss: AP-REQ rejected: %w", err)
	}
	set, err := checkKey(etp.Key)
	if err != nil {
		return deriver{}, fmt.Errorf("gss: ticket session key: %w", err)
	}
	if types.IsFlagSet(&etp.Flags, flags.Invalid) {
		return deriver{}, errors.New("gss: ticket not yet valid: its invalid flag is set")
	}
	// gokrb5 required the acceptor's address among the ticket's and was
	// given none: a ticket bound to addresses is refused.
	if etp.addresses > 0 {
		return deriver{}, errors.New("gss: AP-REQ rejected: the ticket is bound to client addresses")
	}
	if req.EncryptedAuthenticator.EType != etp.Key.KeyType {
		return deriver{}, fmt.Errorf("gss: AP-REQ rejected: authenticator enctype %d is not the session key's %d", req.EncryptedAuthenticator.EType, etp.Key.KeyType)
	}
	usage := authenticatorUsage(tkt.SName)
	sd, err := newDeriver(set, etp.Key.KeyValue)
	if err != nil {
		return deriver{}, err
	}
	ak, err := sd.usageKeys(usage, false)
	if err != nil {
		return deriver{}, err
	}
	apt, err := decryptWith(set, &ak, &a.scratch.macs, req.EncryptedAuthenticator.Cipher)
	if err != nil {
		return deriver{}, fmt.Errorf("gss: AP-REQ rejected: the authenticator does not decrypt with the session key: %w", err)
	}
	auth, err := decodeAuthenticator(apt)
	if err != nil {
		return deriver{}, fmt.Errorf("gss: AP-REQ rejected: %w", err)
	}
	if !auth.CName.Equal(etp.CName) {
		return deriver{}, errors.New("gss: AP-REQ rejected: the authenticator's client does not match the ticket's")
	}
	tkt.DecryptedEncPart = etp.EncTicketPart
	req.Authenticator = auth
	return sd, nil
}

// reply makes the acceptor's half of the context and the AP-REP for a
// verified AP-REQ.
func (a *Acceptor) reply(v verified) (*Context, []byte, error) {
	req, gssFlags := v.req, v.flags
	tkt := &req.Ticket.DecryptedEncPart
	auth := &req.Authenticator
	recvSeq, err := seqFromASN1(auth.SeqNumber)
	if err != nil {
		return nil, nil, err
	}
	subkeyType := tkt.Key.KeyType
	if len(auth.SubKey.KeyValue) > 0 {
		subkeyType = auth.SubKey.KeyType
	}
	cfg := &a.Config
	subkey, err := newKey(cfg.rand(), subkeyType)
	if err != nil {
		return nil, nil, err
	}
	et, err := checkKey(subkey)
	if err != nil {
		return nil, nil, err
	}
	sendSeq, err := randomSeq(cfg.rand())
	if err != nil {
		return nil, nil, err
	}
	rep, err := marshalAPRep(messages.EncAPRepPart{
		CTime:          auth.CTime,
		Cusec:          auth.Cusec,
		Subkey:         subkey,
		SequenceNumber: int64(sendSeq),
	}, tkt.Key, v.session, &a.scratch.macs)
	if err != nil {
		return nil, nil, err
	}
	peer := tkt.CName.PrincipalNameString() + "@" + tkt.CRealm
	ctx := newContext(false, subkey, et, true, peer, gssFlags, sendSeq, recvSeq)
	ctx.scratch = &a.scratch
	// Both directions' keys now, from one deriver: a served connection
	// uses both.
	d, err := newDeriver(et, subkey.KeyValue)
	if err != nil {
		return nil, nil, err
	}
	for _, dir := range []struct {
		l     *lazyKeys
		usage uint32
	}{{&ctx.sendKeys, sealUsage(false)}, {&ctx.recvKeys, sealUsage(true)}} {
		k, err := d.usageKeys(dir.usage, true)
		if err != nil {
			return nil, nil, err
		}
		dir.l.set(k)
	}
	return ctx, rep, nil
}

// precheck refuses, before gokrb5 sees them, AP-REQs that gokrb5 would
// mishandle (it indexes the service name and slices ciphertexts without
// checking lengths) or that this package cannot serve.
func (a *Acceptor) precheck(req *messages.APReq) error {
	if req.PVNO != iana.PVNO || req.Ticket.TktVNO != iana.PVNO {
		return fmt.Errorf("%w: AP-REQ protocol version %d, ticket version %d", ErrDefectiveToken, req.PVNO, req.Ticket.TktVNO)
	}
	sname := req.Ticket.SName.NameString
	if len(sname) == 0 || slicesContainsEmpty(sname) {
		return fmt.Errorf("%w: ticket has an empty service name", ErrDefectiveToken)
	}
	if a.Principal != "" {
		want, _ := types.ParseSPNString(a.Principal)
		if strings.Join(sname, "/") != strings.Join(want.NameString, "/") {
			return fmt.Errorf("gss: ticket is for %s, not %s", strings.Join(sname, "/"), a.Principal)
		}
	}
	et, err := checkEnctype(req.Ticket.EncPart.EType)
	if err != nil {
		return fmt.Errorf("gss: ticket: %w", err)
	}
	if len(req.Ticket.EncPart.Cipher) < minCiphertext(et) {
		return fmt.Errorf("%w: ticket ciphertext too short", ErrDefectiveToken)
	}
	aet, err := checkEnctype(req.EncryptedAuthenticator.EType)
	if err != nil {
		return fmt.Errorf("gss: authenticator: %w", err)
	}
	if len(req.EncryptedAuthenticator.Cipher) < minCiphertext(aet) {
		return fmt.Errorf("%w: authenticator ciphertext too short", ErrDefectiveToken)
	}
	if req.APOptions.BitLength != 32 {
		return fmt.Errorf("%w: ap-options of %d bits, want 32", ErrDefectiveToken, req.APOptions.BitLength)
	}
	if types.IsFlagSet(&req.APOptions, flags.APOptionUseSessionKey) {
		return errors.New("gss: user-to-user AP-REQ (use-session-key) is not supported")
	}
	return nil
}

func slicesContainsEmpty(s []string) bool {
	for _, v := range s {
		if v == "" {
			return true
		}
	}
	return false
}

// checkTimes checks the authenticator is within the skew of now and the
// ticket has started and not expired.
func checkTimes(now time.Time, skew time.Duration, tkt *messages.EncTicketPart, auth *types.Authenticator) error {
	ct := auth.CTime.Add(time.Duration(auth.Cusec) * time.Microsecond)
	if d := now.Sub(ct); d > skew || d < -skew {
		return fmt.Errorf("gss: clock skew too large: authenticator time %s is %s away from ours (allowed %s)", ct.UTC().Format("2006-01-02T15:04:05.000000Z"), d.Round(1e6), skew)
	}
	start := tkt.StartTime
	if start.IsZero() { // RFC 4120: no starttime means authtime
		start = tkt.AuthTime
	}
	if start.Sub(now) > skew {
		return fmt.Errorf("gss: ticket not yet valid: it starts at %s", start.UTC().Format("2006-01-02T15:04:05Z"))
	}
	if now.Sub(tkt.EndTime) > skew {
		return fmt.Errorf("gss: ticket expired at %s", tkt.EndTime.UTC().Format("2006-01-02T15:04:05Z"))
	}
	return nil
}
