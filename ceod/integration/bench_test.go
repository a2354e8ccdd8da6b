package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/csclub/ceo/ceoc"
	"github.com/csclub/ceo/ceoc/bench"
	"github.com/csclub/ceo/internal/realm"
)

// Benchmarks against the realm. ceod runs in-process (BenchmarkHandshake,
// BenchmarkPing: client and server share the machine's cores, as they
// would on a loaded host) or as its own process (BenchmarkIdleConns, so
// that its RSS can be read). The audit log is written, in JSON, to
// io.Discard: its formatting cost is included.
//
// Targets on the 2-core reference machine: >= 2,000 handshake+ping/s,
// >= 40,000 pings/s on established connections with p99 < 10 ms at 64
// clients, <= 8 KB of ceod's RSS per idle authenticated connection at
// 10,000 (KB/conn).

var concurrencies = []int{1, 16, 64}

// benchCeod starts an in-process ceod for benchmarks, with limits that
// let 64 concurrent clients from one address in.
func benchCeod(b *testing.B, r *realm.Realm) (*ceod, *ceoc.Client) {
	b.Helper()
	d := newEnv(b, r, "max_conns_per_principal = 20000", "max_conns = 20000").start(b, io.Discard, "-log-level", "info")
	c := d.client(b, "regular1")
	if _, err := c.Call(b.Context(), "ping", nil); err != nil {
		b.Fatal(err)
	}
	return d, c
}

// report fails the benchmark on errors and reports the run's figures.
// Allocations and cpu-us/op are this process's: client and in-process
// ceod together (the CPU from /proc, so only long runs are precise).
func report(b *testing.B, r bench.Result, unit string) {
	b.Helper()
	b.ReportAllocs()
	if r.Errors > 0 {
		b.Fatalf("%d errors, first: %v", r.Errors, r.FirstErr)
	}
	if r.CeodCPU > 0 {
		b.ReportMetric(float64(r.CPUPerOp())/1e3, "cpu-us/op")
	}
	b.ReportMetric(r.Rate(), unit+"/s")
	b.ReportMetric(float64(r.P50)/1e6, "p50-ms")
	b.ReportMetric(float64(r.P99)/1e6, "p99-ms")
}

// BenchmarkHandshake measures full round trips: connect, Kerberos
// handshake (AP-REQ/AP-REP with a cached service ticket), one ping,
// close.
func BenchmarkHandshake(b *testing.B) { benchConcurrent(b, bench.Handshakes, "handshakes") }

// BenchmarkPing measures pings on established connections, one per
// concurrent client (opened before the clock starts).
func BenchmarkPing(b *testing.B) { benchConcurrent(b, bench.Ops, "pings") }

// benchConcurrent runs a ceoc/bench load (bench.Handshakes or bench.Ops)
// on an in-process ceod at each of the concurrencies.
func benchConcurrent(b *testing.B, load func(context.Context, bench.Config) bench.Result, unit string) {
	r := realm.Get(b)
	_, c := benchCeod(b, r)
	for _, n := range concurrencies {
		b.Run(fmt.Sprintf("c=%d", n), func(b *testing.B) {
			report(b, load(b.Context(), bench.Config{Client: c, Concurrency: n, Count: b.N, CeodPid: os.Getpid()}), unit)
		})
	}
}

// BenchmarkIdleConns opens 10,000 authenticated connections (each has
// served one ping) to a ceod process and reports that process's RSS.
func BenchmarkIdleConns(b *testing.B) {
	const n = 10000
	r := realm.Get(b)
	if lim, err := bench.RaiseFileLimit(n + 200); err != nil || lim < n+200 {
		b.Skipf("RLIMIT_NOFILE %d too low for %d connections: %v", lim, n, err)
	}
	// ceod inherits the raised file limit.
	e, p, _ := ceodProcess(b, r, "warn",
		"max_conns = 20000", "max_conns_per_principal = 20000", "idle_timeout = 10m", "handshake_timeout = 60s")
	cc := r.Kinit(b, "regular1", r.Users["regular1"].Password)
	c := &ceoc.Client{ConfigDir: e.dir, KRB5Config: r.KRB5Config, Credentials: ceoc.CCache("FILE:" + cc)}
	pid := p.cmd.Process.Pid

	for b.Loop() {
		before, err := bench.RSS(pid)
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		conns, err := bench.OpenIdle(context.Background(), c, "ping", nil, n, 32)
		if err != nil {
			b.Fatal(err)
		}
		opened := time.Since(start)
		time.Sleep(2 * time.Second)
		after, err := bench.RSS(pid)
		bench.CloseAll(conns)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(after)/(1<<20), "ceod-RSS-MB")
		b.ReportMetric(float64(after-before)/n/1024, "KB/conn")
		b.ReportMetric(float64(n)/opened.Seconds(), "opened/s")
	}
}

