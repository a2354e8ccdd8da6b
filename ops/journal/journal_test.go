package journal

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func openTemp(t *testing.T) (*Journal, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "state", "journal.db")
	j, err := Open(path, Options{})
	require.NoError(t, err)
	t.Cleanup(func() { j.Close() })
	return j, path
}

func TestOpenModes(t *testing.T) {
	_, path := openTemp(t)
	st, err := os.Stat(filepath.Dir(path))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), st.Mode().Perm())
	st, err = os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	// A second ceod on the same journal fails rather than hangs.
	_, err = Open(path, Options{})
	assert.ErrorContains(t, err, "locked by another process")
}

// TestDurable: what Begin and Mark wrote is there after a reopen, and
// List reads it while the journal is open (locked) and after.
func TestDurable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "journal.db")
	j, err := Open(path, Options{})
	require.NoError(t, err)
	r := &Record{Op: "adduser", Caller: "office1", Targets: []string{"alice"}}
	require.NoError(t, j.Begin(r))
	require.NoError(t, j.Mark(r, "ldap_user", Begun, map[string]string{"name": "alice", "id": "20001"}))
	require.NoError(t, j.Mark(r, "ldap_user", Done, nil))
	require.NoError(t, j.Mark(r, "principal", Begun, map[string]string{"name": "alice"}))

	listed, err := List(path) // locked by j: read from a copy
	require.NoError(t, err)
	require.Len(t, listed, 1)
	assert.Equal(t, "alice", listed[0].Targets[0])
	require.NoError(t, j.Close())

	j, err = Open(path, Options{})
	require.NoError(t, err)
	defer j.Close()
	recs, err := j.Unfinished(false)
	require.NoError(t, err)
	require.Len(t, recs, 1)
	got := recs[0]
	assert.Equal(t, r.ID, got.ID)
	assert.Equal(t, "office1", got.Caller)
	require.Len(t, got.Steps, 2)
	assert.Equal(t, Done, got.Steps[0].State)
	assert.Equal(t, "20001", got.Steps[0].Undo["id"])
	assert.Equal(t, Begun, got.Steps[1].State)
	pending := got.Pending()
	require.Len(t, pending, 2)
	assert.Equal(t, "principal", pending[0].Name, "undone last first")
}

func TestClaims(t *testing.T) {
	j, _ := openTemp(t)
	a := &Record{Op: "adduser", Targets: []string{"bob"}}
	require.NoError(t, j.Begin(a))
	require.NoError(t, j.Mark(a, "ldap_user", Begun, nil))
	var ce *ClaimedError
	err := j.Begin(&Record{Op: "adduser", Targets: []string{"bob"}})
	require.ErrorAs(t, err, &ce)
	assert.True(t, ce.Active)
	assert.ErrorIs(t, err, ErrClaimed)
	require.NoError(t, j.Begin(&Record{Op: "adduser", Targets: []string{"carol"}}))

	// Released (left for recovery): still claimed, no longer active.
	j.Release(a.ID)
	err = j.Begin(&Record{Op: "adduser", Targets: []string{"bob"}})
	require.ErrorAs(t, err, &ce)
	assert.False(t, ce.Active)
	recs, err := j.Unfinished(false)
	require.NoError(t, err)
	require.Len(t, recs, 1)
	assert.Equal(t, a.ID, recs[0].ID)

	require.NoError(t, j.Finish(a))
	require.NoError(t, j.Begin(&Record{Op: "adduser", Targets: []string{"bob"}}))
}

