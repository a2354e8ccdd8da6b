package adduser

import (
	"log/slog"
	"time"
)

// stopwatch times a request's steps for the debug record "adduser: step
// timings" (one attribute per step, in order), which the daemon
// benchmark (ceod/crashtest BenchmarkAddUser) reads.
type stopwatch struct {
	now  func() time.Time
	last time.Time
	laps []slog.Attr
}

func newStopwatch(now func() time.Time) *stopwatch { return &stopwatch{now: now, last: now()} }

// mark records how long the step just finished took.
func (s *stopwatch) mark(step string) {
	now := s.now()
	s.laps = append(s.laps, slog.Duration(step, now.Sub(s.last)))
	s.last = now
}
