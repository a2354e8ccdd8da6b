package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/csclub/ceo/ops"
	"github.com/csclub/ceo/wire"
	"github.com/csclub/ceo/wire/session"
)

// ConnState is the state of a client connection. Every connection goes
// StateHandshake -> (StateIdle <-> StateActive)* -> StateClosed; it may
// close from any state.
type ConnState int32

const (
	// StateHandshake: accepted, authenticating. Only MSG_AUTH frames
	// are legal. Ends after HandshakeTimeout.
	StateHandshake ConnState = iota
	// StateIdle: authenticated, waiting for an op frame. Ends after
	// IdleTimeout.
	StateIdle
	// StateActive: an op is running or its reply is being sent.
	StateActive
	// StateClosed: the connection is closed (or being closed by
	// Shutdown); this is the last state.
	StateClosed
)

var stateNames = [...]string{
	StateHandshake: "handshake",
	StateIdle:      "idle",
	StateActive:    "active",
	StateClosed:    "closed",
}

func (st ConnState) String() string {
	if st >= 0 && int(st) < len(stateNames) {
		return stateNames[st]
	}
	return fmt.Sprintf("ConnState(%d)", int(st))
}

// Connection-ending conditions that are not plain I/O errors. None of
// them is reported to the peer: as in the legacy daemon, the connection
// is simply closed.
var (
	errPeerClosed    = errors.New("peer closed the connection")
	errShutdown      = errors.New("server shutting down")
	errOpBeforeAuth  = errors.New("op before authentication")
	errUnknownOp     = errors.New("unknown op")
	errAuthAfterAuth = errors.New("MSG_AUTH after authentication")
	errAuthRejected  = errors.New("authentication rejected")
	errHandlerPanic  = errors.New("op handler panicked")
	errReplyTooLarge = errors.New("reply too large for a frame")
	errConnPanic     = errors.New("connection goroutine panicked")
)

// conn is one client connection. Everything but state is owned by the
// connection's goroutine.
type conn struct {
	srv    *Server
	rwc    net.Conn
	id     uint64
	ipKey  string
	remote string
	start  time.Time

	// state is a ConnState. Shutdown claims handshake and idle
	// connections by swapping their state to StateClosed; the
	// connection's goroutine moves between states with
	// compare-and-swap, so an op never starts on a claimed connection.
	state atomic.Int32

	principal string // after the handshake
	nops      int
	logger    *slog.Logger // built on first use
}

func (s *Server) newConn(rw net.Conn, ipKey string) *conn {
	return &conn{
		srv:    s,
		rwc:    rw,
		id:     s.nextID.Add(1),
		ipKey:  ipKey,
		remote: rw.RemoteAddr().String(),
		start:  time.Now(),
	}
}

// log returns the connection's logger: the server's, with the
// connection id, the remote address and, once known, the principal.
func (c *conn) log() *slog.Logger {
	if c.logger == nil {
		c.logger = c.srv.log().With(slog.Uint64("conn", c.id), slog.String("remote", c.remote))
		if c.principal != "" {
			c.logger = c.logger.With(slog.String("principal", c.principal))
		}
	}
	return c.logger
}

func (c *conn) hook(st ConnState) {
	if h := c.srv.ConnState; h != nil {
		h(c.rwc, st)
	}
}

// setState is the single place that records a state the connection's
// own goroutine enters unconditionally (its first and last state).
func (c *conn) setState(st ConnState) {
	c.state.Store(int32(st))
	c.hook(st)
}

// transition moves the connection from one state to another and reports
// whether it did; it fails only if Shutdown claimed the connection.
func (c *conn) transition(from, to ConnState) bool {
	if !c.state.CompareAndSwap(int32(from), int32(to)) {
		return false
	}
	c.hook(to)
	return true
}

// claimClose marks a connection in state from as closed, for Shutdown,
// and reports whether it did. The caller then closes the socket.
func (c *conn) claimClose(from ConnState) bool {
	return c.state.CompareAndSwap(int32(from), int32(StateClosed))
}

// serve runs the connection: the handshake, then the op loop. It owns
// the connection and closes it.
func (c *conn) serve() {
	var err error
	defer func() {
		if r := recover(); r != nil {
			c.log().Error("panic serving connection", "panic", r, "stack", string(debug.Stack()))
			err = fmt.Errorf("%w: %v", errConnPanic, r)
		}
		c.rwc.Close()
		c.srv.forget(c)
		last := ConnState(c.state.Load())
		c.setState(StateClosed)
		c.logClosed(last, err)
		c.srv.connWG.Done()
	}()

	sec, principal, err := c.handshakeOwnStack()
	if err != nil {
		return
	}
	err = c.serveOps(sec, principal)
}

