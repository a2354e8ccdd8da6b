package journal

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// Recovery limits.
const (
	// DefaultUndoBudget is how long one step's undo may take, retries
	// included. It is separate from the failed step's own timeout, and
	// each step gets its own, so a hung kadmind cannot eat the time of
	// the LDAP undo that follows.
	DefaultUndoBudget = 10 * time.Second
	// DefaultInterval is the period of the recovery timer: how soon an
	// undo that failed (its service down) is tried again.
	DefaultInterval = 15 * time.Second
	// DefaultQuiet is how long a Begun step's effect must stay absent,
	// across two looks, before recovery believes it never happened: a
	// frozen kadmind may still apply a queued addprinc once it resumes.
	DefaultQuiet = 5 * time.Second
	// retryMin and retryMax bound the backoff between tries of one undo
	// while its service does not answer.
	retryMin = 100 * time.Millisecond
	retryMax = 2 * time.Second
)

// ErrAbsent is what an Undoer returns for a Begun step whose effect it
// found absent but which could still appear later (an ambiguous kadmin
// result). The Recoverer counts the step undone only once it has been
// absent for Quiet across two looks.
var ErrAbsent = errors.New("journal: effect absent for now")

// Undoer undoes the steps of one op's records.
type Undoer interface {
	// UndoStep removes s's effect. It returns nil when the effect is
	// gone (also when it never existed), ErrAbsent as described there,
	// or an error if the service could not be reached; it is then
	// retried with backoff until the step's budget ends.
	UndoStep(ctx context.Context, r *Record, s *Step) error
}

// Completer finishes the unfinished requests of an op that is rolled
// forward rather than back (deluser: see ops/member). Complete carries
// out everything r's record asks for, each step idempotently (what is
// already done is skipped), and returns nil once all of it is done; an
// error is retried with backoff like an undo.
type Completer interface {
	Complete(ctx context.Context, r *Record) error
}

// completeBudgetFactor scales UndoBudget for one Complete: it runs every
// remaining step of a request, where an undo runs one.
const completeBudgetFactor = 4

// Recoverer rolls back unfinished requests: at ceod's start, on a
// timer, and for a request whose own rollback failed. The requests of
// an op with a Completer are rolled forward instead.
//
// The rule: an unfinished request is rolled back, never rolled forward,
// unless its op has a Completer. Its client got no success reply (the record is deleted before
// the reply is sent), so the office expects to send it again; a roll
// forward would also need the password, which the journal never holds.
// Steps are undone last first; a step whose undo fails does not stop the
// others (the record keeps the target names claimed, so nothing can
// reuse them), and stays for the next pass.
type Recoverer struct {
	J *Journal
	// Undoers by op name. A record of an op with none (and no
	// Completer) stays.
	Undoers map[string]Undoer
	// Completers by op name: their records are rolled forward.
	Completers map[string]Completer
	// Log gets one audit line per recovered request, and a warning per
	// request left for later. Nil discards.
	Log *slog.Logger
	// UndoBudget, Interval, Quiet: zero means the defaults above.
	UndoBudget time.Duration
	Interval   time.Duration
	Quiet      time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	mu sync.Mutex // one pass at a time
}

// Result is what became of one step in a recovery.
type Result struct {
	Step string
	Undo map[string]string
	Err  error // nil: undone
}

func (rc *Recoverer) log() *slog.Logger {
	if rc.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return rc.Log
}

func (rc *Recoverer) now() time.Time {
	if rc.Now == nil {
		return time.Now()
	}
	return rc.Now()
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// Pass recovers every unfinished record not being worked on, and
// returns how many are left unfinished.
func (rc *Recoverer) Pass(ctx context.Context) (left int, err error) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	recs, err := rc.J.Unfinished(false)
	if err != nil {
		return 0, err
	}
	for _, r := range recs {
		if ctx.Err() != nil {
			return len(recs), ctx.Err()
		}
		if !rc.J.Acquire(r) {
			continue // a request settling it itself
		}
		if _, ok := rc.Recover(ctx, r, "recovery"); !ok {
			left++
		}
	}
	return left, nil
}