// BenchmarkFlood runs the flood scenarios of the load tool (ceoc bench
// -mode flood) against a ceod process with the default limits: 4,096
// junk connections, each re-dialled as soon as ceod closes it, from one
// loopback address and from 20, while a legitimate client on 127.0.0.1
// runs handshake+ping back to back; the 65,535-byte-body attack; and a
// flood of empty frames (each a protocol error) for the log.
//
// Targets: at least 95% of the legitimate round trips succeed, p99 under
// 250 ms; ceod's RSS stays under 256 MB; at most one failure line per
// second per address.
func BenchmarkFlood(b *testing.B) {
	const conns = 4096
	r := realm.Get(b)
	if lim, err := bench.RaiseFileLimit(3*conns + 200); err != nil || lim < 3*conns+200 {
		b.Skipf("RLIMIT_NOFILE %d too low for %d connections: %v", lim, conns, err)
	}
	for _, sc := range []struct {
		name  string
		junk  bench.Junk
		addrs int
		dur   time.Duration
	}{
		{"idle/1addr", bench.JunkIdle, 1, 20 * time.Second},
		{"idle/20addr", bench.JunkIdle, 20, 20 * time.Second},
		{"header/1addr", bench.JunkHeader, 1, 20 * time.Second},
		{"body/20addr", bench.JunkBody, 20, 30 * time.Second},
		{"empty/20addr", bench.JunkEmpty, 20, 20 * time.Second},
	} {
		b.Run(sc.name, func(b *testing.B) {
			for b.Loop() {
				floodOnce(b, r, conns, sc.junk, sc.addrs, sc.dur)
			}
		})
	}
}

// floodOnce starts a ceod process, floods it once and reports.
func floodOnce(b *testing.B, r *realm.Realm, conns int, junk bench.Junk, addrs int, dur time.Duration) {
	e, p, addr := ceodProcess(b, r, "info")
	cc := r.Kinit(b, "regular1", r.Users["regular1"].Password)
	c := &ceoc.Client{ConfigDir: e.dir, KRB5Config: r.KRB5Config, Credentials: ceoc.CCache("FILE:" + cc)}
	var sources []string
	for i := range addrs {
		sources = append(sources, fmt.Sprintf("127.0.0.%d", i+1))
	}
	logBefore := len(p.stderr.String())
	res, err := bench.Flood(b.Context(), bench.FloodConfig{Addr: addr, Sources: sources, Conns: conns, Junk: junk,
		Duration: dur, Client: c, RSSPid: p.cmd.Process.Pid})
	if err != nil {
		b.Fatal(err)
	}
	logged := p.stderr.String()[logBefore:]
	perAddr := map[string]int{}
	for _, line := range strings.Split(logged, "\n") {
		var rec struct{ Msg, Remote string }
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "unauthenticated connections ended" {
			perAddr[rec.Remote]++
		}
	}
	most := 0
	for _, n := range perAddr {
		most = max(most, n)
	}
	secs := dur.Seconds()
	b.Logf("%v; failure lines: %d addresses, at most %d from one in %.0f s; log %d bytes", res, len(perAddr), most, secs, len(logged))
	b.ReportMetric(res.Success(), "legit-ok-%")
	b.ReportMetric(float64(res.P99)/1e6, "legit-p99-ms")
	b.ReportMetric(float64(res.PeakRSS)/(1<<20), "ceod-RSS-MB")
	b.ReportMetric(float64(most)/secs, "lines/addr/s")
	b.ReportMetric(float64(res.JunkDials)/secs, "junk-dials/s")
}