// handshakeOwnStack runs handshake on a goroutine of its own. Decoding
// and checking the AP-REQ (reflection-driven ASN.1) grows a stack to
// tens of KB; on the connection's goroutine, which then waits idle in a
// read for minutes, that stack would stay (the runtime shrinks stacks
// only during a GC, which an idle server does not run). A finished
// goroutine's stack goes back to the runtime's pool for the next
// handshake.
func (c *conn) handshakeOwnStack() (sess *session.Session, principal string, err error) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer func() {
			// serve's recover cannot see this goroutine's panics.
			if r := recover(); r != nil {
				c.log().Error("panic in handshake", "panic", r, "stack", string(debug.Stack()))
				err = fmt.Errorf("%w: %v", errConnPanic, r)
			}
		}()
		sess, principal, err = c.handshake()
	}()
	<-done
	return sess, principal, err
}

// handshake authenticates the client: one MSG_AUTH frame carrying the
// initial context token in, the acceptor's token out. It returns the
// established context and the client principal.
//
// The legacy order of checks is kept: a non-auth frame is reported as
// an unknown op if it is one, else as an op before authentication.
// Every outcome except a connection closed before sending anything is
// audited as an authentication attempt.
func (c *conn) handshake() (sess *session.Session, principal string, err error) {
	s := c.srv
	start := time.Now()
	if d := s.handshakeTimeout(); d > 0 {
		c.rwc.SetDeadline(start.Add(d))
	}
	sess, err = session.Accept(c.rwc, s.maxFrame(), s.acc.accept)
	if err == io.EOF {
		return nil, "", errPeerClosed // a port probe, not an attempt
	}
	defer func() { c.auditAuth(start, principal, err) }()
	var unexpected *session.UnexpectedFrameError
	switch {
	case errors.As(err, &unexpected):
		t := unexpected.Got
		if _, ok := s.Ops[t]; !ok {
			return nil, "", fmt.Errorf("%w %v before authentication", errUnknownOp, t)
		}
		return nil, "", fmt.Errorf("%w (%v)", errOpBeforeAuth, t)
	case errors.Is(err, session.ErrRejected):
		return nil, "", fmt.Errorf("%w: %w", errAuthRejected, err)
	case err != nil:
		return nil, "", c.readError("authenticating", err)
	}
	return sess, sess.Peer(), nil
}

// serveOps serves op frames until the peer closes the connection, an op
// fails, a limit is hit or the server shuts down.
func (c *conn) serveOps(sess *session.Session, principal string) error {
	s := c.srv
	c.principal = principal
	c.logger = nil // rebuild with the principal
	caller := ops.CallerOf(principal)
	if !c.transition(StateHandshake, StateIdle) {
		return errShutdown
	}
	for {
		if s.shuttingDown() {
			return errShutdown
		}
		if d := s.idleTimeout(); d > 0 {
			c.rwc.SetDeadline(time.Now().Add(d))
		} else {
			c.rwc.SetDeadline(time.Time{})
		}
		t, body, err := sess.ReadFrame()
		if err == io.EOF {
			return errPeerClosed
		}
		if err != nil {
			return c.readError("reading op frame", err)
		}
		if !c.transition(StateIdle, StateActive) {
			return errShutdown
		}
		c.nops++
		if err := c.serveOp(sess, caller, t, body); err != nil {
			return err
		}
		if !c.transition(StateActive, StateIdle) {
			return errShutdown
		}
	}
}

// serveOp serves one op frame and audits it. Any error ends the
// connection without a reply.
func (c *conn) serveOp(sess *session.Session, caller ops.Caller, t wire.MsgType, body []byte) (err error) {
	s := c.srv
	start := time.Now()
	op, known := s.Ops[t]
	name := op.Name
	if !known {
		name = t.String()
	}
	var reported ops.Outcome
	defer func() {
		outcome := opOutcome(err)
		if err == nil {
			outcome = reported.OrOK()
		}
		c.auditOp(start, caller.Principal, name, outcome, err)
	}()

	switch {
	case t == wire.MsgAuth:
		return errAuthAfterAuth
	case !known:
		return fmt.Errorf("%w %v", errUnknownOp, t)
	}
	req, err := sess.Open(t, body)
	if err != nil {
		return fmt.Errorf("%s request: %w", name, err)
	}
	ctx, cancel := s.baseCtx, context.CancelFunc(func() {})
	if d := s.opTimeout(); d > 0 {
		ctx, cancel = context.WithTimeout(ctx, d)
	}
	rep, err := c.runHandler(ctx, op.Handler, ops.Request{Caller: caller, Body: req})
	cancel()
	if err != nil {
		return fmt.Errorf("op %s: %w", name, err)
	}
	reported, reply := rep.Outcome, rep.Body
	if d := s.idleTimeout(); d > 0 {
		c.rwc.SetWriteDeadline(time.Now().Add(d))
	}
	if err := sess.Send(t, reply); err != nil {
		if errors.Is(err, wire.ErrFrameTooLarge) {
			return fmt.Errorf("%w: %s: %w", errReplyTooLarge, name, err)
		}
		return fmt.Errorf("sending %s reply: %w", name, err)
	}
	return nil
}

// readError wraps an error from reading a frame, marking it as caused by
// the shutdown if Shutdown closed the connection under the read.
func (c *conn) readError(step string, err error) error {
	if c.state.Load() == int32(StateClosed) {
		return fmt.Errorf("%s: %w: %w", step, errShutdown, err)
	}
	return fmt.Errorf("%s: %w", step, err)
}

