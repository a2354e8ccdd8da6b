package ops

import (
	"context"
	"sync"
)

// Outcome is how a request that got a reply ended, when that is not
// plain success. ceod's audit line for the op shows it instead of "ok",
// so that refusals can be counted and alerted on.
type Outcome string

// The outcomes a handler can report.
const (
	// OutcomeDenied: the caller may not do this (the reply says why).
	OutcomeDenied Outcome = "denied"
	// OutcomeInvalid: the request was malformed or named a bad target.
	OutcomeInvalid Outcome = "invalid"
	// OutcomeFailed: the op failed and the reply reports the failure.
	OutcomeFailed Outcome = "error"
)

type outcomeKey struct{}

type outcomeBox struct {
	mu sync.Mutex
	o  Outcome
}

// WithOutcome returns a context on which a handler can report its
// outcome, and a function that returns what was reported ("" if
// nothing). ceod calls it around every handler.
func WithOutcome(ctx context.Context) (context.Context, func() Outcome) {
	box := &outcomeBox{}
	return context.WithValue(ctx, outcomeKey{}, box), func() Outcome {
		box.mu.Lock()
		defer box.mu.Unlock()
		return box.o
	}
}

// ReportOutcome records the outcome of the request served under ctx; the
// last report wins. It does nothing on a context not made by
// WithOutcome, so handlers can call it unconditionally.
func ReportOutcome(ctx context.Context, o Outcome) {
	if box, ok := ctx.Value(outcomeKey{}).(*outcomeBox); ok {
		box.mu.Lock()
		box.o = o
		box.mu.Unlock()
	}
}

// ReportLogOutcome reports a handler's own log outcome word in the audit
// vocabulary: "ok" and "disabled" are successes, "denied" stays
// "denied", "invalid" and "exists" (a bad target) are "invalid", and
// anything else ("error", "rolled_back", "half_made", ...) is "error".
func ReportLogOutcome(ctx context.Context, outcome string) {
	switch outcome {
	case "ok", "disabled":
	case "denied":
		ReportOutcome(ctx, OutcomeDenied)
	case "invalid", "exists":
		ReportOutcome(ctx, OutcomeInvalid)
	default:
		ReportOutcome(ctx, OutcomeFailed)
	}
}
