// Package session is the ceod protocol on an open connection, for both
// ends: authenticate with GSS-API context tokens in MsgAuth frames, then
// exchange op frames whose bodies are sealed wrap tokens, each reply in a
// frame of its request's msgtype.
//
// ceod (package ceod/server) runs the acceptor's side with Accept, ceoc
// the initiator's side with Initiate. Both require confidentiality on
// every op message, in both directions, like the legacy programs: an
// integrity-only token is refused (ErrOpen, wrapping
// gss.ErrNotSealed when the mechanism is package wire/krb5/gss).
//
// Deadlines, like in package wire, are the caller's business: set them
// on the net.Conn.
package session

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/csclub/ceo/wire"
)

// Sealer protects the op messages of an established security context.
// *gss.Context implements it.
type Sealer interface {
	// Wrap seals a message (conf=1).
	Wrap(msg []byte) ([]byte, error)
	// UnwrapSealed opens a sealed message from the peer and refuses
	// anything else, integrity-only tokens included.
	UnwrapSealed(tok []byte) ([]byte, error)
	// Peer returns the other side's principal, with realm.
	Peer() string
}

var (
	// ErrRejected wraps the error of the mechanism's accept or step
	// function: the peer's context token was refused.
	ErrRejected = errors.New("session: authentication rejected")
	// ErrSeal wraps a failure to seal our own message.
	ErrSeal = errors.New("session: sealing failed")
	// ErrOpen wraps a failure to open the peer's message: defective,
	// forged, replayed, reordered or not sealed.
	ErrOpen = errors.New("session: peer's message could not be opened")
)

// UnexpectedFrameError reports a frame of the wrong msgtype: anything but
// MsgAuth during authentication, or a reply whose msgtype is not its
// request's.
type UnexpectedFrameError struct {
	Got, Want wire.MsgType
}

func (e *UnexpectedFrameError) Error() string {
	return fmt.Sprintf("session: got a %v frame, want %v", e.Got, e.Want)
}

// Session is an authenticated connection. Its methods must be called
// from one goroutine at a time: the protocol is strictly
// request-then-reply.
type Session struct {
	rw       io.ReadWriter
	sec      Sealer
	maxFrame int
	pending  []byte // bytes of the next frame, read with the last one
}

// readAhead is how much ReadFrame asks for at once: the sealed reply to
// a small op fits, so that it takes one read call, not two.
const readAhead = 512

// Accept runs the acceptor's side of the handshake on rw: it reads one
// frame of at most maxFrame bytes (<= 0: wire.DefaultMaxFrame), which
// must be MsgAuth, passes its body to accept, and sends accept's output
// token in a MsgAuth frame, unless it is empty (the legacy daemon sends
// no empty final token).
//
// Errors: io.EOF itself if rw ends before the first byte (a port probe,
// not an attempt); an *UnexpectedFrameError, whose Got says which op came
// before authentication; an error wrapping ErrRejected with accept's
// error; otherwise an I/O or framing error from package wire.
func Accept(rw io.ReadWriter, maxFrame int, accept func(token []byte) (Sealer, []byte, error)) (*Session, error) {
	t, body, err := wire.ReadFrame(rw, maxFrame)
	if err == io.EOF {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("reading the auth token: %w", err)
	}
	if t != wire.MsgAuth {
		return nil, &UnexpectedFrameError{Got: t, Want: wire.MsgAuth}
	}
	sec, out, err := accept(body)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrRejected, err)
	}
	if sec == nil {
		return nil, fmt.Errorf("%w: the mechanism returned no context", ErrRejected)
	}
	if len(out) > 0 {
		if err := wire.WriteFrame(rw, wire.MsgAuth, out); err != nil {
			return nil, fmt.Errorf("sending the auth token: %w", err)
		}
	}
	return &Session{rw: rw, sec: sec, maxFrame: maxFrame}, nil
}

// Initiate runs the initiator's side of the handshake on rw: it sends
// token (the mechanism's first context token) in a MsgAuth frame, reads
// the acceptor's MsgAuth answer and passes it to step, which returns the
// established context.
//
// Errors: an *UnexpectedFrameError for a frame other than MsgAuth; an
// error wrapping ErrRejected with step's error; otherwise an I/O or
// framing error from package wire (io.EOF or io.ErrUnexpectedEOF, wrapped,
// if the acceptor closed the connection instead of answering).
func Initiate(rw io.ReadWriter, token []byte, step func(reply []byte) (Sealer, error)) (*Session, error) {
	if err := wire.WriteFrame(rw, wire.MsgAuth, token); err != nil {
		return nil, fmt.Errorf("sending the auth token: %w", err)
	}
	t, body, err := wire.ReadFrame(rw, wire.DefaultMaxFrame)
	if err != nil {
		return nil, fmt.Errorf("reading the auth reply: %w", err)
	}
	if t != wire.MsgAuth {
		return nil, &UnexpectedFrameError{Got: t, Want: wire.MsgAuth}
	}
	sec, err := step(body)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrRejected, err)
	}
	return &Session{rw: rw, sec: sec, maxFrame: wire.DefaultMaxFrame}, nil
}

// Peer returns the other side's authenticated principal, with realm.
func (s *Session) Peer() string { return s.sec.Peer() }

