package bench

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/csclub/ceo/internal/testreq"
)

func TestPercentile(t *testing.T) {
	d := []time.Duration{5, 1, 4, 2, 3, 10, 9, 8, 7, 6}
	for _, tt := range []struct {
		p    float64
		want time.Duration
	}{{50, 5}, {99, 10}, {100, 10}, {10, 1}, {1, 1}} {
		if got := Percentile(d, tt.p); got != tt.want {
			t.Errorf("Percentile(%v) = %v, want %v", tt.p, got, tt.want)
		}
	}
	if got := Percentile(nil, 50); got != 0 {
		t.Errorf("Percentile(nil) = %v", got)
	}
}

func TestRSS(t *testing.T) {
	n, err := RSS(os.Getpid())
	testreq.Check(t, "/proc", err)
	if n < 1<<20 || n > 1<<34 {
		t.Errorf("RSS of this process = %d bytes, implausible", n)
	}
	if _, err := RSS(-1); err == nil {
		t.Error("RSS(-1) succeeded")
	}
}

// TestCPUTime: burning CPU in this process shows up in its utime+stime.
func TestCPUTime(t *testing.T) {
	before, err := CPUTime(os.Getpid())
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	// 50 ms of CPU, several clock ticks.
	for t0 := time.Now(); time.Since(t0) < 50*time.Millisecond; {
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		after, err := CPUTime(os.Getpid())
		if err != nil {
			t.Fatal(err)
		}
		if after-before >= 20*time.Millisecond {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("CPU time grew by only %v after a busy loop", after-before)
		}
		for t0 := time.Now(); time.Since(t0) < 10*time.Millisecond; {
		}
	}
	if _, err := CPUTime(-1); err == nil {
		t.Error("CPUTime(-1) succeeded")
	}
}

func TestCPUPerOp(t *testing.T) {
	r := Result{Mode: "ops", Count: 4, CeodCPU: time.Millisecond, ClientCPU: 2 * time.Millisecond}
	if got := r.CPUPerOp(); got != 250*time.Microsecond {
		t.Errorf("CPUPerOp = %v", got)
	}
	if got := r.ClientCPUPerOp(); got != 500*time.Microsecond {
		t.Errorf("ClientCPUPerOp = %v", got)
	}
	if s := r.String(); !strings.Contains(s, "ceod-cpu=250µs/op client-cpu=500µs/op") {
		t.Errorf("String() = %q", s)
	}
	if s := (Result{Mode: "ops"}).String(); strings.Contains(s, "cpu") {
		t.Errorf("unmeasured CPU printed: %q", s)
	}
}
