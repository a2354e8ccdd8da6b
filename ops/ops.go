// Package ops holds the built-in operations of ceod: plain Go handlers
// that turn an authenticated request into a reply. A handler knows
// nothing about sockets, frames or GSS-API: ceod authenticates the
// caller, unwraps the request, calls the handler with a deadline, and
// wraps whatever it returns.
//
// Which handler serves which op id is decided by ceod from the legacy ops
// files (see ceod/registry); handlers are looked up there by op name.
package ops

import (
	"context"
	"errors"
	"strings"
)

// Caller is the authenticated client of one request.
type Caller struct {
	// User is the principal without its realm ("alice@CSCLUB" ->
	// "alice", "alice/admin@CSCLUB" -> "alice/admin").
	User string
	// Principal is the full principal, realm included.
	Principal string
	// Realm is the principal's realm ("CSCLUB"); empty if it has none.
	Realm string
}

// CallerOf splits an authenticated principal into a Caller.
func CallerOf(principal string) Caller {
	c := Caller{User: principal, Principal: principal}
	if i := strings.LastIndexByte(principal, '@'); i >= 0 {
		c.User, c.Realm = principal[:i], principal[i+1:]
	}
	return c
}

// Request is one authenticated op request.
type Request struct {
	Caller Caller
	// Body is the unwrapped request, as sent by the client. It may be
	// empty. Handlers must not retain it after Serve returns: ceod
	// opens it in place in a pooled buffer, wiped and reused then.
	Body []byte
}

// Reply is what a handler answers: the reply body and how the request
// ended, for ceod's audit line. The zero Outcome means OutcomeOK.
type Reply struct {
	Body    []byte
	Outcome Outcome
}

// Handler serves one op.
//
// Serve returns the reply, or an error that ends the caller's connection
// without a reply, as the legacy daemon does when an op program fails.
// Replies that the client should display (permission denied, bad input)
// belong in the reply message, with their Outcome, not in the error.
// Serve must return promptly once ctx is done.
type Handler interface {
	Serve(ctx context.Context, req Request) (Reply, error)
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, req Request) (Reply, error)

// Serve calls f(ctx, req).
func (f HandlerFunc) Serve(ctx context.Context, req Request) (Reply, error) { return f(ctx, req) }

// ErrDenied marks a handler error as a refusal of the caller rather
// than a failure; ceod audits it with outcome "denied". Wrap it:
// fmt.Errorf("%w: not in group office", ops.ErrDenied).
var ErrDenied = errors.New("permission denied")