// runHandler calls h, turning a panic into an error so that the op is
// still audited and only this connection ends.
func (c *conn) runHandler(ctx context.Context, h ops.Handler, req ops.Request) (reply ops.Reply, err error) {
	defer func() {
		if r := recover(); r != nil {
			c.log().Error("panic in op handler", "panic", r, "stack", string(debug.Stack()))
			reply, err = ops.Reply{}, fmt.Errorf("%w: %v", errHandlerPanic, r)
		}
	}()
	return h.Serve(ctx, req)
}

func isTimeout(err error) bool {
	return errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded)
}

func authOutcome(err error) ops.Outcome {
	switch {
	case err == nil:
		return ops.OutcomeOK
	case isTimeout(err):
		return ops.OutcomeTimeout
	case errors.Is(err, errAuthRejected), errors.Is(err, errOpBeforeAuth), errors.Is(err, errUnknownOp):
		return ops.OutcomeDenied
	}
	return ops.OutcomeError
}

func opOutcome(err error) ops.Outcome {
	switch {
	case err == nil:
		return ops.OutcomeOK
	case isTimeout(err):
		return ops.OutcomeTimeout
	case errors.Is(err, ops.ErrDenied), errors.Is(err, errUnknownOp):
		return ops.OutcomeDenied
	case errors.Is(err, session.ErrOpen):
		// A request that is not sealed, or not authentic: the
		// client's fault, not ours.
		return ops.OutcomeInvalid
	}
	return ops.OutcomeError
}

// auditAuth writes the audit record of one authentication attempt.
func (c *conn) auditAuth(start time.Time, principal string, err error) {
	attrs := []slog.Attr{
		slog.String("event", "auth"),
		slog.String("outcome", string(authOutcome(err))),
		slog.String("remote", c.remote),
		slog.String("principal", principal),
		slog.Float64("duration", time.Since(start).Seconds()),
	}
	if err != nil {
		attrs = append(attrs, slog.String("error", err.Error()))
	}
	c.srv.audit().LogAttrs(context.Background(), slog.LevelInfo, "audit", attrs...)
}

// auditOp writes the audit record of one op.
func (c *conn) auditOp(start time.Time, principal, op string, outcome ops.Outcome, err error) {
	attrs := []slog.Attr{
		slog.String("event", "op"),
		slog.String("outcome", string(outcome)),
		slog.String("remote", c.remote),
		slog.String("principal", principal),
		slog.String("op", op),
		slog.Float64("duration", time.Since(start).Seconds()),
	}
	if err != nil {
		attrs = append(attrs, slog.String("error", err.Error()))
	}
	c.srv.audit().LogAttrs(context.Background(), slog.LevelInfo, "audit", attrs...)
}

// closeTrigger names why a connection ended, from a closed vocabulary,
// with the level to log it at.
func (c *conn) closeTrigger(last ConnState, err error) (string, slog.Level) {
	authenticated := c.principal != ""
	switch {
	case err == nil, errors.Is(err, errPeerClosed):
		return "clean", slog.LevelDebug
	case errors.Is(err, errShutdown):
		return "shutdown", slog.LevelDebug
	case errors.Is(err, os.ErrDeadlineExceeded) && !authenticated:
		return "handshake_timeout", slog.LevelInfo
	case errors.Is(err, os.ErrDeadlineExceeded) && last == StateActive:
		return "write_timeout", slog.LevelInfo
	case errors.Is(err, os.ErrDeadlineExceeded):
		return "idle_timeout", slog.LevelDebug
	case errors.Is(err, errConnPanic), errors.Is(err, errHandlerPanic):
		return "panic", slog.LevelError
	case errors.Is(err, errAuthRejected):
		return "auth_failed", slog.LevelWarn
	case errors.Is(err, errOpBeforeAuth), errors.Is(err, errUnknownOp), errors.Is(err, errAuthAfterAuth),
		errors.Is(err, wire.ErrEmptyFrame), errors.Is(err, wire.ErrFrameTooLarge),
		errors.Is(err, io.ErrUnexpectedEOF):
		return "protocol_error", slog.LevelWarn
	case c.srv.shuttingDown() && errors.Is(err, net.ErrClosed):
		return "shutdown", slog.LevelDebug
	case last == StateActive:
		return "op_failed", slog.LevelWarn
	}
	return "error", slog.LevelWarn
}

// logClosed writes the connection's last diagnostic line.
func (c *conn) logClosed(last ConnState, err error) {
	trigger, level := c.closeTrigger(last, err)
	if !c.srv.log().Enabled(context.Background(), level) {
		return // skip building the connection's logger
	}
	l := c.log()
	attrs := []slog.Attr{
		slog.String("trigger", trigger),
		slog.Int("ops", c.nops),
		slog.Float64("duration", time.Since(c.start).Seconds()),
	}
	if err != nil && trigger != "clean" {
		attrs = append(attrs, slog.String("error", err.Error()))
	}
	l.LogAttrs(context.Background(), level, "connection closed", attrs...)
}
