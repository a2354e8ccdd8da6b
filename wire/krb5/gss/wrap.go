package gss

import (
	"bytes"
	"crypto/subtle"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
)

// RFC 4121 section 4.2.6.2 wrap token header.
const (
	wrapHeaderLen = 16
	wrapTokID0    = 0x05
	wrapTokID1    = 0x04
	wrapFiller    = 0xff

	flagSentByAcceptor = 0x01
	flagSealed         = 0x02
	flagAcceptorSubkey = 0x04
	knownWrapFlags     = flagSentByAcceptor | flagSealed | flagAcceptorSubkey
)

// header returns a wrap token header with the given flag, EC and RRC.
func (c *Context) header(sealed bool, ec, rrc uint16, seq uint64) []byte {
	return c.appendHeader(make([]byte, 0, wrapHeaderLen), sealed, ec, rrc, seq)
}

// appendHeader appends a wrap token header to dst.
func (c *Context) appendHeader(dst []byte, sealed bool, ec, rrc uint16, seq uint64) []byte {
	var h [wrapHeaderLen]byte
	h[0], h[1], h[3] = wrapTokID0, wrapTokID1, wrapFiller
	if !c.initiator {
		h[2] |= flagSentByAcceptor
	}
	if sealed {
		h[2] |= flagSealed
	}
	if c.acceptorSubkey {
		h[2] |= flagAcceptorSubkey
	}
	binary.BigEndian.PutUint16(h[4:6], ec)
	binary.BigEndian.PutUint16(h[6:8], rrc)
	binary.BigEndian.PutUint64(h[8:16], seq)
	return append(dst, h[:]...)
}

// nextSendSeq reserves the sequence number of the next outgoing token.
func (c *Context) nextSendSeq() (uint64, error) {
	c.sendMu.Lock()
	defer c.sendMu.Unlock()
	if c.sendSeq == math.MaxUint64 {
		return 0, fmt.Errorf("gss: sequence numbers exhausted")
	}
	s := c.sendSeq
	c.sendSeq++
	return s, nil
}

// nextSend returns the keys and reserves the sequence number of the next
// outgoing token.
func (c *Context) nextSend() (*usageKeys, uint64, error) {
	keys, err := c.sendUsageKeys()
	if err != nil {
		return nil, 0, err
	}
	seq, err := c.nextSendSeq()
	return keys, seq, err
}

// Wrap seals msg into an RFC 4121 wrap token with confidentiality, laid
// out as MIT lays it out: EC = 0, RRC = 0, encrypted part = msg || header.
// With aes-sha1 the token is 60 bytes longer than msg.
func (c *Context) Wrap(msg []byte) ([]byte, error) {
	return c.WrapAppend(make([]byte, 0, c.WrapSize(len(msg))), msg)
}

// WrapSize returns the length of the sealed token of an n-byte message.
func (c *Context) WrapSize(n int) int {
	return wrapHeaderLen + c.et.GetConfounderByteSize() + n + wrapHeaderLen + c.et.GetHMACBitLength()/8
}

// WrapAppend is Wrap appending the token to dst; with WrapSize bytes
// of spare capacity in dst it allocates nothing.
func (c *Context) WrapAppend(dst, msg []byte) ([]byte, error) {
	keys, seq, err := c.nextSend()
	if err != nil {
		return nil, err
	}
	var h [wrapHeaderLen]byte
	c.appendHeader(h[:0], true, 0, 0, seq)
	out, err := sealAppend(append(dst, h[:]...), c.et, keys, c.scratch.macPools(), msg, h[:]) // msg || header copy
	if err != nil {
		return nil, fmt.Errorf("gss: sealing: %w", err)
	}
	return out, nil
}

// WrapIntegrity wraps msg into an RFC 4121 wrap token with integrity
// only, as MIT does for gss_wrap with conf_req_flag = 0: EC = checksum
// length, RRC = 0, msg in clear followed by the checksum. SASL GSSAPI
// (RFC 4752) uses it for its security-layer negotiation.
func (c *Context) WrapIntegrity(msg []byte) ([]byte, error) {
	keys, seq, err := c.nextSend()
	if err != nil {
		return nil, err
	}
	cksum := c.checksum(keys, msg, c.header(false, 0, 0, seq))
	tok := c.header(false, uint16(len(cksum)), 0, seq)
	tok = append(tok, msg...)
	return append(tok, cksum...), nil
}

