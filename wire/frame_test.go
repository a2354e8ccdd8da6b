package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func frameBytes(size uint32, t MsgType, body []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, size)
	b = binary.BigEndian.AppendUint32(b, uint32(t))
	return append(b, body...)
}

func TestReadFrame(t *testing.T) {
	full := bytes.Repeat([]byte{0xab}, DefaultMaxFrame)
	tests := []struct {
		name     string
		in       []byte
		max      int
		wantType MsgType
		wantBody []byte
		wantErr  error // matched with errors.Is; nil means success
	}{
		{"one byte", frameBytes(1, MsgMail, []byte{7}), 0, MsgMail, []byte{7}, nil},
		{"auth", frameBytes(3, MsgAuth, []byte("abc")), 0, MsgAuth, []byte("abc"), nil},
		{"65536 ok", frameBytes(DefaultMaxFrame, MsgAddUser, full), 0, MsgAddUser, full, nil},
		{"65537 too large", frameBytes(DefaultMaxFrame+1, MsgAddUser, nil), 0, MsgAddUser, nil, ErrFrameTooLarge},
		{"max 0xffffffff too large", frameBytes(0xffffffff, MsgAuth, nil), 0, MsgAuth, nil, ErrFrameTooLarge},
		{"custom max ok", frameBytes(4, MsgMySQL, []byte("abcd")), 4, MsgMySQL, []byte("abcd"), nil},
		{"custom max exceeded", frameBytes(5, MsgMySQL, []byte("abcde")), 4, MsgMySQL, nil, ErrFrameTooLarge},
		{"negative max is default", frameBytes(DefaultMaxFrame, MsgMail, full), -1, MsgMail, full, nil},
		{"empty", frameBytes(0, MsgMail, nil), 0, MsgMail, nil, ErrEmptyFrame},
		{"clean EOF", nil, 0, 0, nil, io.EOF},
		{"truncated header 1", []byte{0}, 0, 0, nil, io.ErrUnexpectedEOF},
		{"truncated header 4", []byte{0, 0, 0, 5}, 0, 0, nil, io.ErrUnexpectedEOF},
		{"truncated header 7", frameBytes(5, MsgMail, nil)[:7], 0, 0, nil, io.ErrUnexpectedEOF},
		{"no body", frameBytes(5, MsgMail, nil), 0, MsgMail, nil, io.ErrUnexpectedEOF},
		{"truncated body", frameBytes(5, MsgMail, []byte("abcd")), 0, MsgMail, nil, io.ErrUnexpectedEOF},
	}
	for _, tc := range tests {
		for _, mode := range []string{"plain", "onebyte", "dataerr"} {
			t.Run(tc.name+"/"+mode, func(t *testing.T) {
				var r io.Reader = bytes.NewReader(tc.in)
				switch mode {
				case "onebyte":
					r = iotest.OneByteReader(r)
				case "dataerr":
					r = iotest.DataErrReader(r)
				}
				typ, body, err := ReadFrame(r, tc.max)
				checkRead(t, typ, body, err, tc.wantType, tc.wantBody, tc.wantErr)
			})
		}
		// ReadFrameFrom after k bytes were read ahead into a buffer of
		// size n: the same outcomes.
		for _, k := range []int{0, 1, 8, 9, len(tc.in)} {
			for _, n := range []int{8, 64, len(tc.in) + 8} {
				if k > len(tc.in) || k > n {
					continue
				}
				buf := make([]byte, n)
				copy(buf, tc.in[:k])
				typ, body, rest, err := ReadFrameFrom(iotest.OneByteReader(bytes.NewReader(tc.in[k:])), buf, k, tc.max)
				checkRead(t, typ, body, err, tc.wantType, tc.wantBody, tc.wantErr)
				if len(rest) != 0 {
					t.Errorf("%s from %d of %d: %d bytes left over", tc.name, k, n, len(rest))
				}
			}
		}
	}
}

