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
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
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
// call to Serve and do not change them afterwards; Reconfigure changes
// the limits and the caller mapping of a running server.
//
// Memory is bounded by Limits (see its doc).
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
	// e.g. "ceod/host.example.org". Its realm, given as a suffix or
	// taken from the keytab entry, is the local realm of Callers.
	// Required.
	Principal string
	// GSS configures the GSS-API acceptor (clock, entropy, skew). The
	// zero value uses the system clock and crypto/rand.
	GSS gss.Config

	// Ops maps a msgtype to the op it names. Frames of any other
	// msgtype (except wire.MsgAuth) are unknown ops.
	Ops map[wire.MsgType]Op

	// Limits bound connections, time and memory; the zero value means
	// the defaults.
	Limits Limits
	// Callers maps authenticated principals to the callers ops see.
	Callers Callers

	// Log receives diagnostics: failed connections (aggregated per
	// address, see FailureLogInterval), panics, accept errors. Nil means
	// no diagnostics.
	Log *slog.Logger
	// Audit receives one record per successful authentication, per
	// refused caller and per op (message "audit", attribute
	// event=auth|op). Nil means Log.
	Audit *slog.Logger

	// ConnState, if not nil, is called whenever a connection changes
	// state: with StateHandshake from the accept loop, then from the
	// connection's own goroutine.
	ConnState func(net.Conn, ConnState)

	// acceptor replaces the GSS-API acceptor built from Keytab and
	// Principal; tests set it to a fake.
	acceptor acceptor
	// failInterval replaces FailureLogInterval in tests.
	failInterval time.Duration

	initOnce   sync.Once
	initErr    error
	acc        acceptor
	localRealm string
	current    atomic.Pointer[settings]
	baseCtx    context.Context
	cancel     context.CancelFunc
	failures   *failureLog

	inShutdown atomic.Bool
	nconns     atomic.Int32 // len(conns), read without mu by manyConns
	mu         sync.Mutex
	listeners  map[*net.Listener]struct{}
	conns      map[*conn]struct{}
	pool       pool
	connWG     sync.WaitGroup
	bufs       bufPool
	work       *workers
	endedCtx   context.Context // canceled: see opContext.end
	auditAuth  *slog.Logger    // audit() with event=auth
	auditOps   *slog.Logger    // audit() with event=op
	nextID     atomic.Uint64
}

// settings are what Reconfigure changes, swapped as a whole.
type settings struct {
	lim     Limits // with defaults
	callers Callers
}

// init validates the configuration and builds what it implies. It runs
// once; Serve reports its error.
func (s *Server) init() error {
	s.initOnce.Do(func() {
		s.baseCtx, s.cancel = context.WithCancel(context.Background())
		s.work = newWorkers(s.baseCtx.Done())
		var endOps context.CancelFunc
		s.endedCtx, endOps = context.WithCancel(s.baseCtx)
		endOps()
		s.auditAuth = s.audit().With(slog.String("event", "auth"))
		s.auditOps = s.audit().With(slog.String("event", "op"))
		s.listeners = map[*net.Listener]struct{}{}
		s.conns = map[*conn]struct{}{}
		s.pool = newPool()
		s.failures = newFailureLog(s.log(), cmp.Or(s.failInterval, FailureLogInterval))
		s.current.Store(&settings{lim: s.Limits.WithDefaults(), callers: s.Callers})
		principal, realm, _ := strings.Cut(s.Principal, "@")
		s.acc = s.acceptor
		switch {
		case s.acc != nil:
		case s.Keytab == nil && s.Keys == nil:
			s.initErr = errors.New("ceod: Server.Keytab is nil: load the service keytab")
		case principal == "":
			s.initErr = errors.New("ceod: Server.Principal is empty: set the service principal, e.g. ceod/<fqdn>")
		default:
			s.acc = &gssAcceptor{a: &gss.Acceptor{Keytab: s.Keytab, Keys: s.Keys, Principal: principal,
				Config: s.GSS, ReplayCache: s.ReplayCache}}
		}
		s.localRealm = realm
		if s.localRealm == "" {
			s.localRealm = keytabRealm(s.Keytab, s.Keys, principal)
		}
		if s.initErr == nil && s.localRealm == "" && len(s.Callers.Realms) == 0 {
			s.initErr = errors.New("ceod: cannot tell the local realm: give Server.Principal a realm or set Callers.Realms")
		}
	})
	return s.initErr
}

// keytabRealm returns the realm of the first entry for principal
// (without realm) in keys' keytab or else kt, or "".
func keytabRealm(kt *keytab.Keytab, keys gss.KeytabSource, principal string) string {
	if keys != nil {
		kt, _ = keys.Keytab()
	}
	if kt == nil {
		return ""
	}
	for _, e := range kt.Entries {
		if strings.Join(e.Principal.Components, "/") == principal {
			return e.Principal.Realm
		}
	}
	return ""
}

// Reconfigure replaces the limits and the caller mapping of a running
// server (ceod's SIGHUP). New limits apply to new connections and to
// the next step of existing ones; connections already over a lowered
// limit are not closed.
func (s *Server) Reconfigure(l Limits, c Callers) {
	s.init() // a configuration error is Serve's to report
	s.current.Store(&settings{lim: l.WithDefaults(), callers: c})
}

func (s *Server) settings() *settings { return s.current.Load() }

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

// admit applies the admission limits (see Limits) and, if rw is within
// them, registers it and starts its goroutine; otherwise it closes rw.
// Connections displaced to make room are closed here.
func (s *Server) admit(rw net.Conn) {
	c := s.newConn(rw, ipKey(rw.RemoteAddr()))
	s.mu.Lock()
	victims, reason := []*conn(nil), "shutting down"
	if !s.shuttingDown() {
		victims, reason = s.pool.admit(c, s.settings().lim, len(s.conns))
	}
	if reason != "" {
		s.mu.Unlock()
		closeAll(victims)
		rw.Close()
		s.failures.note(c.ipKey, reasonRefused, errors.New(reason))
		return
	}
	s.conns[c] = struct{}{}
	s.nconns.Store(int32(len(s.conns)))
	s.connWG.Add(1)
	s.mu.Unlock()
	closeAll(victims)

	c.setState(StateHandshake) // before Shutdown can look at it
	go c.serve()
}

func (s *Server) forget(c *conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pool.forget(c)
	delete(s.conns, c)
	s.nconns.Store(int32(len(s.conns)))
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
			s.cancel() // no op runs any more: ends the idle workers
			s.failures.close()
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
	s.failures.close()
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
