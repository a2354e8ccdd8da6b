package gss

import (
	"errors"
	"fmt"

	"github.com/jcmturner/gokrb5/v8/iana/errorcode"
)

var (
	// ErrIntegrity is returned, unwrapped and without detail, by Unwrap for
	// every token that fails decryption, its checksum or its
	// encrypted-header comparison, so that failures give an attacker no
	// oracle.
	ErrIntegrity = errors.New("gss: token failed integrity check")
	// ErrDefectiveToken reports a token whose structure is wrong before any
	// cryptography is applied: length, token ID, filler, flags, direction.
	// It is wrapped with the reason.
	ErrDefectiveToken = errors.New("gss: defective token")
	// ErrSequence reports an authentic per-message token that is a replay
	// or arrives out of order; the protocol is strictly sequential. It is
	// wrapped with the sequence numbers.
	ErrSequence = errors.New("gss: token out of sequence")
	// ErrNotSealed reports an integrity-only wrap token (conf=0) where
	// UnwrapSealed requires confidentiality.
	ErrNotSealed = errors.New("gss: confidentiality service required: wrap token is integrity-only")
	// ErrContextFlags reports an initiator that did not request mutual
	// authentication, confidentiality and integrity.
	ErrContextFlags = errors.New("gss: initiator did not request mutual authentication, confidentiality and integrity")

	// errRecovered marks an error made from a panic inside gokrb5 or
	// gofork; fuzz tests fail when they see it.
	errRecovered = errors.New("gss: internal error decoding token")
)

// KRBError is a KRB-ERROR context token (TOK_ID 03 00) received instead of
// an AP-REP: the acceptor refused the AP-REQ.
type KRBError struct {
	Code int32  // RFC 4120 error code, e.g. 37 for KRB_AP_ERR_SKEW
	Text string // the peer's e-text, possibly empty; not trustworthy
}

// Error names the code and quotes the peer's text.
func (e *KRBError) Error() string {
	s := "gss: acceptor refused the context: " + errorcode.Lookup(e.Code)
	if e.Text != "" {
		s += fmt.Sprintf(": %q", e.Text)
	}
	return s
}

// recoverPanic, deferred directly, turns a panic in third-party decoding
// code into an error wrapping errRecovered.
func recoverPanic(errp *error, what string) {
	if r := recover(); r != nil {
		*errp = fmt.Errorf("%w: %s: %v", errRecovered, what, r)
	}
}
