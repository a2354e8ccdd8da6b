package ops

// Outcome is how a request ended, in the words of ceod's audit line, so
// that refusals can be counted and alerted on. These are the only
// outcome words: ceod's own (timeouts, dropped connections) included.
type Outcome string

// The outcomes.
const (
	// OutcomeOK: the request was served.
	OutcomeOK Outcome = "ok"
	// OutcomeDenied: the caller may not do this (the reply says why).
	OutcomeDenied Outcome = "denied"
	// OutcomeInvalid: the request was malformed or named a bad target.
	OutcomeInvalid Outcome = "invalid"
	// OutcomeError: the op failed (the reply reports it, or there was
	// no reply).
	OutcomeError Outcome = "error"
	// OutcomeTimeout: the op or the connection ran out of time.
	OutcomeTimeout Outcome = "timeout"
)

// OrOK returns o, or OutcomeOK for the zero Outcome.
func (o Outcome) OrOK() Outcome {
	if o == "" {
		return OutcomeOK
	}
	return o
}
