// Package journal is ceod's write-ahead journal of multi-step requests
// (adduser, the database ops, deluser): before the first side effect of a request
// and after each step, the request's state is made durable (bbolt, one
// fsynced transaction per write): its id, op, caller, target names, and
// each step begun or done with what undoing it needs. Never a password.
//
// A request whose record is deleted (Finish) is over. A record that
// stays is unfinished: its request failed and could not undo everything,
// or ceod died. Recovery (see Recoverer) undoes what such records list
// (or, for an op with a Completer such as deluser, completes it) and
// deletes them; until then their target names stay claimed, so no
// new request can act on a half-made account, and no request can take
// over what another one left.
package journal

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// DefaultPath is the journal of a ceod.cf without a journal key.
const DefaultPath = "/var/lib/ceod/journal.db"

// openTimeout bounds the wait for the file lock: a second ceod on the
// same journal must fail at start, not hang.
const openTimeout = 2 * time.Second

var bucket = []byte("requests")

// Step states.
const (
	// Begun: the step was about to run; it may or may not have taken
	// effect (a crash, or an ambiguous answer).
	Begun = "begun"
	// Done: the step took effect.
	Done = "done"
	// Undone: the step's effect was removed (or never happened).
	Undone = "undone"
)

// Step is one step of a request.
type Step struct {
	Name  string    `json:"name"`  // e.g. "ldap_user", "principal"
	State string    `json:"state"` // Begun, Done or Undone
	At    time.Time `json:"at"`    // last change of State
	// Undo is what undoing the step needs (never a secret).
	Undo map[string]string `json:"undo,omitempty"`
	// AbsentAt is when recovery first found a Begun step's effect
	// absent; see Recoverer for why one look is not enough.
	AbsentAt time.Time `json:"absent_at,omitzero"`
}

// Record is one request's durable state.
type Record struct {
	ID      string    `json:"id"`
	Op      string    `json:"op"`
	Caller  string    `json:"caller"`
	Targets []string  `json:"targets"` // names the request claims
	Started time.Time `json:"started"`
	Steps   []Step    `json:"steps"`
	// Attempts counts recovery passes that left the record unfinished;
	// LastError is the last one's reason.
	Attempts  int    `json:"attempts,omitempty"`
	LastError string `json:"last_error,omitempty"`
}

// Step returns the last step named name, or nil.
func (r *Record) Step(name string) *Step {
	for i := len(r.Steps) - 1; i >= 0; i-- {
		if r.Steps[i].Name == name {
			return &r.Steps[i]
		}
	}
	return nil
}

// Pending lists the steps whose effect may still exist, last first:
// the order they are undone in.
func (r *Record) Pending() []*Step {
	var out []*Step
	for i := len(r.Steps) - 1; i >= 0; i-- {
		if r.Steps[i].State != Undone {
			out = append(out, &r.Steps[i])
		}
	}
	return out
}

// ErrClaimed is Begin's error when a target is claimed by another
// record; it is a *ClaimedError.
var ErrClaimed = errors.New("journal: name claimed by another request")

// ClaimedError names the record holding a target.
type ClaimedError struct {
	Target string
	ID     string
	// Active reports whether that request is running in this process;
	// otherwise it is unfinished and waits for recovery.
	Active bool
}

func (e *ClaimedError) Error() string {
	if e.Active {
		return fmt.Sprintf("journal: %s is being worked on by request %s", e.Target, e.ID)
	}
	return fmt.Sprintf("journal: %s has an unfinished request %s waiting for recovery", e.Target, e.ID)
}

func (e *ClaimedError) Unwrap() error { return ErrClaimed }

// Options tune Open.
type Options struct {
	// ReadOnly opens for listing (ceod -journal): no lock is taken
	// beyond a shared one, and writes fail.
	ReadOnly bool
	// NoSync skips fsync: only for measuring what durability costs.
	NoSync bool
	// AfterWrite, if set, is called after each durable write with the
	// record and "STEP:STATE" just written, or "finish" after the record
	// was deleted. It is the fault-injection hook of the crash tests.
	AfterWrite func(r *Record, step string)
}

// Journal is an open journal. It is safe for concurrent use. A nil
// *Journal is no journal: records live in memory only, nothing is
// durable and no name is claimed (for tests and for measuring what the
// journal costs).
type Journal struct {
	db   *bolt.DB
	path string
	opts Options

	mu      sync.Mutex
	active  map[string]*Record // by id: records owned by a running request or recovery
	durable map[string]bool    // ids of active records written at least once
}

