package session

import (
	"bytes"
	"errors"
	"net"
	"testing"

	"github.com/csclub/ceo/wire"
)

// lendingSealer is fakeSealer sealing into a caller's buffer and
// lending frame buffers of lendSize bytes, as *gss.Context does.
type lendingSealer struct {
	fakeSealer
	lent     [][]byte // every buffer lent
	out      int      // lent and not given back
	failWrap bool
}

const lendSize = readAhead

var errWrap = errors.New("fake: wrap failed")

func (l *lendingSealer) WrapSize(n int) int { return 2 + n }
func (l *lendingSealer) WrapAppend(dst, msg []byte) ([]byte, error) {
	dst = append(append(dst, "S:"...), msg...)
	if l.failWrap {
		return nil, errWrap // after writing msg in the clear, as a failed sealer might
	}
	return dst, nil
}
func (l *lendingSealer) Buffer(n int) []byte {
	if n > lendSize {
		return nil
	}
	b := make([]byte, lendSize)
	l.lent = append(l.lent, b)
	l.out++
	return b
}
func (l *lendingSealer) PutBuffer(b []byte) {
	if b != nil {
		l.out--
	}
}

// TestLentBuffers: with a Sealer that lends buffers, Send and ReadFrame
// give back every buffer they borrow, what ReadFrame returns is not in
// one (its next borrower may be another connection), a message too
// large for one is framed in its own, and a failed seal leaves no
// plaintext in the buffer it gives back.
func TestLentBuffers(t *testing.T) {
	sc, cc := net.Pipe()
	defer sc.Close()
	defer cc.Close()
	sl, cl := &lendingSealer{fakeSealer: fakeSealer{"alice@R"}}, &lendingSealer{fakeSealer: fakeSealer{"ceod/h@R"}}
	srv, cli := &Session{rw: sc, sec: sl}, &Session{rw: cc, sec: cl}
	for _, msg := range []string{"ping", string(bytes.Repeat([]byte("x"), 2*lendSize))} {
		errc := make(chan error, 1)
		go func() { errc <- cli.Send(wire.MsgMail, []byte(msg)) }()
		typ, body, err := srv.ReadFrame()
		if err != nil {
			t.Fatal(err)
		}
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
		for _, b := range sl.lent {
			clear(b) // the next borrower writes over them
		}
		got, err := srv.Open(typ, body)
		if err != nil || string(got) != msg {
			t.Fatalf("%d-byte message: got %q, %v", len(msg), got, err)
		}
		if sl.out != 0 || cl.out != 0 {
			t.Fatalf("%d-byte message: buffers not given back: server %d, client %d", len(msg), sl.out, cl.out)
		}
	}
	// The long message is sent from a buffer of its own, and read
	// starting in a lent one.
	if len(sl.lent) != 2 || len(cl.lent) != 1 {
		t.Fatalf("lent %d (server) and %d (client) buffers, want 2 and 1", len(sl.lent), len(cl.lent))
	}

	cl.failWrap = true
	if err := cli.Send(wire.MsgMail, []byte("secret")); !errors.Is(err, ErrSeal) || !errors.Is(err, errWrap) {
		t.Fatalf("failed seal: %v, want ErrSeal wrapping the sealer's error", err)
	}
	if bytes.Contains(cl.lent[len(cl.lent)-1], []byte("secret")) {
		t.Error("failed seal: the buffer given back holds the message in the clear")
	}
	if cl.out != 0 {
		t.Errorf("failed seal: %d buffers not given back", cl.out)
	}
}
