package ceoc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/csclub/ceo/ceoc/opsfile"
	"github.com/csclub/ceo/wire"
	"github.com/csclub/ceo/wire/session"
)

// aLongTimeAgo is a deadline in the past: setting it interrupts pending
// I/O when a context ends.
var aLongTimeAgo = time.Unix(1, 0)

// A Conn is an authenticated connection to one ceod. It can carry any
// number of ops owned by that ceod's host, one at a time (concurrent
// calls are serialized). After any error the Conn is unusable; close it.
type Conn struct {
	c    *Client
	host string // host word from the ops file
	addr string // host:port

	mu       sync.Mutex
	nc       net.Conn
	sess     *session.Session
	broken   error
	deadline time.Time       // the one set on nc
	last     opsfile.Op      // the op of the last call: a client sends one op many times
	watched  <-chan struct{} // Done of the contexts the watch serves
	watch    watch           // under wmu, written with mu held too
	wmu      sync.Mutex      // watch, apart from mu: Close must not wait for a call
}

// A watch interrupts the connection's I/O when a context ends. It stays
// registered from call to call while the callers' contexts share one
// Done channel (a client's loop under one context): registering and
// unregistering per call was several allocations and a lock of the
// context per op.
type watch struct {
	stop  func() bool   // context.AfterFunc's; nil if nothing is watched
	fired chan struct{} // closed once the deadline has been moved to the past
}

// Dial connects to the ceod owning op and authenticates. The returned
// Conn can send op, and any other op owned by the same host. For an op
// in ceod.cf's delegate_ops the handshake forwards the caller's TGT (the
// ccache's TGT must be forwardable: kinit -f); for any other op, never.
func (c *Client) Dial(ctx context.Context, op string) (*Conn, error) {
	// Log in (krb5.conf and the ccache) while the ops files are read and
	// the host's name resolves: neither needs the other, and a one-op
	// ceoc call spends much of its time on these.
	loggedIn := make(chan error, 1)
	go func() {
		_, err := c.tickets()
		loggedIn <- err
	}()
	o, err := c.lookup(op)
	if err != nil {
		return nil, err
	}
	conn, err := c.dialHost(ctx, o.Host, c.delegates(op), loggedIn)
	if err != nil {
		return nil, withOp(err, op)
	}
	return conn, nil
}

// dialHost connects to host's ceod and authenticates. loggedIn delivers
// the outcome of a c.tickets() call made meanwhile.
func (c *Client) dialHost(ctx context.Context, host string, delegate bool, loggedIn <-chan error) (_ *Conn, err error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout())
		defer cancel()
	}
	canon := c.canonical(ctx, host)
	// Without credentials, fail before connecting: ceod sees nothing.
	if err := <-loggedIn; err != nil {
		return nil, err
	}
	addr := net.JoinHostPort(canon, strconv.Itoa(c.port))
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, &Error{Kind: ErrUnreachable, Addr: addr, Err: err, Hint: "is ceod running there, and is port right in ceod.cf?"}
	}
	defer func() {
		if err != nil {
			nc.Close()
		}
	}()
	deadline, _ := ctx.Deadline()
	nc.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { nc.SetDeadline(aLongTimeAgo) })
	defer stop()

	spn := "ceod/" + canon
	init, tok, err := c.initiate(spn, delegate)
	if err != nil {
		hint := "run kinit if your ticket expired; the KDC must know " + spn
		if delegate {
			hint += "; this op forwards your TGT (delegate_ops in ceod.cf), which must be forwardable: kinit -f"
		}
		return nil, &Error{Kind: ErrAuth, Addr: addr, Err: fmt.Errorf("getting a ticket for %s: %w", spn, err), Hint: hint}
	}
	sess, err := session.Initiate(nc, tok, func(reply []byte) (session.Sealer, error) { return init.Step(reply) })
	var unexpected *session.UnexpectedFrameError
	switch {
	case err == nil:
	case errors.As(err, &unexpected):
		return nil, &Error{Kind: ErrProtocol, Addr: addr, Err: fmt.Errorf("got a %v frame during authentication", unexpected.Got)}
	case errors.Is(err, session.ErrRejected):
		return nil, &Error{Kind: ErrAuth, Addr: addr, Err: err}
	case closedByPeer(err):
		return nil, &Error{Kind: ErrAuth, Addr: addr, Err: errors.New("ceod closed the connection before authentication completed"),
			Hint: closedBeforeAuthHint(spn)}
	default:
		return nil, ioError(ctx, ErrAuth, addr, "authenticating", err)
	}
	nc.SetDeadline(time.Time{})
	return &Conn{c: c, host: host, addr: addr, nc: nc, sess: sess}, nil
}

