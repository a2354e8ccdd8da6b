package server

import "sync/atomic"

// maxIdleWorkers bounds the worker goroutines kept waiting for the next
// handshake or op. Each keeps the stack it grew (up to tens of KB for
// a handshake), so they cost at most a few MB; 64 covers the ops and
// handshakes that run at once on a busy host, and more are started
// when needed.
const maxIdleWorkers = 64

// inlineBelowConns is the connection count below which handshakes and
// ops run on the connection's own goroutine (see onOwnStack): 256
// connections with grown stacks (a few KB each) cost about a MB, and the
// runtime shrinks idle stacks at each GC once the count rises.
const inlineBelowConns = 256

// manyConns reports whether the server holds inlineBelowConns
// connections or more: then memory per waiting connection counts more
// than a microsecond per op, so ops run on workers and new contexts keep
// no key schedules.
func (s *Server) manyConns() bool { return s.nconns.Load() >= inlineBelowConns }

// workers runs the handshakes and ops of all connections (see
// onOwnStack) on goroutines that outlive them, so that their grown
// stacks are reused: a fresh goroutine starts with the smallest stack
// and copies it each time it doubles, which costs about a tenth of a
// ping.
type workers struct {
	jobs chan func()
	idle atomic.Int32
	done <-chan struct{} // closed when the server stops: idle workers exit
}

func newWorkers(done <-chan struct{}) *workers {
	return &workers{jobs: make(chan func()), done: done}
}

// run runs f on an idle worker, or on a new one if none is idle.
func (w *workers) run(f func()) {
	select {
	case w.jobs <- f:
	default:
		go w.work(f)
	}
}

func (w *workers) work(f func()) {
	for {
		f()
		f = nil // an idle worker must not keep a finished job's connection
		if w.idle.Add(1) > maxIdleWorkers {
			w.idle.Add(-1)
			return
		}
		select {
		case f = <-w.jobs:
			w.idle.Add(-1)
		case <-w.done:
			w.idle.Add(-1)
			return
		}
	}
}
