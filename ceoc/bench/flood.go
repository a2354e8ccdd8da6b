package bench

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/csclub/ceo/ceoc"
	"github.com/csclub/ceo/wire"
)

// Junk is what a flood connection sends before waiting for ceod to
// close it.
type Junk string

// The kinds of junk.
const (
	// JunkIdle sends nothing: a connection that never authenticates.
	JunkIdle Junk = "idle"
	// JunkHeader sends the header of a 700-byte auth token, then
	// nothing.
	JunkHeader Junk = "header"
	// JunkBody sends the header of a 65,536-byte auth token and 65,535
	// bytes of it, then nothing: the most memory one connection can make
	// ceod hold before authentication.
	JunkBody Junk = "body"
	// JunkEmpty sends an empty frame, a protocol error ceod closes the
	// connection for at once (the log-flood case).
	JunkEmpty Junk = "empty"
)

// Flood limits: loopback only, bounded in count and time, so that the
// tool cannot be turned on another host or left running.
const (
	MaxFloodConns    = 8192
	MaxFloodSources  = 64
	MaxFloodDuration = 2 * time.Minute
)

// FloodConfig describes a flood run: Conns junk connections, spread
// over the loopback addresses Sources, each re-dialled as soon as ceod
// closes it, for Duration; meanwhile one legitimate client (Client,
// from its usual address) runs handshake+Op round trips back to back.
type FloodConfig struct {
	Addr     string   // ceod's host:port; must be a loopback address
	Sources  []string // loopback addresses to flood from, e.g. 127.0.0.1
	Conns    int      // junk connections held at once
	Junk     Junk
	Duration time.Duration
	Client   *ceoc.Client
	Op       string        // the legitimate client's op; empty means "ping"
	Timeout  time.Duration // per legitimate attempt; <= 0 means 5s
	// RSSPid, if > 0, is ceod's pid: its RSS is sampled during the run.
	RSSPid int
}

// FloodResult is what a flood run measured.
type FloodResult struct {
	Junk           Junk
	Sources, Conns int
	Elapsed        time.Duration
	Attempts, OK   int // legitimate round trips
	FirstErr       error
	P50, P99, Max  time.Duration // of successful round trips
	JunkDials      int64         // junk connections made
	JunkDialErrors int64
	PeakRSS, HWM   int64 // ceod's largest sampled RSS, and its VmHWM
	RSSSamples     int
	rssErr         error
	legitLatencies []time.Duration
}

// Success returns the share of legitimate round trips that succeeded,
// in percent.
func (r FloodResult) Success() float64 {
	if r.Attempts == 0 {
		return 0
	}
	return 100 * float64(r.OK) / float64(r.Attempts)
}

func (r FloodResult) String() string {
	s := fmt.Sprintf("flood %-6s from %2d addr, %d conns, %v: legit %d/%d ok (%.1f%%) p50=%v p99=%v max=%v; junk dials %d (%.0f/s, %d errors)",
		r.Junk, r.Sources, r.Conns, r.Elapsed.Round(time.Second), r.OK, r.Attempts, r.Success(),
		r.P50.Round(time.Microsecond), r.P99.Round(time.Microsecond), r.Max.Round(time.Microsecond),
		r.JunkDials, float64(r.JunkDials)/max(r.Elapsed.Seconds(), 1e-9), r.JunkDialErrors)
	if r.RSSSamples > 0 {
		s += fmt.Sprintf("; ceod RSS peak %.1f MB (VmHWM %.1f MB)", float64(r.PeakRSS)/(1<<20), float64(r.HWM)/(1<<20))
	}
	if r.FirstErr != nil {
		s += "; first legit error: " + r.FirstErr.Error()
	}
	return s
}

