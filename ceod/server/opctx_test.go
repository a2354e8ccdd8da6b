package server

import (
	"context"
	"errors"
	"testing"
	"time"
)

type ctxKey struct{}

// TestOpContext: the lazy op context behaves as context.WithTimeout's.
func TestOpContext(t *testing.T) {
	parent, cancelParent := context.WithCancel(context.WithValue(context.Background(), ctxKey{}, "v"))
	defer cancelParent()
	ended, end := context.WithCancel(parent)
	end()

	c := newOpContext(parent, ended, 20*time.Millisecond)
	if d, ok := c.Deadline(); !ok || time.Until(d) > 20*time.Millisecond {
		t.Errorf("Deadline() = %v, %v", d, ok)
	}
	if c.Value(ctxKey{}) != "v" || c.Err() != nil {
		t.Fatalf("Value %v, Err %v", c.Value(ctxKey{}), c.Err())
	}
	select {
	case <-c.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("not done after its deadline")
	}
	if !errors.Is(c.Err(), context.DeadlineExceeded) {
		t.Errorf("Err() = %v after the deadline", c.Err())
	}
	c.end()

	unused := newOpContext(parent, ended, time.Hour)
	unused.end()
	if !errors.Is(unused.Err(), context.Canceled) || unused.Value(ctxKey{}) != "v" {
		t.Errorf("ended before use: Err %v, Value %v", unused.Err(), unused.Value(ctxKey{}))
	}

	used := newOpContext(parent, ended, time.Hour)
	stopped := make(chan struct{})
	context.AfterFunc(used, func() { close(stopped) })
	used.end()
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		t.Fatal("end did not cancel a context in use")
	}

	child := newOpContext(parent, ended, time.Hour)
	done := child.Done()
	cancelParent()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the parent's cancellation did not reach the op")
	}
	if !errors.Is(child.Err(), context.Canceled) {
		t.Errorf("Err() = %v after the parent's cancellation", child.Err())
	}
	child.end()
}
