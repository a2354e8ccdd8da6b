package server

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"runtime/debug"
	"sync"
	"syscall"

	"github.com/csclub/ceo/wire"
)

// opBufSize is the size of the pooled buffer an op frame is first read
// into. A sealed ping is under 100 bytes and an adduser request a few
// hundred, so one read call brings most frames whole; larger ones get
// a buffer of their own.
const opBufSize = 2048

// opBuf is a buffer from the server's pool.
type opBuf = [opBufSize]byte

// bufPool holds the op frame buffers. An idle connection holds none: it
// waits for its next frame without a buffer (see waitRead) and returns
// the buffer once the op is answered.
type bufPool struct{ p sync.Pool }

func (p *bufPool) get() *opBuf {
	if b, ok := p.p.Get().(*opBuf); ok {
		return b
	}
	return new(opBuf)
}

func (p *bufPool) put(b *opBuf) {
	if b != nil {
		p.p.Put(b)
	}
}

// opFrame is an op frame read whole; body may be part of buf, which
// goes back to the pool with release.
type opFrame struct {
	t    wire.MsgType
	body []byte
	buf  *opBuf
}

// release returns f's buffer to the pool, wiped where the body was:
// the body is opened in place, so it holds the request's plaintext
// (a new password, say), which the next op's frame must not inherit.
func (c *conn) release(f *opFrame) {
	clear(f.body)
	c.srv.bufs.put(f.buf)
	f.buf, f.body = nil, nil
}

// readOp completes the op frame of which firstRead brought the first n
// bytes into buf; errors are wire.ReadFrame's. Bytes of a following
// frame that came with it (a client may send its next request early)
// are kept for the next firstRead.
func (c *conn) readOp(buf *opBuf, n, maxFrame int) (opFrame, error) {
	f := opFrame{buf: buf}
	var rest []byte
	var err error
	f.t, f.body, rest, err = wire.ReadFrameFrom(c.rwc, buf[:], n, maxFrame)
	if err != nil {
		c.release(&f)
		return opFrame{t: f.t}, err
	}
	if len(rest) > 0 {
		c.pending = bytes.Clone(rest)
	}
	return f, nil
}

// firstRead waits for the next frame and reads what has arrived of it
// into a pooled buffer: io.EOF itself if the peer closed the connection
// first. It runs on the connection's goroutine, so it keeps to small
// frames: no formatting, no logging.
func (c *conn) firstRead() (*opBuf, int, error) {
	if len(c.pending) > 0 {
		buf := c.srv.bufs.get()
		n := copy(buf[:], c.pending)
		c.pending = c.pending[n:]
		if len(c.pending) == 0 {
			c.pending = nil
		}
		return buf, n, nil
	}
	buf, n, err := c.waitRead()
	if err == nil && n == 0 {
		err = io.EOF
	}
	if err != nil {
		c.srv.bufs.put(buf)
		return nil, 0, err
	}
	return buf, n, nil
}

// waitRead waits until the connection is readable and then reads into
// a buffer from the pool: taken only once there is something to read,
// so that thousands of idle connections hold no buffers. Connections
// without a file descriptor (tests' pipes) read into the buffer at
// once.
func (c *conn) waitRead() (*opBuf, int, error) {
	r := &c.rd
	if r.raw == nil {
		buf := c.srv.bufs.get()
		n, err := c.rwc.Read(buf[:])
		if n > 0 {
			err = nil // the frame reader sees any error on its next read
		}
		return buf, n, err
	}
	err := r.raw.Read(r.read)
	buf, n, rerr := r.buf, r.n, r.err
	r.buf, r.n, r.err = nil, 0, nil
	if err == nil && rerr != nil {
		err = os.NewSyscallError("read", rerr)
	}
	return buf, max(n, 0), err
}

// rawReader is waitRead's state, kept in the conn so that a wait
// allocates nothing.
type rawReader struct {
	raw  syscall.RawConn // nil if the connection has no descriptor
	read func(fd uintptr) bool
	pool *bufPool
	buf  *opBuf
	n    int
	err  error
}

func (r *rawReader) init(nc net.Conn, pool *bufPool) {
	if sc, ok := nc.(syscall.Conn); ok {
		if raw, err := sc.SyscallConn(); err == nil {
			r.raw, r.pool = raw, pool
			r.read = r.readFD
		}
	}
}

// readFD is the function syscall.RawConn.Read calls when the descriptor
// may be readable; false means wait for it.
func (r *rawReader) readFD(fd uintptr) bool {
	r.buf = r.pool.get()
	for {
		r.n, r.err = syscall.Read(int(fd), r.buf[:])
		if r.err != syscall.EINTR {
			break
		}
	}
	if r.err == syscall.EAGAIN {
		r.pool.put(r.buf)
		r.buf, r.err = nil, nil
		return false
	}
	return true
}

// onOwnStack runs f on another goroutine, one of the server's workers,
// and waits for it. Serving an op (slog, protobuf, the handler) or a
// handshake (the AP-REQ's decoding and checks) grows a goroutine's stack
// to several KB; on the connection's goroutine, which then waits idle
// for minutes, that stack would stay (the runtime shrinks stacks only
// during a GC, and not below a quarter in use). A panic in f becomes an
// error wrapping errConnPanic, as it would on a worker, whose panics
// serve's recover cannot see.
//
// While the server holds few connections their stacks cost little, and
// f runs on the connection's own goroutine: handing it to a worker and
// back costs two wake-ups, which on a quiet host (idle CPUs woken to
// look for work) cost more than the op.
func (c *conn) onOwnStack(what string, f func() error) error {
	if !c.srv.manyConns() {
		if !c.grown {
			c.grown = true
			growStack()
		}
		return c.guard(what, f)
	}
	var err error
	done := make(chan struct{})
	c.srv.work.run(func() {
		defer close(done)
		err = c.guard(what, f)
	})
	<-done
	return err
}

// guard calls f, turning a panic into an error wrapping errConnPanic.
// It is a method, not a closure, so that the inline path allocates
// nothing per op.
func (c *conn) guard(what string, f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			c.log().Error("panic in "+what, "panic", r, "stack", string(debug.Stack()))
			err = fmt.Errorf("%w: %v", errConnPanic, r)
		}
	}()
	return f()
}

// growStack makes the calling goroutine's stack large enough for a
// handshake and an op in one step, while the stack is still shallow.
// A new goroutine starts with 2 KB; left to grow on demand, it doubles
// two or three times in the middle of the AP-REQ's decoding, and each
// doubling copies the deep stack and walks every frame on it (5% of
// ceod's CPU per handshake). Here the one copy is of a few frames.
//
//go:noinline
func growStack() {
	var frame [growStackBytes]byte
	keepFrame(frame[:])
}

// growStackBytes is the frame growStack asks for: the stack becomes
// the next power of two above it and what is already in use, 8 KB.
const growStackBytes = 6 << 10

//go:noinline
func keepFrame(b []byte) {}
