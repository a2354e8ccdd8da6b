package adduser_test

import (
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/csclub/ceo/internal/ceodtest"
)

type slogLogger = slog.Logger

// logBuf collects a test's log output, so tests can check that no
// password is ever logged; it is printed when the test fails.
type logBuf = ceodtest.Buffer

var logs sync.Map // *testing.T -> *logBuf

func newTestLogger(t *testing.T) *slog.Logger {
	buf := &logBuf{}
	logs.Store(t, buf)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("log:\n%s", buf.String())
		}
		logs.Delete(t)
	})
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// logOf returns what the handler of t logged so far.
func logOf(t *testing.T) string {
	if v, ok := logs.Load(t); ok {
		return v.(*logBuf).String()
	}
	return ""
}

func assertNotLogged(t *testing.T, secret string) {
	t.Helper()
	if strings.Contains(logOf(t), secret) {
		t.Errorf("the log contains the password %q", secret)
	}
}
