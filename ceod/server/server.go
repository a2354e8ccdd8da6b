// Package server implements ceod's network service: it accepts TCP
// connections, authenticates each client with GSS-API (Kerberos 5), and
// then serves any number of ops on the connection, each request and
// reply sealed with the established security context.
//
// The protocol is the legacy one (see package wire): MSG_AUTH frames
// until the context is established, then op frames, each answered with
// a frame of the same msgtype. Whatever the legacy daemon treats as
// fatal (an op before authentication, an unknown op, a second MSG_AUTH,
// a malformed frame, a failed op) closes that connection without a
// reply and is logged; the server goes on serving everyone else.
//
// The lifecycle follows net/http: a Server is configured through its
// exported fields, Serve runs an accept loop on a listener, Shutdown
// stops gracefully and Close immediately.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jcmturner/gokrb5/v8/keytab"

	"github.com/csclub/ceo/ops"
	"github.com/csclub/ceo/wire"
	"github.com/csclub/ceo/wire/krb5/gss"
	"github.com/csclub/ceo/wire/krb5/rcache"
)

// Defaults for the zero values of Server's limits.
const (
	DefaultHandshakeTimeout = 10 * time.Second
	DefaultIdleTimeout      = 60 * time.Second
	DefaultOpTimeout        = 120 * time.Second
	DefaultMaxConns         = 4096
	DefaultMaxConnsPerIP    = 256
)

// ErrServerClosed is returned by Serve after a call to Shutdown or Close.
var ErrServerClosed = errors.New("ceod: server closed")

// Op is one entry of the server's op table.
type Op struct {
	// Name is the op's name from the ops file; it appears in logs.
	Name string
	// Handler serves the op. It is called with the unwrapped request and
	// a context that ends after OpTimeout or when the server is closed.
	Handler ops.Handler
}

// A Server serves the ceod protocol. Set its fields before the first
// call to Serve and do not change them afterwards.
//
// Memory is bounded: a connection holds at most one frame body of
// MaxFrame bytes at a time, plus its goroutine and security context, so
// the worst case is about MaxConns * (MaxFrame + 16 KiB) (4096
// connections of 64 KiB: about 330 MB), and MaxConnsPerIP bounds what a
// single address can claim (256 connections: about 20 MB).
type Server struct {
	// Keytab holds the keys of Principal. Required unless Keys is set.
	Keytab *keytab.Keytab
	// Keys, if set, supplies the keytab on each handshake instead of
	// Keytab: a *krb5.KeytabFile rereads its file when it changes, so a
	// key rotation needs no restart.
	Keys gss.KeytabSource
	// ReplayCache remembers accepted authenticators. Nil means one in
	// memory, lost on restart; an rcache.Open one survives restarts.
	ReplayCache *rcache.Cache
	// Principal is the service principal clients must have a ticket for,
	// e.g. "ceod/host.example.org"; a realm suffix is ignored (the
	// keytab entry and the ticket decide the realm). Required.
	Principal string
	// GSS configures the GSS-API acceptor (clock, entropy, skew). The
	// zero value uses the system clock and crypto/rand.
	GSS gss.Config

	// Ops maps a msgtype to the op it names. Frames of any other
	// msgtype (except wire.MsgAuth) are unknown ops.
	Ops map[wire.MsgType]Op

	// MaxFrame is the largest frame body accepted. Zero means
	// wire.DefaultMaxFrame (65536), which is also the largest value
	// used: the legacy peers cannot take more.
	MaxFrame int
	// HandshakeTimeout bounds the whole authentication phase, from
	// accept to an established context. Zero means
	// DefaultHandshakeTimeout; negative means no limit.
	HandshakeTimeout time.Duration
	// IdleTimeout bounds the wait for the next op frame once
	// authenticated, and the time to send a reply. Zero means
	// DefaultIdleTimeout; negative means no limit.
	IdleTimeout time.Duration
	// OpTimeout bounds one op: its handler's context ends after it.
	// Zero means DefaultOpTimeout; negative means no limit.
	OpTimeout time.Duration
	// MaxConns caps concurrent connections; further connections are
	// accepted and closed at once. Zero means DefaultMaxConns; negative
	// means no limit.
	MaxConns int
	// MaxConnsPerIP caps concurrent connections from one IPv4 address or
	// one IPv6 /64. Zero means DefaultMaxConnsPerIP; negative means no
	// limit.
	MaxConnsPerIP int

	// Log receives diagnostics: rejected and failed connections, panics,
	// accept errors. Nil means no diagnostics.
	Log *slog.Logger
	// Audit receives one record per authentication attempt and one per
	// op (message "audit", attribute event=auth|op). Nil means Log.
	Audit *slog.Logger

	// ConnState, if not nil, is called whenever a connection changes
	// state: with StateHandshake from the accept loop, then from the
	// connection's own goroutine.
	ConnState func(net.Conn, ConnState)

	// acceptor replaces the GSS-API acceptor built from Keytab and
	// Principal; tests set it to a fake.
	acceptor acceptor

	initOnce sync.Once
	initErr  error
	acc      acceptor
	baseCtx  context.Context
	cancel   context.CancelFunc

	inShutdown atomic.Bool
	mu         sync.Mutex
	listeners  map[*net.Listener]struct{}
	conns      map[*conn]struct{}
	perIP      map[string]int
	connWG     sync.WaitGroup
	nextID     atomic.Uint64
	rejectLog  rateLimit
}

