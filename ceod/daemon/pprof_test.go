package daemon

import (
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCheckLoopback(t *testing.T) {
	for _, ok := range []string{"127.0.0.1:6060", "[::1]:0", "localhost:6060", "127.0.0.2:1"} {
		assert.NoError(t, checkLoopback(ok), ok)
	}
	for _, bad := range []string{":6060", "0.0.0.0:6060", "[::]:6060", "10.0.0.1:6060", "host.example:6060", "127.0.0.1"} {
		assert.Error(t, checkLoopback(bad), bad)
	}
}

// TestPprofServes: the profiling server answers on loopback and stops.
func TestPprofServes(t *testing.T) {
	var logs strings.Builder
	log := slog.New(slog.NewTextHandler(&logs, nil))
	// Port 0 cannot be fetched by URL; find the bound address in the log.
	stop, err := startPprof(log, "127.0.0.1:0")
	require.NoError(t, err)
	defer stop()
	_, addr, ok := strings.Cut(logs.String(), "addr=")
	require.True(t, ok, logs.String())
	addr = strings.TrimSpace(addr)
	resp, err := http.Get("http://" + addr + "/debug/pprof/goroutine?debug=1")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, string(body), "goroutine profile:")
	stop()
	_, err = http.Get("http://" + addr + "/debug/pprof/")
	assert.Error(t, err, "still serving after stop")
}
