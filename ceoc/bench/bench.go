// Package bench measures a ceod from the client side: full handshakes
// (connect, authenticate, one op, close) per second, ops per second on
// established connections, their latency percentiles, and the memory
// ceod needs for many idle authenticated connections.
//
// It is used by "ceoc bench" and by the Go benchmarks of ceod.
package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/csclub/ceo/ceoc"
)

// Config describes one load run.
type Config struct {
	Client      *ceoc.Client
	Op          string        // op to send; empty means "ping"
	Request     []byte        // request body (may be empty)
	Concurrency int           // concurrent clients; <= 0 means 1
	Duration    time.Duration // how long to run; <= 0 means 5s
	Count       int           // if > 0, run exactly this many iterations instead
	// CeodPid, if > 0, is ceod's process id on this host: the run
	// then reports ceod's CPU time (user+system) per iteration.
	CeodPid int
}

func (c *Config) op() string {
	if c.Op == "" {
		return "ping"
	}
	return c.Op
}

// Result summarizes a load run. Latencies are those of successful
// iterations.
type Result struct {
	Mode        string // "handshake" or "ops"
	Concurrency int
	Count       int // successful iterations
	Errors      int
	FirstErr    error
	Elapsed     time.Duration
	P50, P99    time.Duration
	Max         time.Duration
	CeodCPU     time.Duration // ceod's user+system CPU during the run, if Config.CeodPid was set
	// ClientCPU is this process's user+system CPU during the run: the
	// load's own cost, which shares the machine with ceod. Not
	// measured when ceod runs in this process.
	ClientCPU time.Duration
}

// CPUPerOp returns ceod's CPU time per successful iteration, or 0 if
// it was not measured.
func (r Result) CPUPerOp() time.Duration { return r.perOp(r.CeodCPU) }

// ClientCPUPerOp returns this process's CPU time per successful
// iteration, or 0 if it was not measured.
func (r Result) ClientCPUPerOp() time.Duration { return r.perOp(r.ClientCPU) }

func (r Result) perOp(d time.Duration) time.Duration {
	if r.Count == 0 {
		return 0
	}
	return d / time.Duration(r.Count)
}

// Rate returns successful iterations per second.
func (r Result) Rate() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Count) / r.Elapsed.Seconds()
}

func (r Result) String() string {
	s := fmt.Sprintf("%-9s c=%-3d n=%-7d %9.0f/s  p50=%-9v p99=%-9v max=%-9v errors=%d",
		r.Mode, r.Concurrency, r.Count, r.Rate(), r.P50.Round(time.Microsecond), r.P99.Round(time.Microsecond),
		r.Max.Round(time.Microsecond), r.Errors)
	if r.CeodCPU > 0 {
		s += fmt.Sprintf(" ceod-cpu=%v/op", r.CPUPerOp().Round(time.Microsecond))
	}
	if r.ClientCPU > 0 {
		s += fmt.Sprintf(" client-cpu=%v/op", r.ClientCPUPerOp().Round(time.Microsecond))
	}
	if r.FirstErr != nil {
		s += " first error: " + r.FirstErr.Error()
	}
	return s
}

// Handshakes runs full round trips: each iteration connects,
// authenticates, sends one op, reads the reply and closes.
func Handshakes(ctx context.Context, cfg Config) Result {
	op := cfg.op()
	return run(ctx, "handshake", cfg, func(ctx context.Context) (func(context.Context) error, func(), error) {
		return func(ctx context.Context) error {
			_, err := cfg.Client.Call(ctx, op, cfg.Request)
			return err
		}, func() {}, nil
	})
}

// Ops sends ops on established connections: each concurrent client
// opens one connection first and then sends ops back to back.
func Ops(ctx context.Context, cfg Config) Result {
	op := cfg.op()
	return run(ctx, "ops", cfg, func(ctx context.Context) (func(context.Context) error, func(), error) {
		conn, err := cfg.Client.Dial(ctx, op)
		if err != nil {
			return nil, nil, err
		}
		return func(ctx context.Context) error {
			_, err := conn.Call(ctx, op, cfg.Request)
			return err
		}, func() { conn.Close() }, nil
	})
}

