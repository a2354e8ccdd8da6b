package wire

import (
	"bytes"
	"io"
	"testing"
)

// BenchmarkWriteFrame1KiB: one 1 KiB frame per op, into a discarding
// writer (the cost of framing, not of the socket).
func BenchmarkWriteFrame1KiB(b *testing.B) {
	body := make([]byte, 1024)
	b.SetBytes(int64(HeaderLen + len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if err := WriteFrame(io.Discard, MsgAuth, body); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReadFrame1KiB: one 1 KiB frame per op from memory.
func BenchmarkReadFrame1KiB(b *testing.B) {
	var frame bytes.Buffer
	if err := WriteFrame(&frame, MsgAuth, make([]byte, 1024)); err != nil {
		b.Fatal(err)
	}
	raw := frame.Bytes()
	r := bytes.NewReader(raw)
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		r.Reset(raw)
		if _, _, err := ReadFrame(r, 0); err != nil {
			b.Fatal(err)
		}
	}
}
