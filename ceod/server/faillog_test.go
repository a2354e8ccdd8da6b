package server

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestFailureLog: the first failure of an address is logged at once;
// the rest of its interval is one line with counts, written by the
// flush; addresses beyond the tracking bound share one bucket.
func TestFailureLog(t *testing.T) {
	rec := &recorder{}
	f := newFailureLog(slog.New(rec), time.Hour)
	var mu sync.Mutex
	now := time.Unix(1000, 0)
	f.now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }

	f.note("10.0.0.1", reasonTimeout, errors.New("i/o timeout"))
	lines := rec.find(map[string]string{"msg": "unauthenticated connections ended"})
	require.Len(t, lines, 1, "first failure logged at once")
	assert.Equal(t, "handshake_timeout:1", lines[0]["reasons"])
	assert.Equal(t, "i/o timeout", lines[0]["err"])

	for range 500 {
		f.note("10.0.0.1", reasonDisplaced, nil)
	}
	f.note("10.0.0.1", reasonAuthFailed, errors.New("bad ticket"))
	assert.Len(t, rec.find(map[string]string{"msg": "unauthenticated connections ended"}), 1, "a line within the interval")
	assert.False(t, f.flush(false), "nothing due yet")
	assert.Len(t, rec.find(map[string]string{"msg": "unauthenticated connections ended"}), 1)

	advance(time.Hour)
	f.flush(false)
	lines = rec.find(map[string]string{"msg": "unauthenticated connections ended"})
	require.Len(t, lines, 2)
	assert.Equal(t, "501", lines[1]["count"])
	assert.Equal(t, "auth_failed:1 displaced:500", lines[1]["reasons"])
	assert.Equal(t, "bad ticket", lines[1]["err"])
	assert.Equal(t, "WARN", lines[1]["level"])

	advance(time.Hour)
	assert.True(t, f.flush(false), "a quiet address is forgotten and the flusher may end")

	for i := range maxFailureAddrs + 10 {
		f.note(fmt.Sprintf("10.1.%d.%d", i/256, i%256), reasonNoToken, nil)
	}
	advance(time.Hour)
	f.close()
	other := rec.find(map[string]string{"msg": "unauthenticated connections ended", "remote": otherAddrs})
	require.NotEmpty(t, other)
	assert.Equal(t, "DEBUG", other[0]["level"], "probes alone are debug")
}