// canonical is host's canonical name (see Client.Canon), or host itself
// for an address literal or a name the resolver does not know.
func (c *Client) canonical(ctx context.Context, host string) string {
	if net.ParseIP(host) != nil {
		return host
	}
	canon := c.Canon
	if canon == nil {
		canon = func(ctx context.Context, h string) (string, error) { return opsfile.Canonical(ctx, nil, h) }
	}
	name, err := canon(ctx, host)
	if err != nil || name == "" {
		return host
	}
	return opsfile.Normalize(name)
}

// closedBeforeAuthHint names the likely causes of ceod closing the
// connection before authentication, most likely first: a flood or too
// many connections of this user (ceod drops waiting connections to
// admit new ones, and limits each principal's), then a keytab without
// the service key, then clocks further apart than the allowed skew.
func closedBeforeAuthHint(spn string) string {
	return "likely causes, in order: ceod's connection limit (too many connections waiting or of yours; retry), " +
		"ceod's keytab lacking the current key of " + spn + ", the clocks of this host and ceod's differing by minutes; " +
		"see ceod's log"
}

// Call sends one op on the connection and returns the unwrapped reply.
// The op must be owned by the host this Conn is connected to. The
// context bounds the whole exchange: its end interrupts the call (which
// breaks the Conn), and a call under an ended context sends nothing.
func (cn *Conn) Call(ctx context.Context, op string, request []byte) ([]byte, error) {
	cn.mu.Lock()
	defer cn.mu.Unlock()
	o := cn.last
	if o.Name != op || op == "" {
		var err error
		if o, err = cn.c.lookup(op); err != nil {
			return nil, err
		}
		if o.Host != cn.host {
			return nil, &Error{Kind: ErrUnknownOp, Op: op, Addr: cn.addr, Err: fmt.Errorf("owned by %s, not %s", o.Host, cn.host)}
		}
		cn.last = o
	}
	if cn.broken != nil {
		return nil, cn.broken
	}
	reply, err := cn.call(ctx, op, wire.MsgType(o.ID), request)
	if err != nil {
		cn.broken = err
		cn.unwatch()
		cn.nc.Close()
	}
	return reply, err
}

func (cn *Conn) call(ctx context.Context, op string, t wire.MsgType, request []byte) ([]byte, error) {
	// Each change of a socket's deadline resets a runtime timer, and each
	// watch costs allocations: a client sending many ops under one
	// context sets both once.
	done := ctx.Done()
	if deadline, _ := ctx.Deadline(); done != cn.watched || !deadline.Equal(cn.deadline) {
		cn.rewatch(ctx, done, deadline)
	}
	// A call under an ended context sends nothing (its watch may not
	// have run yet).
	if err := ctx.Err(); err != nil {
		return nil, cn.callError(ctx, op, t, len(request), err)
	}
	reply, err := cn.sess.Call(t, request)
	if err != nil {
		return nil, cn.callError(ctx, op, t, len(request), err)
	}
	return reply, nil
}