// Open opens (creating if needed) the journal at path. Its directory is
// created 0700 and the file 0600: records name accounts and callers.
func Open(path string, opts Options) (*Journal, error) {
	j, err := open(path, opts, openTimeout)
	if errors.Is(err, bolt.ErrTimeout) {
		return nil, fmt.Errorf("journal: %s is locked by another process (a running ceod?)", path)
	}
	return j, err
}

func open(path string, opts Options, wait time.Duration) (*Journal, error) {
	if !opts.ReadOnly {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("journal: %w", err)
		}
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: wait, ReadOnly: opts.ReadOnly, NoSync: opts.NoSync})
	if err != nil {
		return nil, fmt.Errorf("journal: opening %s: %w", path, err)
	}
	j := &Journal{db: db, path: path, opts: opts, active: map[string]*Record{}, durable: map[string]bool{}}
	if !opts.ReadOnly {
		err = db.Update(func(tx *bolt.Tx) error {
			_, err := tx.CreateBucketIfNotExists(bucket)
			return err
		})
		if err != nil {
			db.Close()
			return nil, fmt.Errorf("journal: %s: %w", path, err)
		}
	}
	return j, nil
}

// Path is the journal's file.
func (j *Journal) Path() string { return j.path }

// Close closes the journal. Records stay for the next Open.
func (j *Journal) Close() error { return j.db.Close() }

// NewID returns a fresh request id.
func NewID() string {
	b := make([]byte, 8)
	rand.Read(b)
	return time.Now().UTC().Format("20060102T150405") + "-" + hex.EncodeToString(b)
}

// Begin claims r's targets for a new request and marks r active. It
// fails with a *ClaimedError if another record, durable or active,
// claims one of them. Nothing is written yet: the record becomes durable
// with its first Mark, before the request's first side effect. r.ID and
// r.Started are filled in if empty.
func (j *Journal) Begin(r *Record) error {
	if r.ID == "" {
		r.ID = NewID()
	}
	if r.Started.IsZero() {
		r.Started = time.Now()
	}
	if j == nil {
		return nil
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	// Under j.mu, so two Begins for one name cannot both pass the check.
	for id, o := range j.active {
		for _, t := range r.Targets {
			if slices.Contains(o.Targets, t) {
				return &ClaimedError{Target: t, ID: id, Active: true}
			}
		}
	}
	err := j.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucket).ForEach(func(k, v []byte) error {
			var o Record
			if err := json.Unmarshal(v, &o); err != nil {
				return fmt.Errorf("record %s: %w", k, err)
			}
			for _, t := range r.Targets {
				if slices.Contains(o.Targets, t) {
					return &ClaimedError{Target: t, ID: o.ID}
				}
			}
			return nil
		})
	})
	if err != nil {
		var ce *ClaimedError
		if errors.As(err, &ce) {
			return err
		}
		return fmt.Errorf("journal: begin %s %v: %w", r.Op, r.Targets, err)
	}
	j.active[r.ID] = r
	return nil
}

// Mark sets the state of r's step name (appending the step if r has
// none of that name yet), with undo data merged in. Begun and Undone are
// made durable at once. Done is written with the record's next write
// (the next step's Begun, or a rollback's), or never if the request
// finishes: a crash in between leaves the step Begun, which recovery
// reads the safe way (it may have taken effect). This halves the fsyncs
// of a request.
func (j *Journal) Mark(r *Record, name, state string, undo map[string]string) error {
	s := r.Step(name)
	if s == nil {
		r.Steps = append(r.Steps, Step{Name: name})
		s = &r.Steps[len(r.Steps)-1]
	}
	s.State = state
	s.At = time.Now()
	for k, v := range undo {
		if s.Undo == nil {
			s.Undo = map[string]string{}
		}
		s.Undo[k] = v
	}
	if j == nil || state == Done {
		return nil
	}
	if err := j.Save(r); err != nil {
		return err
	}
	j.after(r, name+":"+state)
	return nil
}

// Save makes r durable as it is.
func (j *Journal) Save(r *Record) error {
	if j == nil {
		return nil
	}
	err := j.db.Update(func(tx *bolt.Tx) error { return put(tx.Bucket(bucket), r) })
	if err != nil {
		return fmt.Errorf("journal: %s %s: %w", r.Op, r.ID, err)
	}
	j.mu.Lock()
	j.durable[r.ID] = true
	j.mu.Unlock()
	return nil
}

