package server

import (
	"context"
	"encoding/binary"
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
	errDisplaced     = errors.New("displaced by a newer unauthenticated connection (pre-auth pool full)")
	errPreAuthBytes  = errors.New("pre-auth byte budget exhausted")
	errPrincipalFull = errors.New("too many connections of this principal")
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

	// pe is the connection's place in the admission pool, guarded by
	// srv.mu; displaced is set when the pool displaced it.
	pe        poolEntry
	displaced atomic.Bool

	principal string     // after the handshake
	caller    ops.Caller // what principal maps to
	nops      int
	grown     bool         // growStack has run on the connection's goroutine
	logger    *slog.Logger // built on first use
	auditOK   *slog.Logger // auditOpOK's, built on first use

	rd      rawReader // waitRead's
	pending []byte    // bytes of the next frame read with the last one
	next    nextFrame // firstRead's result, handed to serveFrame
	dl      deadlines // the deadlines set on rwc during ops
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

// serve runs the connection: the handshake, the caller check, then the
// op loop. It owns the connection and closes it.
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

	sess, err := c.handshakeOwnStack()
	if err != nil {
		return
	}
	err = c.serveOps(sess)
}

// handshakeOwnStack runs handshake, and the audit record of its
// success, through onOwnStack: on a busy server, on a worker, so that
// the stack that decoding and checking the AP-REQ grows is not kept by
// the connection.
func (c *conn) handshakeOwnStack() (sess *session.Session, err error) {
	err = c.onOwnStack("handshake", func() error {
		start := time.Now()
		var err error
		if sess, err = c.handshake(); err == nil {
			c.auditAuth(start, c.principal, nil)
		}
		return err
	})
	return sess, err
}

// handshake authenticates the client (session.Accept: one MSG_AUTH
// frame in, the acceptor's token out) and admits the caller. Before
// authentication the connection reads through a preAuthReader, which
// counts the token against the pre-auth byte budget before it is
// allocated; the connection leaves the admission pool once the token is
// in. The caller is checked before the acceptor's token is sent, so a
// refused caller gets no sign of success.
//
// The legacy order of checks is kept: a non-auth frame is reported as
// an unknown op if it is one, else as an op before authentication
// (named by its ops-file name).
func (c *conn) handshake() (*session.Session, error) {
	s := c.srv
	lim := s.settings().lim
	start := time.Now()
	c.rwc.SetDeadline(deadline(lim.HandshakeTimeout))
	pr := &preAuthReader{c: c, maxFrame: lim.MaxFrame}
	sess, err := session.Accept(readWriter{pr, c.rwc}, lim.MaxFrame, func(token []byte) (session.Sealer, []byte, error) {
		defer s.release(c)
		if !s.tokenRead(c) {
			return nil, nil, errDisplaced
		}
		sec, out, err := s.acc.accept(token)
		if err != nil || sec == nil {
			return sec, out, err
		}
		if err := c.admitCaller(start, sec.Peer()); err != nil {
			return nil, nil, err
		}
		s.leanIfBusy(sec)
		return sec, out, nil
	})
	if err == io.EOF {
		return nil, errPeerClosed // a port probe, not an attempt
	}
	var unexpected *session.UnexpectedFrameError
	switch {
	case err == nil:
		return sess, nil
	case errors.As(err, &unexpected):
		t := unexpected.Got
		if op, ok := s.Ops[t]; ok {
			return nil, fmt.Errorf("%w (%s)", errOpBeforeAuth, op.Name)
		}
		return nil, fmt.Errorf("%w %v before authentication", errUnknownOp, t)
	case errors.Is(err, errDisplaced), errors.Is(err, errCallerRefused), errors.Is(err, errPrincipalFull):
		return nil, err
	case errors.Is(err, session.ErrRejected):
		return nil, fmt.Errorf("%w: %w", errAuthRejected, err)
	}
	return nil, c.readError("authenticating", err)
}

// preAuthReader reads an unauthenticated connection. When the first
// frame's header has gone by, it reserves the body's size from the
// pre-auth byte budget (displacing older waiting connections if need
// be) before the reader of the frame allocates the body; if that fails
// it reports the header as cut short, so that nothing is allocated.
type preAuthReader struct {
	c        *conn
	maxFrame int
	hdr      [wire.HeaderLen]byte
	n        int
}

