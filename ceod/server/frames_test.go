package server

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/csclub/ceo/wire"
)

// frame returns op frame bytes with body "W:"+req.
func frame(t wire.MsgType, req string) []byte {
	var b bytes.Buffer
	wire.WriteFrame(&b, t, []byte("W:"+req))
	return b.Bytes()
}

// TestOpFrameReads covers how the op loop reads frames over TCP: two
// requests in one segment (the second is kept for the next op), a body
// larger than the pooled buffer, and a frame trickling in a few bytes
// at a time.
func TestOpFrameReads(t *testing.T) {
	addr, _ := startTCP(t, &Server{})
	c := dialTCP(t, addr)
	c.auth("alice" + fakeRealm)
	want := func(req string) string { return "alice|alice" + fakeRealm + "|" + req }
	expect := func(req string) {
		t.Helper()
		typ, body, err := c.recv()
		require.NoError(t, err)
		assert.Equal(t, opEcho, typ)
		assert.Equal(t, "W:"+want(req), string(body))
	}

	require.NoError(t, c.sendRaw(append(frame(opEcho, "first"), frame(opEcho, "second")...)))
	expect("first")
	expect("second")

	// Three frames at once, the last cut inside its header.
	three := append(append(frame(opEcho, "a"), frame(opEcho, "b")...), frame(opEcho, "c")...)
	cut := len(three) - len(frame(opEcho, "c")) + 3
	require.NoError(t, c.sendRaw(three[:cut]))
	expect("a")
	expect("b")
	time.Sleep(20 * time.Millisecond)
	require.NoError(t, c.sendRaw(three[cut:]))
	expect("c")

	big := strings.Repeat("x", 3*opBufSize+5)
	got, err := c.op(opEcho, big)
	require.NoError(t, err)
	assert.Equal(t, want(big), got)

	slow := frame(opEcho, strings.Repeat("y", opBufSize-20))
	for i := 0; i < len(slow); i += 700 {
		require.NoError(t, c.sendRaw(slow[i:min(i+700, len(slow))]))
		time.Sleep(5 * time.Millisecond)
	}
	expect(strings.Repeat("y", opBufSize-20))
	for _, n := range []int{1, 7} { // header cut after n bytes
		f := frame(opEcho, "split")
		require.NoError(t, c.sendRaw(f[:n]))
		time.Sleep(5 * time.Millisecond)
		require.NoError(t, c.sendRaw(f[n:]))
		expect("split")
	}
}

// TestReleaseWipesBody: a frame's buffer goes back to the pool without
// the request it held (opened in place, it is plaintext).
func TestReleaseWipesBody(t *testing.T) {
	c := &conn{srv: &Server{}}
	buf := c.srv.bufs.get()
	secret := []byte("new password: hunter2")
	n := copy(buf[8:], secret)
	f := opFrame{t: 0x0a, buf: buf, body: buf[8 : 8+n]}
	c.release(&f)
	if f.buf != nil || f.body != nil {
		t.Error("release left the frame holding the buffer")
	}
	if bytes.Contains(buf[:], secret[:8]) || !bytes.Equal(buf[8:8+n], make([]byte, n)) {
		t.Errorf("the pooled buffer still holds the request: %q", buf[8:8+n])
	}
}