// Security returns the established security context (a *gss.Context for
// ceod and ceoc), e.g. for its delegated credential.
func (s *Session) Security() Sealer { return s.sec }

// ReadFrame reads the next frame as it is: its msgtype and its body,
// still sealed. io.EOF itself means the peer closed the connection
// between frames.
func (s *Session) ReadFrame() (wire.MsgType, []byte, error) {
	buf, n := s.pending, len(s.pending)
	s.pending = nil
	var lent []byte
	if n == 0 {
		if bl, ok := s.sec.(bufferLender); ok {
			lent = bl.Buffer(readAhead)
		}
		buf = lent
		if buf == nil {
			buf = make([]byte, readAhead)
		}
		n, _ = s.rw.Read(buf) // an error recurs on the next read
	}
	t, body, rest, err := wire.ReadFrameFrom(s.rw, buf, n, s.maxFrame)
	if lent != nil {
		// What the caller gets must not be in the buffer given back:
		// a frame read whole starts at buf[HeaderLen] (a longer one
		// has a body of its own). The copy is the size of the frame,
		// not of the buffer.
		if len(body) > 0 && &body[0] == &buf[wire.HeaderLen] {
			body = bytes.Clone(body)
		}
		rest = bytes.Clone(rest)
		s.sec.(bufferLender).PutBuffer(lent)
	}
	if len(rest) > 0 {
		s.pending = rest
	}
	return t, body, err
}

// inPlaceOpener is a Sealer that can open a token where it is (as
// *gss.Context does), saving a copy of every message.
type inPlaceOpener interface {
	UnwrapSealedInPlace(tok []byte) ([]byte, error)
}

// Open opens the sealed body of an op frame from the peer. It may open
// tok in place: tok's bytes are overwritten, and the message returned
// may be a part of tok. Errors wrap ErrOpen.
func (s *Session) Open(t wire.MsgType, tok []byte) ([]byte, error) {
	var msg []byte
	var err error
	if o, ok := s.sec.(inPlaceOpener); ok {
		msg, err = o.UnwrapSealedInPlace(tok)
	} else {
		msg, err = s.sec.UnwrapSealed(tok)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v message: %w", ErrOpen, t, err)
	}
	return msg, nil
}

// appendSealer is a Sealer that seals into a caller's buffer (as
// *gss.Context does), so that Send builds the frame in one buffer.
type appendSealer interface {
	WrapSize(n int) int
	WrapAppend(dst, msg []byte) ([]byte, error)
}

// bufferLender is a Sealer that lends buffers for frames in flight (as
// *gss.Context does, from a pool its acceptor's contexts share), so
// that sending or reading a frame allocates nothing, and an idle
// connection holds no buffer.
type bufferLender interface {
	// Buffer returns a buffer of at least n bytes, or nil.
	Buffer(n int) []byte
	// PutBuffer gives it back; it must hold no plaintext.
	PutBuffer(b []byte)
}

// Send seals msg and sends it in one frame of msgtype t. A failure to
// seal wraps ErrSeal; a sealed message too large for a frame wraps
// wire.ErrFrameTooLarge, and nothing is sent.
func (s *Session) Send(t wire.MsgType, msg []byte) error {
	var frame []byte
	var err error
	if as, ok := s.sec.(appendSealer); ok {
		n := wire.HeaderLen + as.WrapSize(len(msg))
		var lent []byte
		if bl, ok := s.sec.(bufferLender); ok {
			lent = bl.Buffer(n)
			defer bl.PutBuffer(lent)
		}
		frame = lent[:0]
		if lent == nil {
			frame = make([]byte, 0, n)
		}
		if frame, err = as.WrapAppend(frame[:wire.HeaderLen], msg); err != nil {
			clear(lent) // it may hold msg in the clear
		}
	} else {
		var tok []byte
		if tok, err = s.sec.Wrap(msg); err == nil {
			frame = append(make([]byte, wire.HeaderLen, wire.HeaderLen+len(tok)), tok...)
		}
	}
	if err != nil {
		return fmt.Errorf("%w: %v message: %w", ErrSeal, t, err)
	}
	tok := frame[wire.HeaderLen:]
	if err := wire.WriteFramed(s.rw, t, frame); err != nil {
		if errors.Is(err, wire.ErrFrameTooLarge) {
			return fmt.Errorf("%v message of %d bytes seals to %d: %w", t, len(msg), len(tok), err)
		}
		return err
	}
	return nil
}

// Call sends request sealed in a frame of msgtype t and returns the
// opened reply, which must come in a frame of the same msgtype. Errors:
// those of Send; a read error (io.EOF wrapped if the peer closed the
// connection instead of replying); an *UnexpectedFrameError; an error
// wrapping ErrOpen.
func (s *Session) Call(t wire.MsgType, request []byte) ([]byte, error) {
	if err := s.Send(t, request); err != nil {
		return nil, err
	}
	rt, body, err := s.ReadFrame()
	if err != nil {
		return nil, fmt.Errorf("reading the %v reply: %w", t, err)
	}
	if rt != t {
		return nil, &UnexpectedFrameError{Got: rt, Want: t}
	}
	return s.Open(t, body)
}
