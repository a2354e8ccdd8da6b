package server

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/csclub/ceo/ops"
	"github.com/csclub/ceo/wire"
)

// This example serves one op and shows the audit records a client's
// visit leaves: one for the authentication, one per op. (Time and
// duration are dropped to keep the output stable; the example uses the
// tests' fake security mechanism instead of a keytab.)
func ExampleServer_audit() {
	drop := func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey || a.Key == "duration" {
			return slog.Attr{}
		}
		return a
	}
	log := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{ReplaceAttr: drop}))
	s := &Server{
		// A real server sets Keytab and Principal instead.
		acceptor:  fakeAcceptor{},
		Principal: "ceod/example@CSCLUB",
		Ops: map[wire.MsgType]Op{
			0x10: {Name: "ping", Handler: ops.HandlerFunc(func(ctx context.Context, r ops.Request) (ops.Reply, error) {
				return ops.Reply{Body: []byte("pong for " + r.Caller.User)}, nil
			})},
		},
		Audit: log,
	}
	ln := newPipeListener()
	done := make(chan error)
	go func() { done <- s.Serve(ln) }()

	nc, _ := ln.dial()
	c := &client{nc: nc}
	c.send(wire.MsgAuth, []byte("AUTH:alice@CSCLUB"))
	c.recv()
	reply, _ := c.op(0x10, "")
	c.send(0x42, []byte("W:?")) // an unknown op ends the connection
	c.recv()

	// Shutdown returns once the connection is gone and audited.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s.Shutdown(ctx)
	<-done
	fmt.Println(reply)
	// Output:
	// level=INFO msg=audit event=auth outcome=ok remote=pipe principal=alice@CSCLUB
	// level=INFO msg=audit event=op outcome=ok remote=pipe principal=alice@CSCLUB op=ping
	// level=INFO msg=audit event=op outcome=denied remote=pipe principal=alice@CSCLUB op=msgtype(0x42) err="unknown op msgtype(0x42)"
	// pong for alice
}