// checksum computes the integrity-only wrap checksum, keyed with Kc of
// the sender's usage, over msg followed by the header with EC and RRC
// zeroed (RFC 4121 section 4.2.4).
func (c *Context) checksum(keys *usageKeys, msg, zeroedHeader []byte) []byte {
	return mac(c.et, c.scratch.macPools(), keys.kc, msg, zeroedHeader)
}

// Unwrap opens a wrap token from the peer, sealed or integrity-only, and
// returns the message. It honours any RRC (rotation) and EC (filler or
// checksum length), and requires the peer's direction flag, the
// AcceptorSubkey flag matching the context's key, and the next sequence
// number in order. tok is left as it is: the message is opened in a copy.
//
// A structurally bad token gives an error wrapping ErrDefectiveToken; any
// cryptographic failure gives ErrIntegrity itself; an authentic token that
// is replayed or early gives an error wrapping ErrSequence. A failed
// Unwrap changes nothing: the next token is still expected.
func (c *Context) Unwrap(tok []byte) ([]byte, error) {
	return c.unwrapInPlace(bytes.Clone(tok))
}

// UnwrapSealed is Unwrap for peers that must seal every message, like
// the legacy ceod and ceoc (gss_unwrap and then "confidentiality service
// required" unless conf_state is 1): an integrity-only token gives an
// error wrapping ErrNotSealed, checked before any cryptography, and
// changes nothing.
func (c *Context) UnwrapSealed(tok []byte) ([]byte, error) {
	if err := checkSealed(tok); err != nil {
		return nil, err
	}
	return c.Unwrap(tok)
}

// UnwrapSealedInPlace is UnwrapSealed opening tok where it is, which
// saves a copy of every message: it overwrites tok, even when it fails,
// and the message it returns is a part of tok. For a token read only to
// be opened, like the body of an op frame.
func (c *Context) UnwrapSealedInPlace(tok []byte) ([]byte, error) {
	if err := checkSealed(tok); err != nil {
		return nil, err
	}
	return c.unwrapInPlace(tok)
}

// checkSealed refuses an integrity-only wrap token; anything else is
// left to unwrapInPlace's checks.
func checkSealed(tok []byte) error {
	if len(tok) >= wrapHeaderLen && tok[0] == wrapTokID0 && tok[1] == wrapTokID1 && tok[2]&flagSealed == 0 {
		return ErrNotSealed
	}
	return nil
}

// unwrapInPlace is Unwrap without the copy: it unrotates and decrypts
// tok where it is.
func (c *Context) unwrapInPlace(tok []byte) ([]byte, error) {
	if len(tok) < wrapHeaderLen {
		return nil, fmt.Errorf("%w: wrap token of %d bytes is shorter than its header", ErrDefectiveToken, len(tok))
	}
	if tok[0] != wrapTokID0 || tok[1] != wrapTokID1 {
		return nil, fmt.Errorf("%w: TOK_ID %02x %02x is not a wrap token (05 04)", ErrDefectiveToken, tok[0], tok[1])
	}
	if tok[3] != wrapFiller {
		return nil, fmt.Errorf("%w: wrap token filler is %#02x, want 0xff", ErrDefectiveToken, tok[3])
	}
	flags := tok[2]
	if flags&^knownWrapFlags != 0 {
		return nil, fmt.Errorf("%w: unknown wrap token flags %#02x", ErrDefectiveToken, flags)
	}
	if fromAcceptor := flags&flagSentByAcceptor != 0; fromAcceptor != c.initiator {
		return nil, fmt.Errorf("%w: wrap token direction flag says it was sent by this side (reflected token)", ErrDefectiveToken)
	}
	if hasSubkeyFlag := flags&flagAcceptorSubkey != 0; hasSubkeyFlag != c.acceptorSubkey {
		return nil, fmt.Errorf("%w: wrap token AcceptorSubkey flag does not match the context key", ErrDefectiveToken)
	}
	ec := binary.BigEndian.Uint16(tok[4:6])
	rrc := binary.BigEndian.Uint16(tok[6:8])
	seq := binary.BigEndian.Uint64(tok[8:16])
	body := rotateLeft(tok[wrapHeaderLen:], int(rrc))

	c.recvMu.Lock()
	defer c.recvMu.Unlock()
	var msg []byte
	var err error
	if flags&flagSealed != 0 {
		msg, err = c.openSealed(tok[:wrapHeaderLen], body, int(ec))
	} else {
		msg, err = c.openIntegrity(tok[:wrapHeaderLen], body, int(ec))
	}
	if err != nil {
		return nil, err
	}
	switch {
	case seq < c.recvSeq:
		return nil, fmt.Errorf("%w: replayed token (sequence %d, expected %d)", ErrSequence, seq, c.recvSeq)
	case seq > c.recvSeq:
		return nil, fmt.Errorf("%w: token from the future (sequence %d, expected %d): one was lost or reordered", ErrSequence, seq, c.recvSeq)
	}
	c.recvSeq++
	return msg, nil
}