func (r *preAuthReader) Read(p []byte) (int, error) {
	if r.n >= wire.HeaderLen {
		return r.c.rwc.Read(p)
	}
	p = p[:min(len(p), wire.HeaderLen-r.n)]
	m, err := r.c.rwc.Read(p)
	copy(r.hdr[r.n:], p[:m])
	r.n += m
	if r.n < wire.HeaderLen {
		return m, err
	}
	size := int(binary.BigEndian.Uint32(r.hdr[:4]))
	if size == 0 || size > r.maxFrame {
		return m, err // the frame reader refuses it
	}
	if !r.c.srv.reserve(r.c, size) {
		if r.c.displaced.Load() {
			return m - 1, errDisplaced
		}
		return m - 1, fmt.Errorf("%w (%d-byte frame)", errPreAuthBytes, size)
	}
	return m, err
}

// readWriter joins a reader and a writer.
type readWriter struct {
	io.Reader
	io.Writer
}

// admitCaller maps the authenticated principal to a caller and counts
// the connection against the principal's limit. It audits a refused
// caller at once; a refusal for the principal's limit is counted with
// the unauthenticated failures instead (a runaway script must not flood
// the log either).
func (c *conn) admitCaller(start time.Time, principal string) error {
	s := c.srv
	st := s.settings()
	caller, err := st.callers.caller(principal, s.localRealm)
	if err != nil {
		c.auditAuth(start, principal, err)
		return err
	}
	s.mu.Lock()
	ok := s.pool.authenticated(c, principal, st.lim)
	s.mu.Unlock()
	if !ok {
		return fmt.Errorf("%w: %s", errPrincipalFull, principal)
	}
	c.principal, c.caller = principal, caller
	c.logger = nil // rebuild with the principal
	return nil
}

// reserve counts size body bytes of c's auth token against the pre-auth
// budget; tokenRead takes c out of the waiting pool; release returns
// the bytes.
func (s *Server) reserve(c *conn, size int) bool {
	s.mu.Lock()
	victims, ok := s.pool.reserve(c, int64(size), s.settings().lim)
	s.mu.Unlock()
	closeAll(victims)
	return ok
}

func (s *Server) tokenRead(c *conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pool.leave(c)
}

func (s *Server) release(c *conn) {
	s.mu.Lock()
	s.pool.release(c)
	s.mu.Unlock()
}

// serveOps serves op frames until the peer closes the connection, an op
// fails, a limit is hit or the server shuts down. The connection's
// goroutine only waits for the next frame (firstRead); everything else
// runs through onOwnStack (on a busy server, on a worker), so that an
// idle connection's stack stays at its starting size.
func (c *conn) serveOps(sess *session.Session) error {
	defer wipeDelegation(sess)
	err := c.onOwnStack("op loop", func() error {
		if !c.transition(StateHandshake, StateIdle) {
			return errShutdown
		}
		c.rwc.SetWriteDeadline(time.Time{}) // the handshake's
		c.rd.init(c.rwc, &c.srv.bufs)
		return c.awaitNext()
	})
	// One closure for the connection's life, not one per op: the frame
	// it serves is handed over in c.next.
	serveNext := func() error {
		next := c.next
		c.next = nextFrame{}
		return c.serveFrame(sess, next.buf, next.n, next.err)
	}
	for err == nil {
		c.next.buf, c.next.n, c.next.err = c.firstRead()
		err = c.onOwnStack("op handler", serveNext)
	}
	return err
}

// nextFrame is what firstRead got of the next op frame, for serveFrame.
type nextFrame struct {
	buf *opBuf
	n   int
	err error
}

// awaitNext sets the connection up to wait for its next op.
func (c *conn) awaitNext() error {
	if c.srv.shuttingDown() {
		return errShutdown
	}
	c.dl.setRead(c.rwc, c.srv.settings().lim.IdleTimeout)
	return nil
}

// serveFrame reads the rest of the op frame whose first n bytes
// firstRead put in buf (or that returned rerr), serves it, and sets
// the connection up for the next one.
func (c *conn) serveFrame(sess *session.Session, buf *opBuf, n int, rerr error) error {
	if rerr == io.EOF {
		return errPeerClosed
	}
	if rerr != nil {
		return c.readError("reading op frame", rerr)
	}
	lim := c.srv.settings().lim
	f, err := c.readOp(buf, n, lim.MaxFrame)
	if err != nil {
		return c.readError("reading op frame", err)
	}
	defer c.release(&f)
	if !c.transition(StateIdle, StateActive) {
		return errShutdown
	}
	c.nops++
	if err := c.serveOp(sess, lim, f.t, f.body); err != nil {
		return err
	}
	if !c.transition(StateActive, StateIdle) {
		return errShutdown
	}
	return c.awaitNext()
}