// init validates the configuration and builds what it implies. It runs
// once; Serve reports its error.
func (s *Server) init() error {
	s.initOnce.Do(func() {
		s.baseCtx, s.cancel = context.WithCancel(context.Background())
		s.listeners = map[*net.Listener]struct{}{}
		s.conns = map[*conn]struct{}{}
		s.perIP = map[string]int{}
		if s.acceptor != nil {
			s.acc = s.acceptor
			return
		}
		switch {
		case s.Keytab == nil && s.Keys == nil:
			s.initErr = errors.New("ceod: Server.Keytab is nil: load the service keytab")
		case s.Principal == "":
			s.initErr = errors.New("ceod: Server.Principal is empty: set the service principal, e.g. ceod/<fqdn>")
		default:
			principal, _, _ := strings.Cut(s.Principal, "@")
			s.acc = &gssAcceptor{a: &gss.Acceptor{Keytab: s.Keytab, Keys: s.Keys, Principal: principal,
				Config: s.GSS, ReplayCache: s.ReplayCache}}
		}
	})
	return s.initErr
}

func (s *Server) maxFrame() int {
	if s.MaxFrame <= 0 || s.MaxFrame > wire.DefaultMaxFrame {
		return wire.DefaultMaxFrame
	}
	return s.MaxFrame
}

// timeoutOr returns d, or def if d is zero; negative means none (0).
func timeoutOr(d, def time.Duration) time.Duration {
	switch {
	case d == 0:
		return def
	case d < 0:
		return 0
	}
	return d
}

func (s *Server) handshakeTimeout() time.Duration {
	return timeoutOr(s.HandshakeTimeout, DefaultHandshakeTimeout)
}
func (s *Server) idleTimeout() time.Duration { return timeoutOr(s.IdleTimeout, DefaultIdleTimeout) }
func (s *Server) opTimeout() time.Duration   { return timeoutOr(s.OpTimeout, DefaultOpTimeout) }

// limitOr returns n, or def if n is zero; negative means unlimited (-1).
func limitOr(n, def int) int {
	switch {
	case n == 0:
		return def
	case n < 0:
		return -1
	}
	return n
}

func (s *Server) maxConns() int      { return limitOr(s.MaxConns, DefaultMaxConns) }
func (s *Server) maxConnsPerIP() int { return limitOr(s.MaxConnsPerIP, DefaultMaxConnsPerIP) }

func (s *Server) log() *slog.Logger {
	if s.Log == nil {
		return discard
	}
	return s.Log
}

func (s *Server) audit() *slog.Logger {
	if s.Audit != nil {
		return s.Audit
	}
	return s.log()
}

var discard = slog.New(slog.DiscardHandler)

// Serve accepts connections on l and serves each in its own goroutine.
// It always closes l and returns a non-nil error: ErrServerClosed after
// Shutdown or Close, a configuration error before accepting anything,
// or the listener's error. Temporary accept errors (such as running out
// of file descriptors) are retried with a backoff of 5 ms doubling to
// 1 s.
func (s *Server) Serve(l net.Listener) error {
	l = &onceCloseListener{Listener: l}
	defer l.Close()
	if err := s.init(); err != nil {
		return err
	}
	if !s.trackListener(&l, true) {
		return ErrServerClosed
	}
	defer s.trackListener(&l, false)

	var tempDelay time.Duration
	for {
		rw, err := l.Accept()
		if err != nil {
			if s.shuttingDown() {
				return ErrServerClosed
			}
			if isTemporary(err) {
				tempDelay = min(max(2*tempDelay, 5*time.Millisecond), time.Second)
				s.log().Warn("accept failed; retrying", "err", err, "delay", tempDelay)
				time.Sleep(tempDelay)
				continue
			}
			return fmt.Errorf("ceod: accept: %w", err)
		}
		tempDelay = 0
		s.admit(rw)
	}
}

// admit applies the connection limits and, if rw is within them,
// registers it and starts its goroutine; otherwise it closes rw.
func (s *Server) admit(rw net.Conn) {
	key := ipKey(rw.RemoteAddr())
	s.mu.Lock()
	var reason string
	switch {
	case s.shuttingDown():
		reason = "shutting down"
	case s.maxConns() >= 0 && len(s.conns) >= s.maxConns():
		reason = "too many connections"
	case s.maxConnsPerIP() >= 0 && s.perIP[key] >= s.maxConnsPerIP():
		reason = "too many connections from this address"
	}
	if reason != "" {
		s.mu.Unlock()
		rw.Close()
		if n, ok := s.rejectLog.allow(time.Now()); ok {
			s.log().Warn("connection refused", "remote", rw.RemoteAddr().String(), "reason", reason, "refused_since_last", n)
		}
		return
	}
	c := s.newConn(rw, key)
	s.conns[c] = struct{}{}
	s.perIP[key]++
	s.connWG.Add(1)
	s.mu.Unlock()

	c.setState(StateHandshake) // before Shutdown can look at it
	go c.serve()
}