// Settle recovers the unfinished records claiming target, for a new
// request for it: it reports whether none is left.
func (rc *Recoverer) Settle(ctx context.Context, target string) (bool, error) {
	recs, err := rc.J.Unfinished(false)
	if err != nil {
		return false, err
	}
	for _, r := range recs {
		if !containsStr(r.Targets, target) {
			continue
		}
		if !rc.J.Acquire(r) {
			return false, nil // the timer's pass is on it
		}
		if _, ok := rc.Recover(ctx, r, "settle"); !ok {
			return false, nil
		}
	}
	return true, nil
}

func containsStr(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Recover undoes r's pending steps, r being active (Begin or Acquire).
// If all are undone it deletes the record and logs one audit line; if
// not, it saves what was done and releases r for a later pass. It
// reports each step's result and whether r is finished. how names the
// caller in the log ("recovery", "settle", "rollback"). Each undo gets
// its own budget within ctx: a request rolling itself back passes a
// context that outlives its client.
func (rc *Recoverer) Recover(ctx context.Context, r *Record, how string) ([]Result, bool) {
	if c := rc.Completers[r.Op]; c != nil {
		return rc.complete(ctx, c, r, how)
	}
	u := rc.Undoers[r.Op]
	var results []Result
	var failed []string
	for _, s := range r.Pending() {
		res := Result{Step: s.Name, Undo: s.Undo}
		if u == nil {
			res.Err = fmt.Errorf("journal: no undo known for op %s", r.Op)
		} else {
			res.Err = rc.undo(ctx, u, r, s)
		}
		if res.Err == nil {
			s.State, s.At = Undone, rc.now()
			if err := rc.J.Save(r); err != nil {
				res.Err = err
			}
		}
		if res.Err != nil {
			failed = append(failed, s.Name+": "+res.Err.Error())
		}
		results = append(results, res)
	}
	undone := make([]string, 0, len(results))
	for _, res := range results {
		if res.Err == nil {
			undone = append(undone, res.Step)
		}
	}
	attrs := []any{"how", how, "id", r.ID, "op", r.Op, "caller", r.Caller, "targets", r.Targets,
		"started", r.Started.UTC().Format(time.RFC3339), "undone", undone}
	if len(failed) == 0 {
		if err := rc.J.Finish(r); err != nil {
			rc.log().Error("journal: cannot delete recovered record", append(attrs, "err", err)...)
			return results, false
		}
		if how != "rollback" {
			rc.log().Info("journal: request rolled back", append(attrs, "outcome", "rolled_back")...)
		}
		return results, true
	}
	rc.leave(r, strings.Join(failed, "; "), attrs)
	return results, false
}

// leave saves r with why it is not finished and releases it for a later
// pass.
func (rc *Recoverer) leave(r *Record, why string, attrs []any) {
	r.Attempts++
	r.LastError = why
	saveErr := rc.J.Save(r)
	rc.J.Release(r.ID)
	rc.log().Warn("journal: request left unfinished; will retry", append(attrs, "attempts", r.Attempts,
		"err", r.LastError, "save_err", saveErr)...)
}

// complete rolls r forward with c, retrying with backoff within its
// budget, and deletes the record once c is done.
func (rc *Recoverer) complete(ctx context.Context, c Completer, r *Record, how string) ([]Result, bool) {
	ctx, cancel := context.WithTimeout(ctx, completeBudgetFactor*orDefault(rc.UndoBudget, DefaultUndoBudget))
	defer cancel()
	attrs := []any{"how", how, "id", r.ID, "op", r.Op, "caller", r.Caller, "targets", r.Targets,
		"started", r.Started.UTC().Format(time.RFC3339)}
	err := c.Complete(ctx, r)
	for wait := retryMin; err != nil && ctx.Err() == nil; wait = min(2*wait, retryMax) {
		select {
		case <-ctx.Done():
		case <-time.After(wait):
			err = c.Complete(ctx, r)
		}
	}
	res := []Result{{Step: "complete", Err: err}}
	if err != nil {
		rc.leave(r, err.Error(), attrs)
		return res, false
	}
	if err := rc.J.Finish(r); err != nil {
		rc.log().Error("journal: cannot delete recovered record", append(attrs, "err", err)...)
		res[0].Err = err
		return res, false
	}
	rc.log().Info("journal: request completed", append(attrs, "outcome", "completed")...)
	return res, true
}

// undo runs u on s with the step's own budget, retrying with backoff
// while the service does not answer, and applies the two-looks rule to
// ErrAbsent.
func (rc *Recoverer) undo(ctx context.Context, u Undoer, r *Record, s *Step) error {
	ctx, cancel := context.WithTimeout(ctx, orDefault(rc.UndoBudget, DefaultUndoBudget))
	defer cancel()
	wait := retryMin
	for {
		err := u.UndoStep(ctx, r, s)
		if errors.Is(err, ErrAbsent) {
			quiet := orDefault(rc.Quiet, DefaultQuiet)
			if s.AbsentAt.IsZero() {
				s.AbsentAt = rc.now()
				_ = rc.J.Save(r)
			}
			if rc.now().Sub(s.AbsentAt) >= quiet {
				return nil
			}
			return fmt.Errorf("%w since %s; looking again after %v", ErrAbsent, s.AbsentAt.UTC().Format(time.RFC3339), quiet)
		}
		if err == nil {
			return nil
		}
		s.AbsentAt = time.Time{} // the service did not answer: start over
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
		wait = min(2*wait, retryMax)
	}
}

// Run runs a pass every Interval until ctx ends.
func (rc *Recoverer) Run(ctx context.Context) {
	t := time.NewTicker(orDefault(rc.Interval, DefaultInterval))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if _, err := rc.Pass(ctx); err != nil && ctx.Err() == nil {
			rc.log().Error("journal: recovery pass failed", "err", err)
		}
	}
}

