package server

import (
	"context"
	"sync"
	"time"
)

// opContext is an op's context: the server's, ending at the op's
// deadline. context.WithTimeout would, for every op, start a timer and
// register with the server's context under its mutex, which all
// connections share; most ops (ping, most refusals) never look at their
// context. opContext makes that context.WithDeadline on first use of
// Done, Err or Value, and then behaves exactly like it.
type opContext struct {
	parent   context.Context
	deadline time.Time
	ended    context.Context // already canceled: the context of an op over before it looked

	once   sync.Once
	inner  context.Context
	cancel context.CancelFunc
}

func newOpContext(parent, ended context.Context, d time.Duration) *opContext {
	return &opContext{parent: parent, ended: ended, deadline: time.Now().Add(d)}
}

func (c *opContext) arm() context.Context {
	c.once.Do(func() { c.inner, c.cancel = context.WithDeadline(c.parent, c.deadline) })
	return c.inner
}

// Deadline is the op's, or the parent's if earlier.
func (c *opContext) Deadline() (time.Time, bool) {
	if d, ok := c.parent.Deadline(); ok && d.Before(c.deadline) {
		return d, true
	}
	return c.deadline, true
}

func (c *opContext) Done() <-chan struct{} { return c.arm().Done() }
func (c *opContext) Err() error            { return c.arm().Err() }
func (c *opContext) Value(key any) any     { return c.arm().Value(key) }

// end cancels the context once the op is over, like WithTimeout's
// cancel function. An op that never looked gets the ended context, in
// case something it left behind looks later.
func (c *opContext) end() {
	c.once.Do(func() { c.inner = c.ended })
	if c.cancel != nil {
		c.cancel()
	}
}