// rewatch unregisters the watch of the previous contexts, sets the
// deadline of ctx (whose Done channel is done) on the connection, and
// then watches ctx.
func (cn *Conn) rewatch(ctx context.Context, done <-chan struct{}, deadline time.Time) {
	cn.wmu.Lock()
	defer cn.wmu.Unlock()
	if w := cn.watch; w.stop != nil && !w.stop() {
		// The old context ended: wait until its deadline in the past is
		// set, so that it cannot land on this call, then replace it.
		<-w.fired
		cn.deadline = aLongTimeAgo
	}
	cn.watch, cn.watched = watch{}, nil
	// The deadline is set before the watch: the watch of an ended
	// context moves it to the past at once.
	if !deadline.Equal(cn.deadline) {
		cn.nc.SetDeadline(deadline)
		cn.deadline = deadline
	}
	if done == nil {
		return // the context never ends: nothing to watch
	}
	fired, nc := make(chan struct{}), cn.nc
	stop := context.AfterFunc(ctx, func() {
		nc.SetDeadline(aLongTimeAgo)
		close(fired)
	})
	cn.watch, cn.watched = watch{stop: stop, fired: fired}, done
}

// unwatch unregisters the watch, so that a closed Conn is not kept
// reachable by a long-lived context.
func (cn *Conn) unwatch() {
	cn.wmu.Lock()
	defer cn.wmu.Unlock()
	if cn.watch.stop != nil {
		cn.watch.stop()
	}
	cn.watch = watch{}
}

// callError describes the failure of an exchange (apart from call, whose
// success path then allocates nothing of its own).
func (cn *Conn) callError(ctx context.Context, op string, t wire.MsgType, size int, err error) error {
	var unexpected *session.UnexpectedFrameError
	switch {
	case errors.Is(err, wire.ErrFrameTooLarge):
		return &Error{Kind: ErrRefused, Op: op, Err: fmt.Errorf("request of %d bytes is too large", size)}
	case errors.Is(err, session.ErrSeal), errors.Is(err, session.ErrOpen):
		// An unsealed reply lands here too: like the legacy ceoc, we
		// require confidentiality both ways.
		return &Error{Kind: ErrProtocol, Op: op, Addr: cn.addr, Err: err}
	case errors.As(err, &unexpected):
		return &Error{Kind: ErrProtocol, Op: op, Addr: cn.addr, Err: fmt.Errorf("reply has msgtype %v, want %v", unexpected.Got, t)}
	case closedByPeer(err):
		return &Error{Kind: ErrRefused, Op: op, Addr: cn.addr,
			Err:  errors.New("ceod closed the connection without a reply"),
			Hint: "the op failed or is not allowed; see ceod's log on " + cn.host}
	}
	return withOp(ioError(ctx, ErrRefused, cn.addr, "exchanging the op", err), op)
}

// Close closes the connection.
func (cn *Conn) Close() error {
	cn.unwatch()
	return cn.nc.Close()
}

// Addr returns the host:port of the ceod.
func (cn *Conn) Addr() string { return cn.addr }

// closedByPeer reports whether err means that the peer closed or reset
// the connection.
func closedByPeer(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// ioError describes an I/O failure of a step; if ctx ended, the
// context's error is reported instead of the resulting deadline error.
// The socket's deadline may pass before the context's own timer has
// ended it: that is the context's deadline too.
func ioError(ctx context.Context, kind error, addr, step string, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		err = cerr
	} else if d, ok := ctx.Deadline(); ok && errors.Is(err, os.ErrDeadlineExceeded) && !time.Now().Before(d) {
		err = context.DeadlineExceeded
	}
	return &Error{Kind: kind, Addr: addr, Err: fmt.Errorf("%s: %w", step, err)}
}

// withOp names op in err if it is an *Error that names none.
func withOp(err error, op string) error {
	var e *Error
	if errors.As(err, &e) && e.Op == "" {
		e.Op = op
	}
	return err
}