// Register makes u the undoer of op's records. Call it before the first
// pass.
func (rc *Recoverer) Register(op string, u Undoer) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	setKey(&rc.Undoers, op, u)
}

// RegisterCompleter makes c the completer of op's records: they are
// rolled forward. Call it before the first pass.
func (rc *Recoverer) RegisterCompleter(op string, c Completer) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	setKey(&rc.Completers, op, c)
}

// setKey sets (*m)[k] = v, making the map if there is none.
func setKey[T any](m *map[string]T, k string, v T) {
	if *m == nil {
		*m = map[string]T{}
	}
	(*m)[k] = v
}

// ErrUnsettled is Begin's error when an unfinished earlier request for
// one of the targets could not be rolled back yet.
var ErrUnsettled = errors.New("journal: an earlier request for the name is not undone yet")

// Begin starts a new request's record (Journal.Begin). If an unfinished
// earlier record claims a target, that one is rolled back first; if it
// cannot be yet, Begin fails with ErrUnsettled. A target claimed by a
// running request fails with a *ClaimedError whose Active is set.
func (rc *Recoverer) Begin(ctx context.Context, r *Record) error {
	for attempt := 0; ; attempt++ {
		err := rc.J.Begin(r)
		var ce *ClaimedError
		if !errors.As(err, &ce) || ce.Active {
			return err
		}
		if attempt > 0 {
			return fmt.Errorf("%w (request %s)", ErrUnsettled, ce.ID)
		}
		if ok, err := rc.Settle(ctx, ce.Target); err != nil || !ok {
			rc.log().Warn("journal: an earlier request is not undone yet", "target", ce.Target, "id", ce.ID, "err", err)
			return fmt.Errorf("%w (request %s)", ErrUnsettled, ce.ID)
		}
	}
}
