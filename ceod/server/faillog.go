package server

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"
)

// FailureLogInterval is the shortest time between two log lines about
// the unauthenticated connections of one address. The first failure of
// a quiet address is logged at once; a flood then gives one line per
// address per interval, with counts, so that it cannot push real audit
// lines out of a rate-limited journal.
const FailureLogInterval = 10 * time.Second

// maxFailureAddrs bounds the addresses the failure log tracks at once
// (its memory, against a flood from many IPv6 /64s); failures from
// further addresses are counted under otherAddrs.
const (
	maxFailureAddrs = 4096
	otherAddrs      = "other"
)

// Reasons an unauthenticated connection ended, as counted in the
// failure log. reasonNoToken (closed before sending anything, such as a
// port probe) alone is logged at debug level.
const (
	reasonNoToken       = "no_token"
	reasonTimeout       = "handshake_timeout"
	reasonDisplaced     = "displaced"
	reasonBudget        = "preauth_bytes"
	reasonRefused       = "refused"
	reasonAuthFailed    = "auth_failed"
	reasonProtocol      = "protocol_error"
	reasonCaller        = "caller_refused"
	reasonPrincipalFull = "principal_limit"
	reasonError         = "error"
)

// failureLog aggregates the diagnostics of connections that end before
// authentication: at most one line per address per interval, naming
// how many ended for which reason, and the first error of the interval.
// Authenticated ops are audited elsewhere, line by line, never here.
type failureLog struct {
	log      *slog.Logger
	interval time.Duration
	now      func() time.Time

	mu      sync.Mutex
	addrs   map[string]*failures
	running bool // a flush goroutine is running
	stopped bool
	wg      sync.WaitGroup
	stop    chan struct{}
}

type failures struct {
	counts map[string]int
	n      int
	first  string    // first error since the last line
	logged time.Time // when the last line was written
}

func newFailureLog(log *slog.Logger, interval time.Duration) *failureLog {
	return &failureLog{log: log, interval: interval, now: time.Now, addrs: map[string]*failures{},
		stop: make(chan struct{})}
}

// note records that a connection from addr ended for reason, with err
// (may be nil). It writes a line at once if addr had none in the last
// interval; otherwise the flush goroutine writes it later.
func (f *failureLog) note(addr, reason string, err error) {
	now := f.now()
	f.mu.Lock()
	e := f.addrs[addr]
	if e == nil {
		if len(f.addrs) >= maxFailureAddrs {
			addr = otherAddrs
			e = f.addrs[addr]
		}
		if e == nil {
			e = &failures{counts: map[string]int{}}
			f.addrs[addr] = e
		}
	}
	e.counts[reason]++
	e.n++
	if e.first == "" && err != nil {
		e.first = err.Error()
	}
	var line *logLine
	if now.Sub(e.logged) >= f.interval {
		line = e.take(addr, now)
	}
	if !f.running && !f.stopped {
		f.running = true
		f.wg.Add(1)
		go f.flushLoop()
	}
	f.mu.Unlock()
	line.write(f.log)
}

// logLine is one aggregated line, built under the lock, written after.
type logLine struct {
	level slog.Level
	attrs []slog.Attr
}

func (l *logLine) write(log *slog.Logger) {
	if l != nil {
		log.LogAttrs(context.Background(), l.level, "unauthenticated connections ended", l.attrs...)
	}
}

// take turns the counts into a line and resets them.
func (e *failures) take(addr string, now time.Time) *logLine {
	reasons := make([]string, 0, len(e.counts))
	for r, n := range e.counts {
		reasons = append(reasons, fmt.Sprintf("%s:%d", r, n))
	}
	slices.Sort(reasons)
	level := slog.LevelWarn
	if len(e.counts) == 1 && e.counts[reasonNoToken] > 0 {
		level = slog.LevelDebug
	}
	attrs := []slog.Attr{slog.String("remote", addr), slog.Int("count", e.n),
		slog.String("reasons", strings.Join(reasons, " "))}
	if !e.logged.IsZero() {
		attrs = append(attrs, slog.Duration("since_last", now.Sub(e.logged).Round(time.Millisecond)))
	}
	if e.first != "" {
		attrs = append(attrs, slog.String("err", e.first))
	}
	clear(e.counts)
	e.n, e.first, e.logged = 0, "", now
	return &logLine{level: level, attrs: attrs}
}

// flushLoop writes the pending counts of each address once its interval
// is over, forgets quiet addresses, and ends when none is left.
func (f *failureLog) flushLoop() {
	defer f.wg.Done()
	t := time.NewTicker(max(f.interval/4, time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-f.stop:
			f.flush(true)
			return
		case <-t.C:
		}
		if f.flush(false) {
			return
		}
	}
}

// flush writes what is due (all, if final) and reports whether the
// loop may end.
func (f *failureLog) flush(final bool) bool {
	now := f.now()
	var lines []*logLine
	f.mu.Lock()
	for addr, e := range f.addrs {
		due := now.Sub(e.logged) >= f.interval
		switch {
		case e.n > 0 && (due || final):
			lines = append(lines, e.take(addr, now))
		case e.n == 0 && due:
			delete(f.addrs, addr)
		}
	}
	done := len(f.addrs) == 0 || final
	if done {
		f.running = false
	}
	f.mu.Unlock()
	for _, l := range lines {
		l.write(f.log)
	}
	return done
}

// close writes what is pending and stops the flush goroutine.
func (f *failureLog) close() {
	f.mu.Lock()
	if !f.stopped {
		f.stopped = true
		close(f.stop)
	}
	f.mu.Unlock()
	f.wg.Wait()
	f.flush(true)
}
