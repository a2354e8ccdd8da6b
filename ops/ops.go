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
)

// Request is one authenticated op request.
type Request struct {
	// User is the authenticated principal without its realm
	// ("alice@CSCLUB" -> "alice", "alice/admin@CSCLUB" -> "alice/admin").
	User string
	// Principal is the full authenticated principal, realm included.
	Principal string
	// Body is the unwrapped request, as sent by the client. It may be
	// empty. Handlers must not retain it after Serve returns.
	Body []byte
}

// Handler serves one op.
//
// Serve returns the reply body, or an error that ends the caller's
// connection without a reply, as the legacy daemon does when an op
// program fails. Replies that the client should display (permission
// denied, bad input) belong in the reply message, not in the error.
// Serve must return promptly once ctx is done.
type Handler interface {
	Serve(ctx context.Context, req Request) ([]byte, error)
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, req Request) ([]byte, error)

// Serve calls f(ctx, req).
func (f HandlerFunc) Serve(ctx context.Context, req Request) ([]byte, error) { return f(ctx, req) }

// ErrDenied marks a handler error as a refusal of the caller rather
// than a failure; ceod audits it with outcome "denied". Wrap it:
// fmt.Errorf("%w: not in group office", ops.ErrDenied).
var ErrDenied = errors.New("permission denied")