// Flood runs a flood (see FloodConfig) and reports the legitimate
// client's success rate and latency, and ceod's peak RSS.
func Flood(ctx context.Context, cfg FloodConfig) (FloodResult, error) {
	if err := cfg.check(); err != nil {
		return FloodResult{}, err
	}
	op := cfg.Op
	if op == "" {
		op = "ping"
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	junk, err := junkBytes(cfg.Junk)
	if err != nil {
		return FloodResult{}, err
	}
	res := FloodResult{Junk: cfg.Junk, Sources: len(cfg.Sources), Conns: cfg.Conns}
	runCtx, cancel := context.WithTimeout(ctx, cfg.Duration)
	defer cancel()

	var wg sync.WaitGroup
	var dials, dialErrs atomic.Int64
	for i := range cfg.Conns {
		src := cfg.Sources[i%len(cfg.Sources)]
		wg.Go(func() { junkLoop(runCtx, cfg.Addr, src, junk, &dials, &dialErrs) })
	}
	if cfg.RSSPid > 0 {
		wg.Go(func() { res.sampleRSS(runCtx, cfg.RSSPid) })
	}
	// Let the flood build up before the legitimate client starts.
	select {
	case <-time.After(min(cfg.Duration/10, 2*time.Second)):
	case <-runCtx.Done():
	}
	start := time.Now()
	for runCtx.Err() == nil {
		actx, acancel := context.WithTimeout(ctx, timeout)
		t0 := time.Now()
		_, err := cfg.Client.Call(actx, op, nil)
		acancel()
		d := time.Since(t0)
		if runCtx.Err() != nil && err != nil {
			break // cut short by the end of the run, not by ceod
		}
		res.Attempts++
		if err != nil {
			if res.FirstErr == nil {
				res.FirstErr = err
			}
			continue
		}
		res.OK++
		res.legitLatencies = append(res.legitLatencies, d)
	}
	res.Elapsed = time.Since(start)
	cancel()
	wg.Wait()
	res.JunkDials, res.JunkDialErrors = dials.Load(), dialErrs.Load()
	res.P50, res.P99, res.Max = Percentile(res.legitLatencies, 50), Percentile(res.legitLatencies, 99), Percentile(res.legitLatencies, 100)
	if res.rssErr != nil {
		return res, res.rssErr
	}
	return res, nil
}

func (cfg *FloodConfig) check() error {
	ta, err := net.ResolveTCPAddr("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("bench: flood: ceod address: %w", err)
	}
	if !ta.IP.IsLoopback() {
		return fmt.Errorf("bench: flood: ceod address %q is not a loopback address (floods stay on this host)", cfg.Addr)
	}
	cfg.Addr = ta.String()
	if len(cfg.Sources) == 0 || len(cfg.Sources) > MaxFloodSources {
		return fmt.Errorf("bench: flood: want 1 to %d source addresses, got %d", MaxFloodSources, len(cfg.Sources))
	}
	for _, s := range cfg.Sources {
		if ip := net.ParseIP(s); ip == nil || !ip.IsLoopback() {
			return fmt.Errorf("bench: flood: source %q is not a loopback address", s)
		}
	}
	if cfg.Conns < 1 || cfg.Conns > MaxFloodConns {
		return fmt.Errorf("bench: flood: want 1 to %d connections, got %d", MaxFloodConns, cfg.Conns)
	}
	if cfg.Duration <= 0 || cfg.Duration > MaxFloodDuration {
		return fmt.Errorf("bench: flood: duration must be positive and at most %v, got %v", MaxFloodDuration, cfg.Duration)
	}
	if cfg.Client == nil {
		return errors.New("bench: flood: no legitimate client")
	}
	return nil
}

// junkBytes returns what a connection of kind j sends.
func junkBytes(j Junk) ([]byte, error) {
	header := func(n uint32) []byte {
		b := make([]byte, wire.HeaderLen)
		binary.BigEndian.PutUint32(b[0:4], n)
		binary.BigEndian.PutUint32(b[4:8], uint32(wire.MsgAuth))
		return b
	}
	switch j {
	case JunkIdle:
		return nil, nil
	case JunkHeader:
		return header(700), nil
	case JunkBody:
		return append(header(wire.DefaultMaxFrame), make([]byte, wire.DefaultMaxFrame-1)...), nil
	case JunkEmpty:
		return header(0), nil
	}
	return nil, fmt.Errorf("bench: flood: unknown junk %q (want idle, header, body or empty)", j)
}

// junkDialBackoff is the pause after a failed dial, so that a full
// accept queue or port range is not hammered in a tight loop.
const junkDialBackoff = 10 * time.Millisecond

// junkLoop holds one junk connection from src until ctx ends: it dials,
// sends junk, waits for ceod to close the connection, and dials again.
func junkLoop(ctx context.Context, addr, src string, junk []byte, dials, errs *atomic.Int64) {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	buf := make([]byte, 512)
	for ctx.Err() == nil {
		nc, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			if ctx.Err() == nil {
				errs.Add(1)
				time.Sleep(junkDialBackoff)
			}
			continue
		}
		dials.Add(1)
		stop := context.AfterFunc(ctx, func() { nc.Close() })
		if len(junk) > 0 {
			nc.Write(junk)
		}
		for {
			if _, err := nc.Read(buf); err != nil {
				break // closed by ceod (EOF, reset) or by the end of the run
			}
		}
		stop()
		nc.Close()
	}
}

// rssInterval is how often a flood samples ceod's RSS.
const rssInterval = 200 * time.Millisecond

func (r *FloodResult) sampleRSS(ctx context.Context, pid int) {
	t := time.NewTicker(rssInterval)
	defer t.Stop()
	for {
		n, err := RSS(pid)
		if err != nil {
			r.rssErr = err
			return
		}
		r.PeakRSS = max(r.PeakRSS, n)
		r.RSSSamples++
		select {
		case <-ctx.Done():
			if hwm, err := procStatus(pid, "VmHWM:"); err == nil {
				r.HWM = hwm
			}
			return
		case <-t.C:
		}
	}
}
