package bench

import (
	"os"
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
