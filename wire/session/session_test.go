package session

import (
	"bytes"
	"errors"
	"io"
	"net"
	"testing"

	"github.com/csclub/ceo/wire"
)

// fakeSealer "seals" a message by prefixing "S:"; "I:" marks an
// integrity-only token, which UnwrapSealed refuses.
type fakeSealer struct{ peer string }

var errNotSealed = errors.New("fake: not sealed")

func (f fakeSealer) Wrap(msg []byte) ([]byte, error) { return append([]byte("S:"), msg...), nil }
func (f fakeSealer) UnwrapSealed(tok []byte) ([]byte, error) {
	if m, ok := bytes.CutPrefix(tok, []byte("S:")); ok {
		return m, nil
	}
	return nil, errNotSealed
}
func (f fakeSealer) Peer() string { return f.peer }

func acceptFake(tok []byte) (Sealer, []byte, error) {
	if !bytes.Equal(tok, []byte("hello")) {
		return nil, nil, errors.New("fake: bad token")
	}
	return fakeSealer{"alice@R"}, []byte("welcome"), nil
}

func stepFake(reply []byte) (Sealer, error) {
	if !bytes.Equal(reply, []byte("welcome")) {
		return nil, errors.New("fake: bad reply")
	}
	return fakeSealer{"ceod/h@R"}, nil
}

// pair runs Accept on one end of a pipe and Initiate with tok on the
// other.
func pair(t *testing.T, tok string) (srv, cli *Session, srvErr, cliErr error, sc, cc net.Conn) {
	t.Helper()
	sc, cc = net.Pipe()
	t.Cleanup(func() { sc.Close(); cc.Close() })
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv, srvErr = Accept(sc, 0, acceptFake)
		if srvErr != nil {
			sc.Close()
		}
	}()
	cli, cliErr = Initiate(cc, []byte(tok), stepFake)
	<-done
	return srv, cli, srvErr, cliErr, sc, cc
}

func TestHandshakeAndCall(t *testing.T) {
	srv, cli, serr, cerr, _, _ := pair(t, "hello")
	if serr != nil || cerr != nil {
		t.Fatalf("handshake: server %v, client %v", serr, cerr)
	}
	if srv.Peer() != "alice@R" || cli.Peer() != "ceod/h@R" {
		t.Fatalf("peers %q %q", srv.Peer(), cli.Peer())
	}
	go func() {
		typ, body, err := srv.ReadFrame()
		if err != nil {
			t.Error(err)
			return
		}
		req, err := srv.Open(typ, body)
		if err != nil {
			t.Error(err)
			return
		}
		srv.Send(typ, append([]byte("re: "), req...))
	}()
	reply, err := cli.Call(wire.MsgMail, []byte("q"))
	if err != nil || string(reply) != "re: q" {
		t.Fatalf("Call = %q, %v", reply, err)
	}
}

func TestAcceptRefusals(t *testing.T) {
	_, _, serr, cerr, _, _ := pair(t, "forged")
	if !errors.Is(serr, ErrRejected) {
		t.Errorf("server error %v, want ErrRejected", serr)
	}
	if !errors.Is(cerr, io.EOF) {
		t.Errorf("client error %v, want EOF (closed without an answer)", cerr)
	}

	sc, cc := net.Pipe()
	defer cc.Close()
	go wire.WriteFrame(cc, wire.MsgMail, []byte("op first"))
	_, err := Accept(sc, 0, acceptFake)
	var uf *UnexpectedFrameError
	if !errors.As(err, &uf) || uf.Got != wire.MsgMail {
		t.Errorf("op before auth: %v, want UnexpectedFrameError for mail", err)
	}
	sc.Close()

	sc, cc = net.Pipe()
	cc.Close()
	if _, err := Accept(sc, 0, acceptFake); err != io.EOF {
		t.Errorf("closed before anything: %v, want io.EOF itself", err)
	}
}

// TestCallRefusesUnsealedReply: a reply that is not sealed, or in a frame
// of another msgtype, is an error.
func TestCallRefusesUnsealedReply(t *testing.T) {
	for _, tc := range []struct {
		name  string
		typ   wire.MsgType
		reply string
		check func(error) bool
	}{
		{"integrity-only", wire.MsgMail, "I:password", func(err error) bool { return errors.Is(err, ErrOpen) && errors.Is(err, errNotSealed) }},
		{"other msgtype", wire.MsgAddUser, "S:x", func(err error) bool { var uf *UnexpectedFrameError; return errors.As(err, &uf) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, cli, _, _, sc, _ := pair(t, "hello")
			go func() {
				wire.ReadFrame(sc, 0)
				wire.WriteFrame(sc, tc.typ, []byte(tc.reply))
			}()
			reply, err := cli.Call(wire.MsgMail, []byte("q"))
			if reply != nil || !tc.check(err) {
				t.Fatalf("Call = %q, %v", reply, err)
			}
		})
	}
}

func TestSendTooLarge(t *testing.T) {
	_, cli, _, _, _, _ := pair(t, "hello")
	err := cli.Send(wire.MsgMail, make([]byte, wire.DefaultMaxFrame))
	if !errors.Is(err, wire.ErrFrameTooLarge) {
		t.Fatalf("Send = %v, want ErrFrameTooLarge", err)
	}
}
