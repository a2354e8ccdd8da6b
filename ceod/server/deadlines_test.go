package server

import (
	"testing"
	"time"
)

// TestDeadlineRefresh: an op refreshes a deadline only when it has moved
// by more than its slack, always when the timeout shrank or was turned
// off or on.
func TestDeadlineRefresh(t *testing.T) {
	var dl deadlines
	const d = 30 * time.Second
	first, ok := dl.refresh(time.Time{}, d)
	if !ok || first.IsZero() {
		t.Fatalf("first refresh = %v, %v; want a deadline set", first, ok)
	}
	if _, ok := dl.refresh(first, d); ok {
		t.Error("refresh right after setting: set again, want skipped (within the slack)")
	}
	if _, ok := dl.refresh(first.Add(-2*maxDeadlineSlack), d); !ok {
		t.Error("refresh of a deadline older than the slack: skipped, want set")
	}
	if _, ok := dl.refresh(first, time.Second); !ok {
		t.Error("refresh with a shorter timeout: skipped, want set at once")
	}
	if got, ok := dl.refresh(first, 0); !ok || !got.IsZero() {
		t.Errorf("refresh with no timeout = %v, %v; want the deadline cleared", got, ok)
	}
	if _, ok := dl.refresh(time.Time{}, 0); ok {
		t.Error("refresh with no timeout and none set: set, want skipped")
	}
	// A short timeout gets a proportionally short slack.
	short := 160 * time.Millisecond
	cur, _ := dl.refresh(time.Time{}, short)
	if _, ok := dl.refresh(cur.Add(-20*time.Millisecond), short); !ok {
		t.Errorf("refresh of a %v timeout 20ms late: skipped, want set (slack %v)", short, deadlineSlack(short))
	}
}