func checkRead(t *testing.T, typ MsgType, body []byte, err error, wantType MsgType, wantBody []byte, wantErr error) {
	t.Helper()
	if wantErr != nil {
		if !errors.Is(err, wantErr) {
			t.Fatalf("err = %v, want %v", err, wantErr)
		}
		if body != nil {
			t.Errorf("body = %d bytes on error, want nil", len(body))
		}
		if wantErr == io.EOF && err != io.EOF {
			t.Errorf("clean EOF must be io.EOF itself, got %#v", err)
		}
		if typ != wantType {
			t.Errorf("type = %v, want %v", typ, wantType)
		}
		return
	}
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
	if typ != wantType || !bytes.Equal(body, wantBody) {
		t.Fatalf("got (%v, %d bytes), want (%v, %d bytes)", typ, len(body), wantType, len(wantBody))
	}
}

// TestReadFrameFromRest: the bytes read ahead past a frame come back as
// rest, and appending to the body does not overwrite them.
func TestReadFrameFromRest(t *testing.T) {
	two := append(frameBytes(3, MsgMail, []byte("abc")), frameBytes(2, MsgAuth, []byte("xy"))...)
	buf := make([]byte, 64)
	n := copy(buf, two)
	typ, body, rest, err := ReadFrameFrom(bytes.NewReader(nil), buf, n, 0)
	if err != nil || typ != MsgMail || string(body) != "abc" {
		t.Fatalf("first frame: %v %q %v", typ, body, err)
	}
	_ = append(body, "zzzz"...)
	typ, body, rest, err = ReadFrameFrom(bytes.NewReader(nil), rest, len(rest), 0)
	if err != nil || typ != MsgAuth || string(body) != "xy" || len(rest) != 0 {
		t.Fatalf("second frame: %v %q %d %v", typ, body, len(rest), err)
	}
}

// TestReadFrameSequence reads several frames from one stream, then the
// clean EOF after them.
func TestReadFrameSequence(t *testing.T) {
	var buf bytes.Buffer
	for i, b := range [][]byte{[]byte("one"), []byte("two!"), {0}} {
		if err := WriteFrame(&buf, MsgType(i+1), b); err != nil {
			t.Fatal(err)
		}
	}
	r := iotest.HalfReader(&buf)
	for i, want := range []string{"one", "two!", "\x00"} {
		typ, body, err := ReadFrame(r, 0)
		if err != nil || typ != MsgType(i+1) || string(body) != want {
			t.Fatalf("frame %d: got (%v, %q, %v)", i, typ, body, err)
		}
	}
	if _, _, err := ReadFrame(r, 0); err != io.EOF {
		t.Fatalf("after last frame: err = %v, want io.EOF", err)
	}
}

// TestReadFrameTooLargeDoesNotAllocate checks the limit is enforced from the
// header alone: a 4 GiB claim must neither read nor allocate the body.
func TestReadFrameTooLargeDoesNotAllocate(t *testing.T) {
	hdr := frameBytes(0xfffffff0, MsgAuth, nil)
	allocs := testing.AllocsPerRun(100, func() {
		_, _, err := ReadFrame(bytes.NewReader(hdr), 0)
		if !errors.Is(err, ErrFrameTooLarge) {
			t.Fatalf("err = %v", err)
		}
	})
	// The error value itself allocates a little; a body would be 4 GiB.
	if allocs > 10 {
		t.Errorf("ReadFrame made %v allocations for a rejected header", allocs)
	}
}

type zeroReader struct{ calls int }

func (z *zeroReader) Read(p []byte) (int, error) { z.calls++; return 0, nil }

func TestReadFrameNoProgress(t *testing.T) {
	z := &zeroReader{}
	_, _, err := ReadFrame(z, 0)
	if !errors.Is(err, io.ErrNoProgress) {
		t.Fatalf("err = %v, want io.ErrNoProgress", err)
	}
	if z.calls > maxZeroReads {
		t.Errorf("%d reads, want at most %d", z.calls, maxZeroReads)
	}
}