// setupFunc prepares one worker and returns its iteration and cleanup.
type setupFunc func(ctx context.Context) (iter func(context.Context) error, cleanup func(), err error)

func run(ctx context.Context, mode string, cfg Config, setup setupFunc) Result {
	conc := max(cfg.Concurrency, 1)
	dur := cfg.Duration
	if dur <= 0 {
		dur = 5 * time.Second
	}
	type worker struct {
		lat      []time.Duration
		errs     int
		firstErr error
	}
	workers := make([]worker, conc)

	// Set every worker up before the clock starts.
	iters := make([]func(context.Context) error, conc)
	var cleanups []func()
	defer func() {
		for _, f := range cleanups {
			f()
		}
	}()
	for i := range conc {
		it, cl, err := setup(ctx)
		if err != nil {
			return Result{Mode: mode, Concurrency: conc, Errors: 1, FirstErr: err}
		}
		iters[i] = it
		cleanups = append(cleanups, cl)
	}

	runCtx, cancel := context.WithTimeout(ctx, dur)
	defer cancel()
	// Iterations are not cut short by the end of the run (the clock
	// stops after the last one finishes), but a hung ceod must not hang
	// the run.
	iterCtx, iterCancel := context.WithTimeout(ctx, dur+time.Minute)
	defer iterCancel()
	if cfg.Count > 0 {
		runCtx, iterCtx = ctx, ctx // no time limit
	}
	self := os.Getpid()
	self0, selfErr := time.Duration(0), error(nil)
	if cfg.CeodPid != self {
		self0, selfErr = CPUTime(self)
	}
	var cpu0 time.Duration
	if cfg.CeodPid > 0 {
		var err error
		if cpu0, err = CPUTime(cfg.CeodPid); err != nil {
			return Result{Mode: mode, Concurrency: conc, Errors: 1, FirstErr: err}
		}
	}
	start := time.Now()
	var wg sync.WaitGroup
	for i := range conc {
		w := &workers[i]
		// With a Count, worker i runs its share of it.
		share := -1
		if cfg.Count > 0 {
			share = cfg.Count / conc
			if i < cfg.Count%conc {
				share++
			}
		}
		w.lat = make([]time.Duration, 0, max(share, 1024))
		wg.Go(func() {
			// Contexts of the worker's own: every op registers with
			// its context (ceoc.Conn.Call) and checks the run's, and
			// shared ones would serialize the workers on their mutex.
			runCtx, cancelRun := context.WithCancel(runCtx)
			defer cancelRun()
			iterCtx, cancelIter := context.WithCancel(iterCtx)
			defer cancelIter()
			for n := 0; n != share && runCtx.Err() == nil; n++ {
				t0 := time.Now()
				err := iters[i](iterCtx)
				if err != nil {
					w.errs++
					if w.firstErr == nil {
						w.firstErr = err
					}
					if mode == "ops" {
						return // the connection is broken
					}
					continue
				}
				w.lat = append(w.lat, time.Since(t0))
			}
		})
	}
	wg.Wait()
	res := Result{Mode: mode, Concurrency: conc, Elapsed: time.Since(start)}
	if cfg.CeodPid > 0 {
		cpu1, err := CPUTime(cfg.CeodPid)
		if err != nil {
			res.Errors++
			res.FirstErr = err
		}
		res.CeodCPU = cpu1 - cpu0
	}
	if cfg.CeodPid != self && selfErr == nil {
		if self1, err := CPUTime(self); err == nil {
			res.ClientCPU = self1 - self0
		}
	}
	var all []time.Duration
	for _, w := range workers {
		all = append(all, w.lat...)
		res.Errors += w.errs
		if res.FirstErr == nil {
			res.FirstErr = w.firstErr
		}
	}
	res.Count = len(all)
	res.P50, res.P99, res.Max = Percentile(all, 50), Percentile(all, 99), Percentile(all, 100)
	return res
}