// Finish deletes r's record: the request is over, complete or fully
// undone.
func (j *Journal) Finish(r *Record) error {
	if j == nil {
		return nil
	}
	j.mu.Lock()
	written := j.durable[r.ID]
	j.mu.Unlock()
	var err error
	if written {
		err = j.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucket).Delete([]byte(r.ID)) })
	}
	if err != nil {
		// The record stays, claiming its targets, and recovery will
		// undo a request that had succeeded: better than a complete
		// account nobody can tell from a half-made one.
		j.Release(r.ID)
		return fmt.Errorf("journal: finishing %s %s: %w", r.Op, r.ID, err)
	}
	j.mu.Lock()
	delete(j.active, r.ID)
	delete(j.durable, r.ID)
	j.mu.Unlock()
	if written {
		j.after(r, "finish")
	}
	return nil
}

// Release marks r's record inactive without deleting it: it is left for
// recovery. A record never written is simply forgotten.
func (j *Journal) Release(id string) {
	if j == nil {
		return
	}
	j.mu.Lock()
	delete(j.active, id)
	j.mu.Unlock()
}

// Acquire marks an unfinished record active (recovery is working on
// it). It reports false if it already is.
func (j *Journal) Acquire(r *Record) bool {
	if j == nil {
		return true
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.active[r.ID] != nil {
		return false
	}
	j.active[r.ID] = r
	j.durable[r.ID] = true
	return true
}

// Unfinished returns the records not active in this process (all of
// them when all is set), oldest first.
func (j *Journal) Unfinished(all bool) ([]*Record, error) {
	if j == nil {
		return nil, nil
	}
	var out []*Record
	err := j.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucket)
		if b == nil {
			return nil // a journal never written
		}
		return b.ForEach(func(k, v []byte) error {
			r := &Record{}
			if err := json.Unmarshal(v, r); err != nil {
				return fmt.Errorf("record %s: %w", k, err)
			}
			out = append(out, r)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("journal: reading %s: %w", j.path, err)
	}
	if !all {
		j.mu.Lock()
		out = slices.DeleteFunc(out, func(r *Record) bool { return j.active[r.ID] != nil })
		j.mu.Unlock()
	}
	slices.SortFunc(out, func(a, b *Record) int { return a.Started.Compare(b.Started) })
	return out, nil
}

func (j *Journal) after(r *Record, step string) {
	if j.opts.AfterWrite != nil {
		j.opts.AfterWrite(r, step)
	}
}

func put(b *bolt.Bucket, r *Record) error {
	v, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return b.Put([]byte(r.ID), v)
}

// List returns the records of the journal at path, oldest first, for
// an operator (ceod -check, ceod -journal). A running ceod holds the
// journal's lock, so if the lock is taken List reads a copy of the file
// instead, checked with bbolt's own consistency check, a few times if
// it caught a write half-way.
func List(path string) ([]*Record, error) {
	if _, err := os.Stat(path); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil // never written: nothing unfinished
		}
		return nil, fmt.Errorf("journal: %w", err)
	}
	j, err := open(path, Options{ReadOnly: true}, listLockWait)
	if err == nil {
		defer j.Close()
		return j.Unfinished(true)
	}
	if !errors.Is(err, bolt.ErrTimeout) {
		return nil, err
	}
	var lastErr error
	for range copyAttempts {
		recs, err := listCopy(path)
		if err == nil {
			return recs, nil
		}
		lastErr = err
		time.Sleep(50 * time.Millisecond)
	}
	return nil, fmt.Errorf("journal: %s is in use and no consistent copy could be read: %w", path, lastErr)
}

// listLockWait is how long List waits for the lock before reading a
// copy; copyAttempts how often it tries a copy.
const (
	listLockWait = 200 * time.Millisecond
	copyAttempts = 5
)

func listCopy(path string) (recs []*Record, err error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	dir, err := os.MkdirTemp("", "ceod-journal-")
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	defer os.RemoveAll(dir)
	cp := filepath.Join(dir, "journal.db")
	if err := os.WriteFile(cp, b, 0o600); err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	defer func() {
		// bbolt panics on some torn pages; a torn copy is only a retry.
		if p := recover(); p != nil {
			recs, err = nil, fmt.Errorf("journal: torn copy: %v", p)
		}
	}()
	j, err := open(cp, Options{ReadOnly: true}, openTimeout)
	if err != nil {
		return nil, err
	}
	defer j.Close()
	err = j.db.View(func(tx *bolt.Tx) error {
		var first error
		for e := range tx.Check() { // drain: the checker must finish
			if first == nil {
				first = e
			}
		}
		return first
	})
	if err != nil {
		return nil, fmt.Errorf("journal: torn copy: %w", err)
	}
	return j.Unfinished(true)
}
