package ops

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"

	"github.com/csclub/ceo/wire/ceopb"
)

// The legacy ceo status codes, beside the errno values (EPERM, EINVAL,
// ...) a StatusMessage may carry.
const (
	EKERB  int32 = -2 // Kerberos (kadmin) failure
	ELDAP  int32 = -3 // directory failure
	EHOME  int32 = -4 // home directory failure
	EQUOTA int32 = -5 // quota failure
)

// Status returns one line of a legacy reply: status 0 for success, else
// an errno (EPERM, EINVAL, ...) or a legacy negative code, and the text
// the client prints. The text goes through Sanitize: it often echoes a
// name from the request, which must not put a line break or a terminal
// escape on the client's screen.
func Status(code int32, format string, args ...any) *ceopb.StatusMessage {
	return &ceopb.StatusMessage{Status: proto.Int32(code), Message: proto.String(Sanitize(fmt.Sprintf(format, args...)))}
}

// Sanitize returns s with every control character and invalid UTF-8
// byte written as a Go escape (\n, \x1b, \xff), so that text taken from a
// request can be echoed in a reply as one harmless line.
func Sanitize(s string) string {
	if isClean(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case unicode.IsControl(r):
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

func isClean(s string) bool {
	for _, r := range s {
		if r == utf8.RuneError || unicode.IsControl(r) {
			return false
		}
	}
	return true
}

// StepError names the step of a multi-statement op that failed, without
// the statement itself, which may hold a password or its hash.
type StepError struct {
	Step string
	Err  error
}

func (e *StepError) Error() string { return e.Step + ": " + e.Err.Error() }
func (e *StepError) Unwrap() error { return e.Err }