func (s *Server) forget(c *conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.conns[c]; !ok {
		return
	}
	delete(s.conns, c)
	if s.perIP[c.ipKey]--; s.perIP[c.ipKey] <= 0 {
		delete(s.perIP, c.ipKey)
	}
}

// ipKey returns the key under which per-address limits count addr: the
// IPv4 address, or the /64 of an IPv6 address (one host's usual share).
func ipKey(addr net.Addr) string {
	ap, err := netip.ParseAddrPort(addr.String())
	if err != nil {
		return addr.String()
	}
	ip := ap.Addr().Unmap()
	if ip.Is4() {
		return ip.String()
	}
	p, _ := ip.Prefix(64)
	return p.String()
}

func isTemporary(err error) bool {
	if errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) ||
		errors.Is(err, syscall.ENOBUFS) || errors.Is(err, syscall.ENOMEM) ||
		errors.Is(err, syscall.ECONNABORTED) {
		return true
	}
	var ne interface{ Temporary() bool }
	return errors.As(err, &ne) && ne.Temporary()
}

func (s *Server) shuttingDown() bool { return s.inShutdown.Load() }

func (s *Server) trackListener(ln *net.Listener, add bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if add {
		if s.shuttingDown() {
			return false
		}
		s.listeners[ln] = struct{}{}
	} else {
		delete(s.listeners, ln)
	}
	return true
}

func (s *Server) closeListenersLocked() error {
	var err error
	for ln := range s.listeners {
		if cerr := (*ln).Close(); cerr != nil && err == nil {
			err = cerr
		}
	}
	return err
}

// shutdownPollIntervalMax is the longest Shutdown waits between checks
// for idle connections. Polling is a compromise (as in net/http): it
// keeps the connection goroutines free of shutdown signalling.
const shutdownPollIntervalMax = 200 * time.Millisecond

// Shutdown stops the server gracefully: it closes the listeners, closes
// connections that are authenticating or idle, lets running ops finish
// (their connections close once the reply is sent), and returns when no
// connection is left and every connection goroutine has returned.
//
// If ctx ends first, Shutdown returns ctx.Err() and leaves the remaining
// connections running; call Close to end them. Once Shutdown has been
// called, Serve returns ErrServerClosed and new connections are refused.
func (s *Server) Shutdown(ctx context.Context) error {
	s.inShutdown.Store(true)
	s.init() // a configuration error does not matter here
	s.mu.Lock()
	lnerr := s.closeListenersLocked()
	s.mu.Unlock()

	interval := time.Millisecond
	timer := time.NewTimer(interval)
	defer timer.Stop()
	for {
		if s.closeIdleConns() {
			s.connWG.Wait()
			return lnerr
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-timer.C:
			// Double, with 10% jitter, up to the maximum.
			interval = min(2*interval, shutdownPollIntervalMax)
			timer.Reset(interval + rand.N(interval/10+1))
		}
	}
}

// closeIdleConns closes every connection that is not running an op and
// reports whether no connection is left.
func (s *Server) closeIdleConns() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		// A connection still authenticating has submitted no op: it
		// may be a stalled or hostile client, so it must not delay the
		// shutdown.
		if c.claimClose(StateHandshake) || c.claimClose(StateIdle) {
			c.rwc.Close()
		}
	}
	return len(s.conns) == 0
}

// Close stops the server at once: it closes the listeners and every
// connection, cancels the context of running ops, and waits for the
// connection goroutines to return (handlers must honour their context).
// It returns the error of closing the listeners, if any.
func (s *Server) Close() error {
	s.inShutdown.Store(true)
	s.init() // a configuration error does not matter here
	s.mu.Lock()
	err := s.closeListenersLocked()
	for c := range s.conns {
		c.rwc.Close()
	}
	s.mu.Unlock()
	s.cancel()
	s.connWG.Wait()
	return err
}

// onceCloseListener wraps a net.Listener so that Close is idempotent:
// both Serve and Shutdown close it.
type onceCloseListener struct {
	net.Listener
	once     sync.Once
	closeErr error
}

func (oc *onceCloseListener) Close() error {
	oc.once.Do(func() { oc.closeErr = oc.Listener.Close() })
	return oc.closeErr
}

// rateLimit lets one event through per second and counts the rest, so
// a flood of refused connections cannot flood the log too.
type rateLimit struct {
	mu         sync.Mutex
	last       time.Time
	suppressed int
}

// allow reports whether to log now, and how many events were suppressed
// since the last one logged.
func (r *rateLimit) allow(now time.Time) (int, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if now.Sub(r.last) < time.Second {
		r.suppressed++
		return 0, false
	}
	n := r.suppressed
	r.last, r.suppressed = now, 0
	return n, true
}
