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
	var hdr [HeaderLen]byte
	if n, err := readFull(r, hdr[:]); err != nil {
		if n == 0 && err == io.EOF {
			return 0, 0, io.EOF
		}
		return 0, 0, fmt.Errorf("wire: reading frame header (%d of %d bytes): %w", n, HeaderLen, err)
	}
	return ParseHeader(hdr, max)
}

// ParseHeader decodes a frame header read by other means than
// ReadHeader, with its checks: the msgtype, and the body size, which
// is 1 to max (<= 0 means DefaultMaxFrame).
func ParseHeader(hdr [HeaderLen]byte, max int) (MsgType, int, error) {
	if max <= 0 {
		max = DefaultMaxFrame
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

// ReadFrameFrom completes a frame of which the first n bytes are
// already in buf, read by the caller in one go with whatever followed:
// it reads what is missing of the header and the body from r, into buf
// if the frame fits (the body is then part of buf), else into a new
// body. rest is the part of buf[:n] after the frame, the start of the
// next one. Errors are ReadFrame's, io.EOF itself only if n is 0 and r
// ends before the first byte.
func ReadFrameFrom(r io.Reader, buf []byte, n, max int) (t MsgType, body, rest []byte, err error) {
	if n < HeaderLen {
		if len(buf) < HeaderLen {
			buf = append(buf[:n], make([]byte, HeaderLen-n)...)
		}
		m, err := readFull(r, buf[n:HeaderLen])
		if err != nil {
			if n+m == 0 && err == io.EOF {
				return 0, nil, nil, io.EOF
			}
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return 0, nil, nil, fmt.Errorf("wire: reading frame header (%d of %d bytes): %w", n+m, HeaderLen, err)
		}
		n = HeaderLen
	}
	t, size, err := ParseHeader([HeaderLen]byte(buf[:HeaderLen]), max)
	if err != nil {
		return t, nil, nil, err
	}
	end := HeaderLen + size
	if end <= n {
		return t, buf[HeaderLen:end:end], buf[end:n], nil
	}
	got := n - HeaderLen
	if end <= len(buf) {
		body = buf[HeaderLen:end:end]
	} else {
		body = make([]byte, size)
		copy(body, buf[HeaderLen:n])
	}
	if m, err := readFull(r, body[got:]); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF // the header promised a body
		}
		return t, nil, nil, fmt.Errorf("wire: reading %v frame body (%d of %d bytes): %w", t, got+m, size, err)
	}
	return t, body, nil, nil
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
	if err := checkBody(t, len(body)); err != nil {
		return err
	}
	buf := make([]byte, HeaderLen+len(body))
	copy(buf[HeaderLen:], body)
	return WriteFramed(w, t, buf)
}

// WriteFramed is WriteFrame for a body already in place: frame is
// HeaderLen bytes of room for the header, then the body. It fills in
// the header and writes frame, copying nothing.
func WriteFramed(w io.Writer, t MsgType, frame []byte) error {
	if len(frame) < HeaderLen {
		return fmt.Errorf("wire: %d-byte %v frame has no room for its header", len(frame), t)
	}
	if err := checkBody(t, len(frame)-HeaderLen); err != nil {
		return err
	}
	binary.BigEndian.PutUint32(frame[0:4], uint32(len(frame)-HeaderLen))
	binary.BigEndian.PutUint32(frame[4:8], uint32(t))
	n, err := w.Write(frame)
	if err != nil {
		return fmt.Errorf("wire: writing %v frame: %w", t, err)
	}
	if n != len(frame) {
		return fmt.Errorf("wire: writing %v frame: %w", t, io.ErrShortWrite)
	}
	return nil
}

// checkBody refuses the body sizes a legacy peer does not accept.
func checkBody(t MsgType, n int) error {
	if n == 0 {
		return fmt.Errorf("%w: refusing to send an empty %v frame", ErrEmptyFrame, t)
	}
	if n > DefaultMaxFrame {
		return fmt.Errorf("%w: refusing to send a %d-byte %v frame (limit %d)", ErrFrameTooLarge, n, t, DefaultMaxFrame)
	}
	return nil
}