// serveOp serves one op frame and audits it. Any error ends the
// connection without a reply.
func (c *conn) serveOp(sess *session.Session, lim Limits, t wire.MsgType, body []byte) (err error) {
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
		c.auditOp(start, name, outcome, err)
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
	ctx, end := s.baseCtx, func() {}
	if lim.OpTimeout > 0 {
		oc := newOpContext(s.baseCtx, s.endedCtx, lim.OpTimeout)
		ctx, end = oc, oc.end
	}
	deleg := opDelegation(sess)
	if deleg != nil {
		ctx = ops.WithDelegation(ctx, deleg)
	}
	rep, err := c.runHandler(ctx, op.Handler, ops.Request{Caller: c.caller, Body: req})
	if deleg != nil {
		deleg.Release()
		// The test hook that shows the credential did not outlive the op.
		c.log().Debug("delegated credential released", "op", name, "wiped", deleg.Released())
	}
	end()
	if err != nil {
		return fmt.Errorf("op %s: %w", name, err)
	}
	reported = rep.Outcome
	c.dl.setWrite(c.rwc, lim.WriteTimeout)
	if err := sess.Send(t, rep.Body); err != nil {
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
	if c.displaced.Load() {
		return fmt.Errorf("%s: %w", step, errDisplaced)
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
	case errors.Is(err, errCallerRefused):
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

// preAuthReason names why a connection that never authenticated ended,
// for the failure log; "" means it is not a failure (the shutdown).
func preAuthReason(err error) string {
	switch {
	case errors.Is(err, errShutdown):
		return ""
	case errors.Is(err, errPeerClosed):
		return reasonNoToken
	case errors.Is(err, errDisplaced):
		return reasonDisplaced
	case errors.Is(err, errPreAuthBytes):
		return reasonBudget
	case errors.Is(err, errCallerRefused):
		return reasonCaller
	case errors.Is(err, errPrincipalFull):
		return reasonPrincipalFull
	case errors.Is(err, os.ErrDeadlineExceeded):
		return reasonTimeout
	case errors.Is(err, errAuthRejected):
		return reasonAuthFailed
	case isProtocolError(err):
		return reasonProtocol
	}
	return reasonError
}

func isProtocolError(err error) bool {
	return errors.Is(err, errOpBeforeAuth) || errors.Is(err, errUnknownOp) || errors.Is(err, errAuthAfterAuth) ||
		errors.Is(err, wire.ErrEmptyFrame) || errors.Is(err, wire.ErrFrameTooLarge) ||
		errors.Is(err, io.ErrUnexpectedEOF)
}

// closeTrigger names why an authenticated connection ended, from a
// closed vocabulary, with the level to log it at.
func (c *conn) closeTrigger(last ConnState, err error) (string, slog.Level) {
	switch {
	case err == nil, errors.Is(err, errPeerClosed):
		return "clean", slog.LevelDebug
	case errors.Is(err, errShutdown):
		return "shutdown", slog.LevelDebug
	case errors.Is(err, os.ErrDeadlineExceeded) && last == StateActive:
		return "write_timeout", slog.LevelInfo
	case errors.Is(err, os.ErrDeadlineExceeded):
		return "idle_timeout", slog.LevelDebug
	case errors.Is(err, errConnPanic), errors.Is(err, errHandlerPanic):
		return "panic", slog.LevelError
	case isProtocolError(err):
		return "protocol_error", slog.LevelWarn
	case c.srv.shuttingDown() && errors.Is(err, net.ErrClosed):
		return "shutdown", slog.LevelDebug
	case last == StateActive:
		return "op_failed", slog.LevelWarn
	}
	return "error", slog.LevelWarn
}

// logClosed writes the connection's last diagnostic line: for a
// connection that never authenticated, a count in the failure log (one
// line per address per interval); otherwise its own line.
func (c *conn) logClosed(last ConnState, err error) {
	if c.principal == "" {
		if errors.Is(err, errConnPanic) {
			c.log().Error("connection closed", "trigger", "panic", "err", err)
		}
		if reason := preAuthReason(err); reason != "" {
			c.srv.failures.note(c.ipKey, reason, err)
		}
		return
	}
	trigger, level := c.closeTrigger(last, err)
	if !c.srv.log().Enabled(context.Background(), level) {
		return // skip building the connection's logger
	}
	attrs := []slog.Attr{
		slog.String("trigger", trigger),
		slog.Int("ops", c.nops),
		slog.Float64("duration", time.Since(c.start).Seconds()),
	}
	if err != nil && trigger != "clean" {
		attrs = append(attrs, slog.String("err", err.Error()))
	}
	c.log().LogAttrs(context.Background(), level, "connection closed", attrs...)
}
