package daemon

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/csclub/ceo/ceod/builtin"
	"github.com/csclub/ceo/ceod/server"
	"github.com/csclub/ceo/ops/journal"
	"github.com/csclub/ceo/wire"
)

// Journal limits.
const (
	// StartupRecoveryBudget bounds the recovery pass run before ceod
	// accepts connections: with a service down, what is left waits for
	// the timer rather than keep ceod from serving (systemd's start
	// timeout is 90s).
	StartupRecoveryBudget = 30 * time.Second
	// CloseWait is how long ceod waits, after shutdown_grace, for the
	// ops it cancelled to return. An op still running after it (a
	// rollback waiting on a hung kadmind) is abandoned: its journal
	// record brings it back at the next start. shutdown_grace (at most
	// 30s) + CloseWait stays under the unit's TimeoutStopSec=45s.
	CloseWait = 5 * time.Second
)

// FaultEnv names the fault-injection variable of the crash tests:
// "OP:STEP:STATE" (e.g. "adduser:principal:begun", or "adduser:finish"
// for the record's deletion) makes ceod SIGKILL itself right after that
// journal write is durable. Unset in production.
const FaultEnv = "CEOD_TEST_KILL_AT"

// SignalEnv names the other fault-injection variable:
// "OP:STEP:STATE=SIGNAL@PID" (e.g. "adduser:principal:begun=STOP@4242")
// sends SIGNAL (STOP, CONT, KILL or TERM) to PID, once, right after that
// journal write: the tests freeze kadmind or kill slapd at an exact step.
const SignalEnv = "CEOD_TEST_SIGNAL_AT"

var testSignals = map[string]syscall.Signal{"STOP": syscall.SIGSTOP, "CONT": syscall.SIGCONT, "KILL": syscall.SIGKILL, "TERM": syscall.SIGTERM}

// NoJournalEnv, set to 1, runs the journaled ops without a journal (as
// before it existed): only for measuring what the journal costs.
const NoJournalEnv = "CEOD_TEST_NO_JOURNAL"

// journalOptions returns the journal options for the environment: the
// fault-injection hooks of the crash tests, if their variables are set.
func journalOptions(getenv func(string) string) journal.Options {
	var o journal.Options
	killAt := getenv(FaultEnv)
	sigAt, sigSpec, _ := strings.Cut(getenv(SignalEnv), "=")
	sigName, pidText, _ := strings.Cut(sigSpec, "@")
	sig, sigOK := testSignals[sigName]
	pid, err := strconv.Atoi(pidText)
	sigOK = sigOK && err == nil && pid > 1
	if killAt == "" && !sigOK {
		return o
	}
	var once sync.Once
	o.AfterWrite = func(r *journal.Record, step string) {
		at := r.Op + ":" + step
		if sigOK && at == sigAt {
			once.Do(func() { syscall.Kill(pid, sig) })
		}
		if at == killAt {
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
		}
	}
	return o
}

// recoverAtStart runs one recovery pass before ceod serves.
func recoverAtStart(ctx context.Context, rc *journal.Recoverer, log *slog.Logger) {
	if rc == nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, StartupRecoveryBudget)
	defer cancel()
	t0 := time.Now()
	left, err := rc.Pass(ctx)
	switch {
	case err != nil:
		log.Error("journal: recovery at start failed", "err", err, "duration", time.Since(t0))
	case left > 0:
		log.Warn("journal: unfinished requests left for the recovery timer", "left", left, "duration", time.Since(t0))
	}
}

// journaled reports whether the table serves an op that keeps the
// journal.
func journaled(table map[wire.MsgType]server.Op) bool {
	for _, op := range table {
		if builtin.Journaled(op.Name) {
			return true
		}
	}
	return false
}

// reportJournal writes the unfinished requests of the journal at path:
// one line each, and with steps each step too.
func reportJournal(w io.Writer, path string, steps bool) error {
	recs, err := journal.List(path)
	if err != nil {
		return err
	}
	if len(recs) == 0 {
		fmt.Fprintf(w, "journal %s: no unfinished requests\n", path)
		return nil
	}
	fmt.Fprintf(w, "journal %s: %d unfinished request(s) (ceod rolls them back, or completes a deletion; see ceod -journal)\n", path, len(recs))
	for _, r := range recs {
		fmt.Fprintf(w, "  %s %s %s by %s, started %s, %d recovery attempt(s)",
			r.ID, r.Op, strings.Join(r.Targets, ","), r.Caller, r.Started.UTC().Format(time.RFC3339), r.Attempts)
		if r.LastError != "" {
			fmt.Fprintf(w, ", last error: %s", r.LastError)
		}
		fmt.Fprintln(w)
		if !steps {
			continue
		}
		for _, s := range r.Steps {
			var undo []string
			for k, v := range s.Undo {
				undo = append(undo, k+"="+v)
			}
			fmt.Fprintf(w, "    %-10s %-7s %s %s\n", s.Name, s.State, s.At.UTC().Format(time.RFC3339), strings.Join(undo, " "))
		}
	}
	return nil
}
