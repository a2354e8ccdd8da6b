package wire

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// FuzzReadFrame checks that ReadFrame never panics, never returns a body
// larger than the limit or a body together with an error, and that every
// frame it accepts re-encodes to the bytes it consumed.
func FuzzReadFrame(f *testing.F) {
	f.Add(frameBytes(1, MsgMail, []byte{1}), 0)
	f.Add(frameBytes(3, MsgAuth, []byte("abc")), 16)
	f.Add(frameBytes(0, MsgAuth, nil), 0)
	f.Add(frameBytes(DefaultMaxFrame+1, MsgAuth, nil), 0)
	f.Add(frameBytes(5, MsgAuth, []byte("ab")), 0)
	f.Add([]byte{0, 0, 0}, 0)
	f.Add(append(frameBytes(2, MsgMail, []byte("hi")), frameBytes(1, MsgMySQL, []byte("!"))...), 2)
	f.Fuzz(func(t *testing.T, in []byte, max int) {
		r := bytes.NewReader(in)
		limit := max
		if limit <= 0 {
			limit = DefaultMaxFrame
		}
		for {
			before := r.Len()
			typ, body, err := ReadFrame(r, max)
			if err != nil {
				if body != nil {
					t.Fatalf("body returned with error %v", err)
				}
				if err == io.EOF && before != 0 {
					t.Fatalf("io.EOF with %d bytes unread", before)
				}
				if before == 0 && err != io.EOF {
					t.Fatalf("at end of input: err = %v, want io.EOF", err)
				}
				if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) &&
					!errors.Is(err, ErrEmptyFrame) && !errors.Is(err, ErrFrameTooLarge) {
					t.Fatalf("unexpected error kind: %v", err)
				}
				return
			}
			if len(body) == 0 || len(body) > limit {
				t.Fatalf("body of %d bytes accepted with limit %d", len(body), limit)
			}
			consumed := in[len(in)-before : len(in)-r.Len()]
			var w bytes.Buffer
			if err := WriteFrame(&w, typ, body); err != nil {
				if len(body) <= DefaultMaxFrame {
					t.Fatalf("re-encode: %v", err)
				}
				continue
			}
			if !bytes.Equal(w.Bytes(), consumed) {
				t.Fatalf("re-encoded % x, consumed % x", w.Bytes(), consumed)
			}
		}
	})
}
