package ops

import (
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/csclub/ceo/wire/ceopb"
)

// Status returns one line of a legacy reply: status 0 for success, else
// an errno (EPERM, EINVAL, ...) or a legacy negative code, and the text
// the client prints.
func Status(code int32, format string, args ...any) *ceopb.StatusMessage {
	return &ceopb.StatusMessage{Status: proto.Int32(code), Message: proto.String(fmt.Sprintf(format, args...))}
}

// StepError names the step of a multi-statement op that failed, without
// the statement itself, which may hold a password or its hash.
type StepError struct {
	Step string
	Err  error
}

func (e *StepError) Error() string { return e.Step + ": " + e.Err.Error() }
func (e *StepError) Unwrap() error { return e.Err }
