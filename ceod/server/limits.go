package server

import (
	"net"
	"time"

	"github.com/csclub/ceo/wire"
)

// The defaults of Limits, each with its reason. ceod.cf (package
// ceod/config) uses these values; they are defined nowhere else.
const (
	// DefaultMaxFrame: the legacy peers take no larger body.
	DefaultMaxFrame = wire.DefaultMaxFrame
	// DefaultHandshakeTimeout: a Kerberos handshake takes milliseconds;
	// 10 s leaves room for a slow link and cuts off a silent connection.
	DefaultHandshakeTimeout = 10 * time.Second
	// DefaultIdleTimeout: ceoc and ceo send their ops back to back; a
	// minute of silence means the client is gone.
	DefaultIdleTimeout = 60 * time.Second
	// DefaultWriteTimeout: a reply is at most one frame (64 KiB), which
	// any live client takes in well under 30 s; a client that does not
	// read must not hold a goroutine and a buffer for longer.
	DefaultWriteTimeout = 30 * time.Second
	// DefaultOpTimeout: adduser, the slowest op, takes a few seconds;
	// two minutes covers a slow LDAP or KDC without letting a stuck
	// handler run forever.
	DefaultOpTimeout = 120 * time.Second
	// DefaultMaxConns: every connection holds a file descriptor and
	// about 25 KB; 8192 stays inside a systemd service's default
	// descriptor limit and about 200 MB.
	DefaultMaxConns = 8192
	// DefaultMaxStartups: unauthenticated connections cost the attacker
	// nothing, so they have their own pool. Each one costs ceod about
	// 12 KB (goroutine, socket, state): 4096 of them about 50 MB. The
	// pool is large because a new connection displaces the oldest one
	// when it is full, and a genuine client then has MaxStartups divided
	// by the attacker's dial rate to finish its handshake.
	DefaultMaxStartups = 4096
	// DefaultMaxStartupsPerAddr: by default one address may fill the
	// pool. Displacement already keeps the door open to others (a
	// flood's connections are the oldest, so they go first), and a
	// smaller share backfires: a flood from one address beyond its
	// share waits in the kernel's accept queue, which is FIFO, so every
	// genuine client queues behind it (measured: 1.3 s with a share of
	// 1024 against 4096 junk connections, ms with the whole pool). A
	// lower value suits a host that must bound one address.
	DefaultMaxStartupsPerAddr = DefaultMaxStartups
	// DefaultMaxConnsPerPrincipal: a runaway script of one member must
	// not take every descriptor; 256 is far above any real use (ceo
	// keeps one connection).
	DefaultMaxConnsPerPrincipal = 256
	// DefaultPreAuthBytes: the frame bodies held by unauthenticated
	// connections, together. 32 MiB is 512 full 64 KiB bodies; a
	// genuine AP-REQ is about 1 KB and is read at once. With Go's
	// garbage collector the heap stays under about twice this plus the
	// pool's own cost: see Limits.
	DefaultPreAuthBytes = 32 << 20
)

// Limits bound what clients can make ceod spend. A zero field means its
// Default; a negative timeout means none, a negative count or size means
// unlimited (for tests).
//
// Admission follows OpenSSH's MaxStartups, with displacement instead of
// refusal. A connection is in the pre-authentication pool from accept
// until it has read its whole MSG_AUTH frame (then it is verified, which
// takes CPU, not the client's time, and it cannot be displaced). When a
// new connection finds the pool full, for its own address
// (MaxStartupsPerAddr) or in total (MaxStartups), it displaces the
// oldest waiting connection of that address or of all, which is closed
// without a reply. Oldest, not random: a genuine client sends its token
// at once, so it is never the oldest for long, and under a flood of rate
// R it has a deterministic MaxStartups/R (per address: MaxStartupsPerAddr/R)
// to finish instead of a random, sometimes tiny, one. Authenticated
// connections leave the pool; they count only against
// MaxConnsPerPrincipal and MaxConns. A connection over MaxConns displaces
// the oldest waiting one, and is refused only if none waits.
//
// The pool should hold a flood whole: connections beyond it wait in the
// kernel's accept queue (FIFO, up to net.core.somaxconn), and a genuine
// client then waits behind them, however fast ceod displaces. Hence the
// large default.
//
// Memory bound. Frame bodies of unauthenticated connections are counted
// against PreAuthBytes before they are allocated; a body that does not
// fit displaces the oldest waiting connections holding one, and the
// connection is closed if that frees too little. So the pre-auth state
// is at most MaxStartups*12 KB + PreAuthBytes live (defaults: ~50 MB +
// 32 MiB), and the heap, with the collector's headroom, about twice that:
// under 256 MB with 4096 connections each sending 65,535 bytes of a
// 65,536-byte body. Authenticated connections add at most MaxFrame each
// while one of their frames is being read.
type Limits struct {
	// MaxFrame is the largest frame body accepted; larger values are
	// capped at DefaultMaxFrame.
	MaxFrame int
	// HandshakeTimeout bounds the authentication phase, from accept to
	// an established context.
	HandshakeTimeout time.Duration
	// IdleTimeout bounds the wait for the next op frame once
	// authenticated.
	IdleTimeout time.Duration
	// WriteTimeout bounds sending one reply.
	WriteTimeout time.Duration
	// OpTimeout bounds one op: its handler's context ends after it.
	OpTimeout time.Duration
	// MaxConns caps all connections.
	MaxConns int
	// MaxStartups caps unauthenticated connections waiting for their
	// token.
	MaxStartups int
	// MaxStartupsPerAddr caps those from one IPv4 address or IPv6 /64.
	MaxStartupsPerAddr int
	// MaxConnsPerPrincipal caps authenticated connections of one
	// principal.
	MaxConnsPerPrincipal int
	// PreAuthBytes caps the frame bodies held by unauthenticated
	// connections together.
	PreAuthBytes int64
}

