package gss

import "sync"

// scratch is the memory that the contexts of one owner borrow for the
// moment a message is sealed, opened or sent, instead of allocating it
// per message: HMAC states, and buffers for the frame a sealed message
// travels in. The Acceptor owns one for all its contexts, so that an
// idle connection holds none of it; an initiator's context owns its
// own (a client has few). Its zero value is ready.
type scratch struct {
	macs macPools
	bufs sync.Pool // of *[lentBufSize]byte
}

// lentBufSize is the size of the buffers Context.Buffer lends: a sealed
// op message of up to about 900 bytes in its frame, which is most
// requests and replies (a sealed ping is under 100 bytes). Larger ones
// are rare enough to allocate.
const lentBufSize = 1024

// macPools returns s's HMAC pools, nil (fresh states) if s is.
func (s *scratch) macPools() *macPools {
	if s == nil {
		return nil
	}
	return &s.macs
}

// Buffer lends a buffer of lentBufSize bytes, for a frame whose sealed
// message is only read or written for the moment (package session's
// Send and ReadFrame). It returns nil if n is more than that, or if
// the context has nothing to lend from (then allocate). Give it back
// with PutBuffer once nothing refers to it; it must only ever hold
// ciphertext then, since its next borrower is another connection.
func (c *Context) Buffer(n int) []byte {
	if c.scratch == nil || n > lentBufSize {
		return nil
	}
	if b, ok := c.scratch.bufs.Get().(*[lentBufSize]byte); ok {
		return b[:]
	}
	return new([lentBufSize]byte)[:]
}

// PutBuffer gives back a buffer from Buffer, resliced or not; any
// other is ignored.
func (c *Context) PutBuffer(b []byte) {
	if c.scratch == nil || cap(b) != lentBufSize {
		return
	}
	c.scratch.bufs.Put((*[lentBufSize]byte)(b[:lentBufSize]))
}
