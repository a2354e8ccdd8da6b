package gss

import (
	"bytes"
	"fmt"
)

// Context token IDs (RFC 4121 section 4.1).
const (
	tokAPReq    uint16 = 0x0100
	tokAPRep    uint16 = 0x0200
	tokKRBError uint16 = 0x0300
)

// krb5OID is the DER encoding (tag, length, value) of the Kerberos 5 mech
// OID 1.2.840.113554.1.2.2.
var krb5OID = []byte{0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02}

// maxContextToken bounds the length a context token may claim. Real ones
// are a few kilobytes (a ticket with a PAC); frames are at most 64 KiB.
const maxContextToken = 1 << 20

// encodeContextToken frames a context token (RFC 2743 section 3.1):
// [APPLICATION 0] { mech OID, TOK_ID, inner token }.
func encodeContextToken(tokID uint16, inner []byte) []byte {
	n := len(krb5OID) + 2 + len(inner)
	out := make([]byte, 0, 6+n)
	out = append(out, 0x60)
	out = appendDERLength(out, n)
	out = append(out, krb5OID...)
	out = append(out, byte(tokID>>8), byte(tokID))
	return append(out, inner...)
}

func appendDERLength(b []byte, n int) []byte {
	switch {
	case n < 0x80:
		return append(b, byte(n))
	case n <= 0xff:
		return append(b, 0x81, byte(n))
	case n <= 0xffff:
		return append(b, 0x82, byte(n>>8), byte(n))
	case n <= 0xffffff:
		return append(b, 0x83, byte(n>>16), byte(n>>8), byte(n))
	default:
		return append(b, 0x84, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
}

// decodeContextToken checks the RFC 2743 framing and the Kerberos 5 OID
// and returns the TOK_ID and the inner token. The framing's length must
// cover the rest of the token exactly.
func decodeContextToken(tok []byte) (tokID uint16, inner []byte, err error) {
	if len(tok) < 2 || tok[0] != 0x60 {
		return 0, nil, fmt.Errorf("%w: not a GSS-API initial context token", ErrDefectiveToken)
	}
	n, rest, ok := parseDERLength(tok[1:])
	if !ok {
		return 0, nil, fmt.Errorf("%w: bad context token length", ErrDefectiveToken)
	}
	if n != len(rest) {
		return 0, nil, fmt.Errorf("%w: context token claims %d bytes, has %d", ErrDefectiveToken, n, len(rest))
	}
	if !bytes.HasPrefix(rest, krb5OID) {
		return 0, nil, fmt.Errorf("%w: mechanism is not Kerberos 5 (1.2.840.113554.1.2.2)", ErrDefectiveToken)
	}
	rest = rest[len(krb5OID):]
	if len(rest) < 2 {
		return 0, nil, fmt.Errorf("%w: context token has no TOK_ID", ErrDefectiveToken)
	}
	return uint16(rest[0])<<8 | uint16(rest[1]), rest[2:], nil
}

// parseDERLength reads a definite DER length of at most 4 octets, in
// its one DER encoding: the short form below 0x80, else the fewest
// octets.
func parseDERLength(b []byte) (n int, rest []byte, ok bool) {
	if len(b) == 0 {
		return 0, nil, false
	}
	if b[0] < 0x80 {
		return int(b[0]), b[1:], true
	}
	k := int(b[0] & 0x7f)
	if k == 0 || k > 4 || len(b) < 1+k {
		return 0, nil, false
	}
	if b[1] == 0 || (k == 1 && b[1] < 0x80) {
		return 0, nil, false // not the shortest encoding
	}
	for _, c := range b[1 : 1+k] {
		n = n<<8 | int(c)
	}
	if n > maxContextToken {
		return 0, nil, false
	}
	return n, b[1+k:], true
}