// WithDefaults returns l with every zero field set to its default and
// every "none" (negative) field normalised: timeouts to 0, counts and
// sizes to -1.
func (l Limits) WithDefaults() Limits {
	if l.MaxFrame <= 0 || l.MaxFrame > wire.DefaultMaxFrame {
		l.MaxFrame = DefaultMaxFrame
	}
	l.HandshakeTimeout = timeoutOr(l.HandshakeTimeout, DefaultHandshakeTimeout)
	l.IdleTimeout = timeoutOr(l.IdleTimeout, DefaultIdleTimeout)
	l.WriteTimeout = timeoutOr(l.WriteTimeout, DefaultWriteTimeout)
	l.OpTimeout = timeoutOr(l.OpTimeout, DefaultOpTimeout)
	l.MaxConns = limitOr(l.MaxConns, DefaultMaxConns)
	l.MaxStartups = limitOr(l.MaxStartups, DefaultMaxStartups)
	l.MaxStartupsPerAddr = limitOr(l.MaxStartupsPerAddr, DefaultMaxStartupsPerAddr)
	l.MaxConnsPerPrincipal = limitOr(l.MaxConnsPerPrincipal, DefaultMaxConnsPerPrincipal)
	l.PreAuthBytes = int64(limitOr(int(l.PreAuthBytes), DefaultPreAuthBytes))
	return l
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

// over reports whether n has reached limit (-1: unlimited).
func over[T int | int64](n, limit T) bool { return limit >= 0 && n >= limit }

// deadline returns the time d from now, or no deadline if d is 0.
func deadline(d time.Duration) time.Time {
	if d <= 0 {
		return time.Time{}
	}
	return time.Now().Add(d)
}

// deadlines are the read and write deadlines an op connection has set,
// so that ops refresh them only when they have moved by more than
// deadlineSlack: setting a deadline modifies a runtime timer, two per op
// otherwise, and a timeout of seconds or minutes does not need
// microseconds. A timeout T is thus enforced after at least T less its
// slack (at most a sixteenth of T, and a second).
type deadlines struct {
	read, write time.Time
}

// maxDeadlineSlack caps how early a refreshed deadline may fall: a
// second is nothing to an idle timeout of minutes or a write timeout of
// 30 s.
const maxDeadlineSlack = time.Second

// deadlineSlack is how far a deadline for timeout d may lag behind.
func deadlineSlack(d time.Duration) time.Duration {
	return min(d/16, maxDeadlineSlack)
}

func (dl *deadlines) setRead(c net.Conn, d time.Duration) {
	if t, ok := dl.refresh(dl.read, d); ok {
		dl.read = t
		c.SetReadDeadline(t)
	}
}

func (dl *deadlines) setWrite(c net.Conn, d time.Duration) {
	if t, ok := dl.refresh(dl.write, d); ok {
		dl.write = t
		c.SetWriteDeadline(t)
	}
}

// refresh returns the deadline to set for timeout d, and false if cur,
// the one set, is no later than it and within d's slack of it (a
// shortened timeout, reloaded, takes effect at once).
func (dl *deadlines) refresh(cur time.Time, d time.Duration) (time.Time, bool) {
	want := deadline(d)
	if want.IsZero() || cur.IsZero() {
		return want, !want.Equal(cur)
	}
	lag := want.Sub(cur)
	return want, lag < 0 || lag > deadlineSlack(d)
}