// openSealed decrypts an unrotated sealed body, E(msg || EC filler ||
// header copy), in place.
func (c *Context) openSealed(hdr, body []byte, ec int) ([]byte, error) {
	if len(body) < minCiphertext(c.et)+wrapHeaderLen {
		return nil, fmt.Errorf("%w: sealed wrap token of %d bytes is too short", ErrDefectiveToken, wrapHeaderLen+len(body))
	}
	keys, err := c.recvUsageKeys()
	if err != nil {
		return nil, err
	}
	pt, err := openInPlace(c.et, keys, c.scratch.macPools(), body)
	if err != nil || len(pt) < wrapHeaderLen+ec {
		return nil, ErrIntegrity
	}
	// The encrypted header copy must match the token header, except RRC,
	// which the sender sets after encrypting (MIT ignores it too).
	cp := pt[len(pt)-wrapHeaderLen:]
	if subtle.ConstantTimeCompare(cp[0:6], hdr[0:6])&subtle.ConstantTimeCompare(cp[8:16], hdr[8:16]) != 1 {
		return nil, ErrIntegrity
	}
	return pt[:len(pt)-wrapHeaderLen-ec], nil
}

// openIntegrity checks an unrotated integrity-only body: msg || checksum,
// where EC must be the checksum length.
func (c *Context) openIntegrity(hdr, body []byte, ec int) ([]byte, error) {
	n := c.et.GetHMACBitLength() / 8
	if ec != n {
		return nil, fmt.Errorf("%w: integrity-only wrap token has EC %d, want the checksum length %d", ErrDefectiveToken, ec, n)
	}
	if len(body) < n {
		return nil, fmt.Errorf("%w: integrity-only wrap token of %d bytes is too short", ErrDefectiveToken, wrapHeaderLen+len(body))
	}
	zeroed := append([]byte(nil), hdr...)
	clear(zeroed[4:8]) // EC and RRC are zero in the checksummed header
	msg := body[:len(body)-n]
	keys, err := c.recvUsageKeys()
	if err != nil {
		return nil, err
	}
	want := c.checksum(keys, msg, zeroed)
	if subtle.ConstantTimeCompare(want, body[len(body)-n:]) != 1 {
		return nil, ErrIntegrity
	}
	return msg, nil
}

// rotateLeft rotates b left by n bytes in place, undoing the sender's
// right rotation by RRC (RFC 4121 section 4.2.5), and returns it. Three
// reversals: no scratch space, and nothing to do for RRC 0, the usual.
func rotateLeft(b []byte, n int) []byte {
	if len(b) == 0 {
		return b
	}
	if n %= len(b); n == 0 {
		return b
	}
	slices.Reverse(b[:n])
	slices.Reverse(b[n:])
	slices.Reverse(b)
	return b
}
