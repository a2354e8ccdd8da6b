package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// DefaultMaxFrame is the largest body the legacy programs accept: a
// 65536-byte body is fine, 65537 is fatal.
const DefaultMaxFrame = 65536

// HeaderLen is the size of a frame header: msglen and msgtype.
const HeaderLen = 8

// maxZeroReads bounds how many consecutive (0, nil) reads ReadFrame
// tolerates before giving up, so a misbehaving reader cannot make it spin
// forever (the same bound bufio uses).
const maxZeroReads = 100

var (
	// ErrEmptyFrame reports a frame whose msglen is 0, which the legacy
	// protocol treats as fatal in both directions.
	ErrEmptyFrame = errors.New("wire: empty frame")
	// ErrFrameTooLarge reports a frame whose msglen exceeds the limit. It is
	// detected from the header alone, before the body is read or allocated.
	ErrFrameTooLarge = errors.New("wire: frame too large")
)

// ReadFrame reads one frame: an 8-byte big-endian header [msglen][msgtype]
// and msglen bytes of body. max <= 0 means DefaultMaxFrame.
//
// Errors:
//   - io.EOF itself (not wrapped) if the reader ends cleanly before the
//     first header byte: the peer closed the connection between frames;
//   - an error wrapping io.ErrUnexpectedEOF if it ends inside a frame;
//   - an error wrapping ErrEmptyFrame if msglen is 0, or ErrFrameTooLarge
//     if msglen > max; the returned MsgType is the header's, for logging,
//     and the body has not been read, so the stream is no longer in sync;
//   - io.ErrNoProgress (wrapped) if the reader keeps returning no data and
//     no error.
//
// ReadFrame never allocates more than HeaderLen+max bytes and sets no
// deadlines: a caller reading from a net.Conn sets them itself.
func ReadFrame(r io.Reader, max int) (MsgType, []byte, error) {
	t, size, err := ReadHeader(r, max)
	if err != nil {
		return t, nil, err
	}
	body, err := ReadBody(r, t, size)
	return t, body, err
}

// ReadHeader reads one frame header and checks its msglen against max
// (<= 0 means DefaultMaxFrame), with ReadFrame's errors. It returns the
// body size, so that a caller can account for the body before
// allocating it, then read it with ReadBody.
func ReadHeader(r io.Reader, max int) (MsgType, int, error) {
	if max <= 0 {
		max = DefaultMaxFrame
	}
	var hdr [HeaderLen]byte
	if n, err := readFull(r, hdr[:]); err != nil {
		if n == 0 && err == io.EOF {
			return 0, 0, io.EOF
		}
		return 0, 0, fmt.Errorf("wire: reading frame header (%d of %d bytes): %w", n, HeaderLen, err)
	}
	size := binary.BigEndian.Uint32(hdr[0:4])
	t := MsgType(binary.BigEndian.Uint32(hdr[4:8]))
	if size == 0 {
		return t, 0, fmt.Errorf("%w (msgtype %v)", ErrEmptyFrame, t)
	}
	if uint64(size) > uint64(max) {
		return t, 0, fmt.Errorf("%w: msglen %d exceeds limit %d (msgtype %v)", ErrFrameTooLarge, size, max, t)
	}
	return t, int(size), nil
}

// ReadBody reads the size-byte body of a frame of type t whose header
// ReadHeader returned. A stream that ends early is io.ErrUnexpectedEOF.
func ReadBody(r io.Reader, t MsgType, size int) ([]byte, error) {
	body := make([]byte, size)
	if n, err := readFull(r, body); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF // the header promised a body
		}
		return nil, fmt.Errorf("wire: reading %v frame body (%d of %d bytes): %w", t, n, size, err)
	}
	return body, nil
}

// readFull is io.ReadFull with a bound on consecutive empty reads. Like
// io.ReadFull it returns io.EOF only if nothing was read, and
// io.ErrUnexpectedEOF if the stream ended part way.
func readFull(r io.Reader, buf []byte) (int, error) {
	n, zero := 0, 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if n == len(buf) {
			return n, nil
		}
		if err != nil {
			if err == io.EOF && n > 0 {
				err = io.ErrUnexpectedEOF
			}
			return n, err
		}
		if m == 0 {
			if zero++; zero >= maxZeroReads {
				return n, io.ErrNoProgress
			}
		} else {
			zero = 0
		}
	}
	return n, nil
}

// WriteFrame writes one frame with a single Write call: the legacy reader
// corrupts a header that arrives split across reads.
//
// The body must be 1 to DefaultMaxFrame bytes, the only sizes a legacy peer
// accepts; otherwise WriteFrame writes nothing and returns an error
// wrapping ErrEmptyFrame or ErrFrameTooLarge. A short write without an
// error is reported as io.ErrShortWrite.
func WriteFrame(w io.Writer, t MsgType, body []byte) error {
	if len(body) == 0 {
		return fmt.Errorf("%w: refusing to send an empty %v frame", ErrEmptyFrame, t)
	}
	if len(body) > DefaultMaxFrame {
		return fmt.Errorf("%w: refusing to send a %d-byte %v frame (limit %d)", ErrFrameTooLarge, len(body), t, DefaultMaxFrame)
	}
	buf := make([]byte, HeaderLen+len(body))
	binary.BigEndian.PutUint32(buf[0:4], uint32(len(body)))
	binary.BigEndian.PutUint32(buf[4:8], uint32(t))
	copy(buf[HeaderLen:], body)
	n, err := w.Write(buf)
	if err != nil {
		return fmt.Errorf("wire: writing %v frame: %w", t, err)
	}
	if n != len(buf) {
		return fmt.Errorf("wire: writing %v frame: %w", t, io.ErrShortWrite)
	}
	return nil
}
