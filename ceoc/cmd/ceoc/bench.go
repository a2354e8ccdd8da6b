package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/csclub/ceo/ceoc"
	"github.com/csclub/ceo/ceoc/bench"
)

// runBench is "ceoc bench": load a ceod and print throughput, latency
// and, with -ceod-pid, its CPU time per op and memory with many idle
// connections.
func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ceoc bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cf clientFlags
	cf.register(fs)
	var (
		mode     = fs.String("mode", "all", "what to measure: handshake, ops, idle, all, or flood (not part of all)")
		op       = fs.String("op", "ping", "op to send")
		body     = fs.String("body", "", "request body to send with each op (text; e.g. a user name and newline for mailman)")
		conc     = fs.String("c", "1,16,64", "comma-separated concurrency levels")
		dur      = fs.Duration("d", 5*time.Second, "duration of each run")
		idle     = fs.Int("idle", 10000, "connections to open for -mode idle")
		parallel = fs.Int("idle-parallel", 32, "concurrent handshakes while opening idle connections")
		hold     = fs.Duration("hold", 2*time.Second, "how long to hold the idle connections before measuring")
		pid      = fs.Int("ceod-pid", 0, "ceod's process id, to report its CPU time per op and its RSS (same host only)")
		fconns   = fs.Int("flood-conns", 4096, "-mode flood: junk connections held at once, each re-dialled when ceod closes it")
		faddrs   = fs.Int("flood-addrs", 1, "-mode flood: loopback addresses to flood from (127.0.0.1 and up)")
		fjunk    = fs.String("flood-junk", "idle", "-mode flood: what junk connections send: idle, header, body (65,535 of a 65,536-byte token) or empty")
		fdur     = fs.Duration("flood-duration", 20*time.Second, "-mode flood: how long to flood")
		cpuprof  = fs.String("cpuprofile", "", "write a CPU profile of this load tool (pprof format) to this file")
	)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: ceoc bench [flags]\n\nMeasures the ceod owning -op: full handshake+op round trips per second,\nops per second on established connections, latency, its own CPU time per\nop (client-cpu: the load shares the machine), and, with -ceod-pid, ceod's\nCPU time per op (utime+stime from /proc) and its RSS with many idle\nauthenticated connections.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil || fs.NArg() != 0 {
		return 2
	}
	var levels []int
	for _, s := range strings.Split(*conc, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			fmt.Fprintf(stderr, "ceoc bench: bad concurrency %q\n", s)
			return 2
		}
		levels = append(levels, n)
	}
	c, err := cf.client()
	if err != nil {
		fmt.Fprintf(stderr, "ceoc bench: %v\n", err)
		return 2
	}
	if *cpuprof != "" {
		stop, err := startCPUProfile(*cpuprof)
		if err != nil {
			fmt.Fprintf(stderr, "ceoc bench: %v\n", err)
			return 1
		}
		defer stop()
	}
	// Fail early, with the client's own message, if nothing works.
	if _, err := c.Call(ctx, *op, nil); err != nil {
		fmt.Fprintln(stderr, oneLine(err.Error()))
		return 1
	}
	if *mode == "flood" {
		return benchFlood(ctx, c, *op, bench.FloodConfig{Conns: *fconns, Sources: loopbacks(*faddrs),
			Junk: bench.Junk(*fjunk), Duration: *fdur, RSSPid: *pid}, stdout, stderr)
	}
	failed := false
	report := func(r bench.Result) {
		fmt.Fprintln(stdout, r)
		if r.Errors > 0 {
			failed = true
		}
	}
	for _, m := range []string{"handshake", "ops"} {
		if *mode != m && *mode != "all" {
			continue
		}
		for _, n := range levels {
			cfg := bench.Config{Client: c, Op: *op, Concurrency: n, Duration: *dur, Request: []byte(*body), CeodPid: *pid}
			if m == "handshake" {
				report(bench.Handshakes(ctx, cfg))
			} else {
				report(bench.Ops(ctx, cfg))
			}
		}
	}
	if *mode == "idle" || *mode == "all" {
		if err := benchIdle(ctx, c, *op, *idle, *parallel, *hold, *pid, stdout); err != nil {
			fmt.Fprintf(stderr, "ceoc bench: %v\n", err)
			return 1
		}
	}
	// Every handshake needs a service ticket; after the first, they
	// should all be reused (from memory or the credentials cache).
	fromKDC, reused := c.TicketStats()
	fmt.Fprintf(stdout, "tickets   %d service tickets from the KDC, %d reused\n", fromKDC, reused)
	if failed {
		return 1
	}
	return 0
}

// benchFlood runs -mode flood against the ceod owning op; the exit
// status is 1 if fewer than 95% of the legitimate round trips succeed.
func benchFlood(ctx context.Context, c *ceoc.Client, op string, cfg bench.FloodConfig, stdout, stderr io.Writer) int {
	const spareFDs = 64
	if lim, err := bench.RaiseFileLimit(uint64(cfg.Conns) + spareFDs); err != nil || lim < uint64(cfg.Conns)+spareFDs {
		fmt.Fprintf(stderr, "ceoc bench: RLIMIT_NOFILE %d too low for %d connections: %v\n", lim, cfg.Conns, err)
		return 1
	}
	conn, err := c.Dial(ctx, op)
	if err != nil {
		fmt.Fprintln(stderr, oneLine(err.Error()))
		return 1
	}
	cfg.Addr = conn.Addr()
	conn.Close()
	cfg.Client, cfg.Op = c, op
	res, err := bench.Flood(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "ceoc bench: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, res)
	if res.Success() < 95 {
		return 1
	}
	return 0
}

// startCPUProfile profiles this process into the file at path until
// the returned function is called. The load shares the machine with
// ceod, so its own cost per op is part of what a run measures.
func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}

// loopbacks returns the n addresses 127.0.0.1, 127.0.0.2, ...
func loopbacks(n int) []string {
	var out []string
	for i := range min(n, 250) {
		out = append(out, fmt.Sprintf("127.0.0.%d", i+1))
	}
	return out
}

// benchIdle opens n authenticated connections, holds them, and reports
// ceod's RSS before and after if pid is set.
func benchIdle(ctx context.Context, c *ceoc.Client, op string, n, parallel int, hold time.Duration, pid int, stdout io.Writer) error {
	const spareFDs = 64
	lim, err := bench.RaiseFileLimit(uint64(n) + spareFDs)
	if err != nil {
		return err
	}
	if lim < uint64(n)+spareFDs {
		return fmt.Errorf("RLIMIT_NOFILE is %d, too low for %d connections (raise the hard limit)", lim, n)
	}
	var before int64
	if pid > 0 {
		if before, err = bench.RSS(pid); err != nil {
			return err
		}
	}
	start := time.Now()
	conns, err := bench.OpenIdle(ctx, c, op, nil, n, parallel)
	if err != nil {
		return err
	}
	defer bench.CloseAll(conns)
	opened := time.Since(start)
	select {
	case <-time.After(hold):
	case <-ctx.Done():
		return ctx.Err()
	}
	fmt.Fprintf(stdout, "idle      n=%d opened in %v (%.0f handshakes/s at %d in parallel)\n",
		n, opened.Round(time.Millisecond), float64(n)/opened.Seconds(), parallel)
	if pid > 0 {
		after, err := bench.RSS(pid)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "idle      ceod pid %d RSS %.1f MB before, %.1f MB with %d idle connections (%.1f KB each)\n",
			pid, float64(before)/(1<<20), float64(after)/(1<<20), n, float64(after-before)/float64(n)/1024)
	}
	return nil
}