func TestReadFrameReaderError(t *testing.T) {
	boom := errors.New("boom")
	r := io.MultiReader(bytes.NewReader(frameBytes(4, MsgMail, []byte("ab"))), iotest.ErrReader(boom))
	if _, _, err := ReadFrame(r, 0); !errors.Is(err, boom) {
		t.Fatalf("err = %v, want %v", err, boom)
	}
}

// countingWriter records each Write call separately.
type countingWriter struct{ writes [][]byte }

func (c *countingWriter) Write(p []byte) (int, error) {
	c.writes = append(c.writes, append([]byte(nil), p...))
	return len(p), nil
}

func TestWriteFrameSingleWrite(t *testing.T) {
	for _, size := range []int{1, 9, 727, DefaultMaxFrame} {
		body := bytes.Repeat([]byte{0x5a}, size)
		var w countingWriter
		if err := WriteFrame(&w, MsgMail, body); err != nil {
			t.Fatalf("size %d: %v", size, err)
		}
		if len(w.writes) != 1 {
			t.Fatalf("size %d: %d Write calls, want exactly 1", size, len(w.writes))
		}
		if want := frameBytes(uint32(size), MsgMail, body); !bytes.Equal(w.writes[0], want) {
			t.Fatalf("size %d: wrote % x..., want % x...", size, w.writes[0][:8], want[:8])
		}
	}
}

// TestWriteFrameLegacyBytes pins the header bytes seen on the wire between
// the legacy C programs.
func TestWriteFrameLegacyBytes(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteFrame(&buf, MsgAuth, make([]byte, 727)); err != nil {
		t.Fatal(err)
	}
	if got, want := buf.Bytes()[:8], []byte{0x00, 0x00, 0x02, 0xd7, 0x08, 0x00, 0x00, 0x00}; !bytes.Equal(got, want) {
		t.Fatalf("header % x, want % x", got, want)
	}
}

func TestWriteFrameRefuses(t *testing.T) {
	tests := []struct {
		name string
		body []byte
		want error
	}{
		{"nil", nil, ErrEmptyFrame},
		{"empty", []byte{}, ErrEmptyFrame},
		{"65537", make([]byte, DefaultMaxFrame+1), ErrFrameTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var w countingWriter
			err := WriteFrame(&w, MsgMail, tc.body)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if len(w.writes) != 0 {
				t.Fatalf("%d writes after refusing", len(w.writes))
			}
		})
	}
}

type shortWriter struct{}

func (shortWriter) Write(p []byte) (int, error) { return len(p) - 1, nil }

type failWriter struct{ err error }

func (f failWriter) Write(p []byte) (int, error) { return 0, f.err }

func TestWriteFrameErrors(t *testing.T) {
	if err := WriteFrame(shortWriter{}, MsgMail, []byte("x")); !errors.Is(err, io.ErrShortWrite) {
		t.Errorf("short write: err = %v", err)
	}
	boom := errors.New("boom")
	if err := WriteFrame(failWriter{boom}, MsgMail, []byte("x")); !errors.Is(err, boom) {
		t.Errorf("failing writer: err = %v", err)
	}
}

func TestMsgTypeString(t *testing.T) {
	var got []string
	for _, typ := range []MsgType{MsgAuth, MsgExplode, MsgAddUser, MsgMail, MsgMySQL, MsgMailman, 0x80000000, 5} {
		got = append(got, typ.String())
	}
	if want := "auth explode adduser mail mysql mailman msgtype(0x80000000) msgtype(0x5)"; strings.Join(got, " ") != want {
		t.Errorf("String() of the types: %q, want %q", strings.Join(got, " "), want)
	}
	if MsgAuth != 0x08000000 {
		t.Fatalf("MsgAuth = %#x", uint32(MsgAuth))
	}
}