// TestConcurrentBegin: of concurrent Begins for one name exactly one
// wins.
func TestConcurrentBegin(t *testing.T) {
	j, _ := openTemp(t)
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for range 20 {
		wg.Go(func() {
			if j.Begin(&Record{Op: "x", Targets: []string{"same"}}) == nil {
				mu.Lock()
				wins++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	assert.Equal(t, 1, wins)
}

// fakeUndoer is a service for pure recovery logic: per step, the
// errors its undo returns, in turn (the last one repeats).
type fakeUndoer struct {
	mu    sync.Mutex
	errs  map[string][]error
	calls map[string]int
}

func (f *fakeUndoer) UndoStep(_ context.Context, _ *Record, s *Step) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.calls == nil {
		f.calls = map[string]int{}
	}
	n := f.calls[s.Name]
	f.calls[s.Name]++
	errs := f.errs[s.Name]
	if len(errs) == 0 {
		return nil
	}
	return errs[min(n, len(errs)-1)]
}

func unfinished(t *testing.T, j *Journal, steps ...string) *Record {
	t.Helper()
	r := &Record{Op: "adduser", Caller: "office1", Targets: []string{"dave"}}
	require.NoError(t, j.Begin(r))
	for _, s := range steps {
		require.NoError(t, j.Mark(r, s, Done, map[string]string{"name": "dave"}))
	}
	require.NoError(t, j.Save(r))
	j.Release(r.ID)
	return r
}

// TestRecoverRetries: an undo whose service fails twice is retried with
// backoff within its budget; the record is then deleted.
func TestRecoverRetries(t *testing.T) {
	j, _ := openTemp(t)
	unfinished(t, j, "ldap_user", "principal")
	down := errors.New("kadmind unreachable")
	u := &fakeUndoer{errs: map[string][]error{"principal": {down, down, nil}}}
	rc := &Recoverer{J: j}
	rc.Register("adduser", u)
	left, err := rc.Pass(t.Context())
	require.NoError(t, err)
	assert.Equal(t, 0, left)
	assert.Equal(t, 3, u.calls["principal"])
	assert.Equal(t, 1, u.calls["ldap_user"])
	recs, err := j.Unfinished(true)
	require.NoError(t, err)
	assert.Empty(t, recs)
}

// TestRecoverSeparateBudgets: a step whose service never answers uses
// up its own budget only; the next step is still undone, and the record
// stays with the failed step pending.
func TestRecoverSeparateBudgets(t *testing.T) {
	j, _ := openTemp(t)
	unfinished(t, j, "ldap_user", "principal")
	u := &fakeUndoer{errs: map[string][]error{"principal": {errors.New("kadmind hangs")}}}
	rc := &Recoverer{J: j, UndoBudget: 300 * time.Millisecond}
	rc.Register("adduser", u)
	t0 := time.Now()
	left, err := rc.Pass(t.Context())
	require.NoError(t, err)
	assert.Less(t, time.Since(t0), 2*time.Second)
	assert.Equal(t, 1, left)
	assert.Equal(t, 1, u.calls["ldap_user"])
	recs, err := j.Unfinished(false)
	require.NoError(t, err)
	require.Len(t, recs, 1, "released for the next pass")
	assert.Equal(t, Undone, recs[0].Step("ldap_user").State)
	assert.Equal(t, Done, recs[0].Step("principal").State)
	assert.Equal(t, 1, recs[0].Attempts)
	assert.Contains(t, recs[0].LastError, "kadmind hangs")
}

// TestRecoverAbsentTwoLooks: a Begun step found absent counts as undone
// only once it has stayed absent for Quiet.
func TestRecoverAbsentTwoLooks(t *testing.T) {
	j, _ := openTemp(t)
	r := &Record{Op: "adduser", Targets: []string{"erin"}}
	require.NoError(t, j.Begin(r))
	require.NoError(t, j.Mark(r, "principal", Begun, map[string]string{"name": "erin"}))
	j.Release(r.ID)
	now := time.Now()
	u := &fakeUndoer{errs: map[string][]error{"principal": {ErrAbsent}}}
	rc := &Recoverer{J: j, Quiet: 5 * time.Second, Now: func() time.Time { return now }}
	rc.Register("adduser", u)
	left, err := rc.Pass(t.Context())
	require.NoError(t, err)
	assert.Equal(t, 1, left, "first look")
	now = now.Add(6 * time.Second)
	left, err = rc.Pass(t.Context())
	require.NoError(t, err)
	assert.Equal(t, 0, left, "second look, after Quiet")
}

// TestSettleSkipsActive: Settle does not touch a record a running
// request owns.
func TestSettleSkipsActive(t *testing.T) {
	j, _ := openTemp(t)
	r := &Record{Op: "adduser", Targets: []string{"frank"}}
	require.NoError(t, j.Begin(r))
	u := &fakeUndoer{}
	rc := &Recoverer{J: j}
	rc.Register("adduser", u)
	ok, err := rc.Settle(t.Context(), "frank")
	require.NoError(t, err)
	assert.True(t, ok, "nothing unfinished: the active record is not Settle's")
	assert.Empty(t, u.calls)
}

// TestNeverWritten: a request that ends before its first Mark leaves
// nothing, and its claim goes with it.
func TestNeverWritten(t *testing.T) {
	j, path := openTemp(t)
	r := &Record{Op: "adduser", Targets: []string{"hal"}}
	require.NoError(t, j.Begin(r))
	require.NoError(t, j.Finish(r))
	recs, err := List(path)
	require.NoError(t, err)
	assert.Empty(t, recs)
	require.NoError(t, j.Begin(&Record{Op: "adduser", Targets: []string{"hal"}}))
}

// TestNilJournal: a nil journal keeps records in memory only.
func TestNilJournal(t *testing.T) {
	var j *Journal
	r := &Record{Op: "adduser", Targets: []string{"gil"}}
	require.NoError(t, j.Begin(r))
	assert.NotEmpty(t, r.ID)
	require.NoError(t, j.Mark(r, "ldap_user", Done, nil))
	assert.Equal(t, Done, r.Step("ldap_user").State)
	require.NoError(t, j.Finish(r))
}

// fakeCompleter rolls records forward; errs are its results in turn
// (the last one repeats).
type fakeCompleter struct {
	errs  []error
	calls int
}

func (f *fakeCompleter) Complete(context.Context, *Record) error {
	f.calls++
	if len(f.errs) == 0 {
		return nil
	}
	return f.errs[min(f.calls-1, len(f.errs)-1)]
}

// TestComplete: an op with a Completer is rolled forward, never undone:
// retried with backoff within its budget, its record kept (released,
// with the error) while it fails, deleted once it succeeds; a new
// request for the name settles it first.
func TestComplete(t *testing.T) {
	j, _ := openTemp(t)
	r := &Record{Op: "deluser", Caller: "syscom1", Targets: []string{"erin"}}
	require.NoError(t, j.Begin(r))
	require.NoError(t, j.Mark(r, "group", Begun, map[string]string{"uid": "20001"}))
	j.Release(r.ID)
	down := errors.New("kadmind unreachable")
	c := &fakeCompleter{errs: []error{down}}
	u := &fakeUndoer{}
	rc := &Recoverer{J: j, UndoBudget: 50 * time.Millisecond}
	rc.Register("deluser", u)
	rc.RegisterCompleter("deluser", c)
	left, err := rc.Pass(t.Context())
	require.NoError(t, err)
	assert.Equal(t, 1, left)
	assert.Greater(t, c.calls, 1, "not retried within the budget")
	assert.Empty(t, u.calls, "a completed op was undone")
	recs, err := j.Unfinished(false)
	require.NoError(t, err)
	require.Len(t, recs, 1, "released for the next pass")
	assert.Equal(t, 1, recs[0].Attempts)
	assert.Contains(t, recs[0].LastError, "kadmind unreachable")
	assert.Equal(t, Begun, recs[0].Step("group").State, "a failed completion changed the steps")

	c.errs, c.calls = []error{down, nil}, 0
	next := &Record{Op: "adduser", Caller: "office1", Targets: []string{"erin"}}
	require.NoError(t, rc.Begin(t.Context(), next), "the new request did not settle the deletion")
	assert.Equal(t, 2, c.calls)
	recs, err = j.Unfinished(true)
	require.NoError(t, err)
	assert.Empty(t, recs, "the completed record stays")
}