// Percentile returns the p-th percentile (0 < p <= 100) of d, nearest
// rank, sorting d in place. It returns 0 for an empty slice.
func Percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	if !slices.IsSorted(d) {
		slices.Sort(d)
	}
	i := int(float64(len(d))*p/100+0.5) - 1
	return d[min(max(i, 0), len(d)-1)]
}

// OpenIdle opens n authenticated connections to the ceod owning op,
// with at most parallel handshakes at a time, and sends one op on each
// so that ceod has served it. The caller closes them. On error the
// connections opened so far are closed.
func OpenIdle(ctx context.Context, c *ceoc.Client, op string, req []byte, n, parallel int) ([]*ceoc.Conn, error) {
	if op == "" {
		op = "ping"
	}
	conns := make([]*ceoc.Conn, n)
	sem := make(chan struct{}, max(parallel, 1))
	var (
		mu       sync.Mutex
		firstErr error
		wg       sync.WaitGroup
	)
	for i := range n {
		sem <- struct{}{}
		mu.Lock()
		failed := firstErr != nil
		mu.Unlock()
		if failed {
			break
		}
		wg.Go(func() {
			defer func() { <-sem }()
			conn, err := c.Dial(ctx, op)
			if err == nil {
				if _, err = conn.Call(ctx, op, req); err != nil {
					conn.Close()
				}
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if firstErr == nil {
					firstErr = fmt.Errorf("connection %d: %w", i, err)
				}
				return
			}
			conns[i] = conn
		})
	}
	wg.Wait()
	if firstErr != nil {
		CloseAll(conns)
		return nil, firstErr
	}
	return conns, nil
}

// CloseAll closes every non-nil connection.
func CloseAll(conns []*ceoc.Conn) {
	for _, c := range conns {
		if c != nil {
			c.Close()
		}
	}
}

// RSS returns the resident set size of process pid, from
// /proc/PID/status (Linux only).
func RSS(pid int) (int64, error) { return procStatus(pid, "VmRSS:") }

// procStatus returns the size in bytes that /proc/PID/status gives for
// key ("VmRSS:", "VmHWM:").
func procStatus(pid int, key string) (int64, error) {
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, fmt.Errorf("bench: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), key); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("bench: parsing %s of %d: %w", key, pid, err)
			}
			return kb << 10, nil
		}
	}
	return 0, errors.New("bench: no " + key + " in /proc/" + strconv.Itoa(pid) + "/status")
}

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat:
// 100 on every Linux architecture (sysconf(_SC_CLK_TCK) needs cgo).
const clockTicks = 100

// CPUTime returns the user+system CPU time process pid has used, from
// /proc/PID/stat (Linux only; 10 ms resolution, so measure runs of
// seconds).
func CPUTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, fmt.Errorf("bench: %w", err)
	}
	// The command name (field 2) is in parentheses and may hold spaces;
	// the fields after it start with field 3, the state.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, fmt.Errorf("bench: malformed /proc/%d/stat", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	const utime, stime = 14 - 3, 15 - 3 // field numbers from proc(5)
	if len(f) <= stime {
		return 0, fmt.Errorf("bench: short /proc/%d/stat", pid)
	}
	var ticks int64
	for _, s := range []string{f[utime], f[stime]} {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("bench: parsing /proc/%d/stat: %w", pid, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / clockTicks, nil
}

// RaiseFileLimit raises this process's soft RLIMIT_NOFILE to want, or
// to the hard limit if that is lower, and returns the new soft limit.
func RaiseFileLimit(want uint64) (uint64, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, fmt.Errorf("bench: getrlimit: %w", err)
	}
	if lim.Cur >= want {
		return lim.Cur, nil
	}
	lim.Cur = min(want, lim.Max)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, fmt.Errorf("bench: setrlimit: %w", err)
	}
	return lim.Cur, nil
}
