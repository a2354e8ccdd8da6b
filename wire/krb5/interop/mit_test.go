package interop

import (
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jcmturner/gokrb5/v8/client"

	"github.com/csclub/ceo/internal/realm"
	"github.com/csclub/ceo/wire"
	"github.com/csclub/ceo/wire/krb5"
	"github.com/csclub/ceo/wire/krb5/gss"
)

// messages are what our Initiator sends, including an empty one and one
// with a NUL (mitpeer prints requests only up to the NUL).
var messages = []string{"hello from the initiator", "", "second\x00message with a NUL", strings.Repeat("long ", 2000)}

// peerMessages are what the MIT initiator sends; they travel in argv, so
// they are printable.
func peerMessages() []string {
	return []string{"hello from MIT", "x", "i:integrity only", strings.Repeat("long ", 2000), "last one"}
}

// TestMITInitiatorGoAcceptor: MIT's gss_init_sec_context against our
// Acceptor, then sealed requests and replies, for each enctype.
func TestMITInitiatorGoAcceptor(t *testing.T) {
	eachMITInitiator(t, nil, func(t *testing.T, r *realm.Realm, acc *gss.Acceptor, user realm.User, et int32, conf, cc string) {
		msgs := peerMessages()
		p, conn, ctx := acceptFromMIT(t, r, acc, []string{"KRB5_CONFIG=" + conf, "KRB5CCNAME=FILE:" + cc}, msgs...)
		if got, want := ctx.Peer(), user.Name+"@"+r.Name; got != want {
			t.Errorf("Peer() = %q, want %q", got, want)
		}
		if ctx.Enctype() != et {
			t.Errorf("Enctype() = %d, want %d", ctx.Enctype(), et)
		}
		var toks [][]byte
		for i := 0; ; i++ {
			typ, body, err := wire.ReadFrame(conn, 0)
			if errors.Is(err, io.EOF) {
				if i != len(msgs) {
					t.Fatalf("peer closed after %d of %d messages", i, len(msgs))
				}
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			req, err := ctx.Unwrap(body)
			if err != nil {
				t.Fatalf("Unwrap %d: %v", i, err)
			}
			if string(req) != msgs[i] {
				t.Fatalf("request %d = %q, want %q", i, req, msgs[i])
			}
			wantFlags, wantLen := byte(0x06), len(req)+60+hmacExtra(et)
			if strings.HasPrefix(msgs[i], "i:") {
				wantFlags, wantLen = 0x04, 16+len(req)+12+hmacExtra(et)
			}
			if body[2] != wantFlags || len(body) != wantLen {
				t.Errorf("MIT token flags %#x, %d bytes for %d", body[2], len(body), len(req))
			}
			toks = append(toks, body)
			out, err := ctx.Wrap([]byte("echo: " + string(req)))
			if err != nil {
				t.Fatal(err)
			}
			if err := wire.WriteFrame(conn, typ, out); err != nil {
				t.Fatal(err)
			}
		}
		rest := p.wait(t)
		want := make([]string, 0, len(msgs)+1)
		for _, m := range msgs {
			want = append(want, "reply: echo: "+m)
		}
		want = append(want, fmt.Sprintf("enctype %d", et))
		last := rest[len(rest)-1]
		rest[len(rest)-1], _, _ = strings.Cut(last, " key ")
		if strings.Join(rest, "\n") != strings.Join(want, "\n") {
			t.Fatalf("mitpeer printed:\n%s\nwant:\n%s", short(rest), short(want))
		}
		for i, tok := range toks {
			record(t, "initiator", et, last, tok, []byte(msgs[i]))
		}
	})
}

// eachMITInitiator runs body for each enctype with our acceptor, the
// user regular1 and a ccache kinit made (with kinitOpts) under a krb5.conf
// for that enctype, for an MIT initiator to use.
func eachMITInitiator(t *testing.T, kinitOpts []string, body func(t *testing.T, r *realm.Realm, acc *gss.Acceptor, user realm.User, et int32, conf, cc string)) {
	r := realm.Get(t)
	mitPeer(t)
	acc := ceodAcceptor(t, r)
	user := r.Users["regular1"]
	for _, et := range enctypes {
		t.Run(et.name, func(t *testing.T) {
			conf := enctypeConf(t, r, et.name)
			body(t, r, acc, user, et.id, conf, kinit(t, r, conf, user, kinitOpts...))
		})
	}
}

// hmacExtra is the token size beyond 16+16+len+16+12 for the SHA-2
// enctypes' longer HMACs.
func hmacExtra(et int32) int {
	switch et {
	case 19:
		return 4
	case 20:
		return 12
	}
	return 0
}

// TestGoInitiatorMITAcceptor: our Initiator (gokrb5 client, real KDC)
// against MIT's gss_accept_sec_context, for each enctype, with the client
// logged in from a keytab; and once from a kinit-made ccache.
func TestGoInitiatorMITAcceptor(t *testing.T) {
	r := realm.Get(t)
	mitPeer(t)
	for _, et := range enctypes {
		t.Run(et.name, func(t *testing.T) {
			cl := adminClient(t, r, et.name)
			goToMIT(t, r, cl, et.id, r.AdminPrincipal+"@"+r.Name)
		})
	}
	t.Run("ccache", func(t *testing.T) {
		user := r.Users["office1"]
		cl, err := krb5.ClientFromCCache(enctypeConfig(t, r, "aes256-cts-hmac-sha384-192"), "FILE:"+r.Kinit(t, user.Name, user.Password))
		if err != nil {
			t.Fatal(err)
		}
		goToMIT(t, r, cl, 20, user.Name+"@"+r.Name)
	})
}

func goToMIT(t *testing.T, r *realm.Realm, cl *client.Client, et int32, who string) {
	t.Helper()
	p, conn := dialMIT(t, r, []string{"KRB5_KTNAME=FILE:" + r.CeodKeytab})

	ini, tok, err := gss.NewInitiator(cl, r.CeodPrincipal, gss.Config{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, err := ini.Step(p.exchange(t, conn, wire.MsgAuth, tok, "AP-REP frame"))
	if err != nil {
		t.Fatalf("Step: %v", err)
	}
	if got, want := ctx.Peer(), r.CeodPrincipal+"@"+r.Name; got != want {
		t.Errorf("Peer() = %q, want %q", got, want)
	}
	if ctx.Enctype() != et {
		t.Errorf("Enctype() = %d, want %d", ctx.Enctype(), et)
	}
	if got := p.line(t); got != "peer "+who {
		t.Errorf("mitpeer saw %q, want peer %s", got, who)
	}
	var replies [][]byte
	for i, m := range messages {
		tok, err := ctx.Wrap([]byte(m))
		if err != nil {
			t.Fatal(err)
		}
		body := p.exchange(t, conn, wire.MsgMail, tok, fmt.Sprintf("reply %d", i))
		if body[2] != 0x07 {
			t.Errorf("MIT reply flags %#x, want 0x07", body[2])
		}
		got, err := ctx.Unwrap(body)
		if err != nil {
			t.Fatalf("Unwrap reply %d: %v", i, err)
		}
		replies = append(replies, body)
		if string(got) != "echo: "+m {
			t.Fatalf("reply %d = %q", i, short([]string{string(got)}))
		}
		if line, want := p.line(t), "request: "+strings.SplitN(m, "\x00", 2)[0]; line != want {
			t.Errorf("mitpeer printed %s, want %s", short([]string{line}), short([]string{want}))
		}
	}
	conn.Close()
	rest := p.wait(t)
	if len(rest) != 1 || !strings.HasPrefix(rest[0], fmt.Sprintf("enctype %d key ", et)) {
		t.Fatalf("mitpeer ended with %q, want enctype %d", rest, et)
	}
	for i, tok := range replies {
		record(t, "acceptor", et, rest[0], tok, []byte("echo: "+messages[i]))
	}
}

func short(lines []string) string {
	var b strings.Builder
	for _, l := range lines {
		if len(l) > 80 {
			l = l[:80] + "..."
		}
		fmt.Fprintf(&b, "  %q\n", l)
	}
	return b.String()
}

// acceptFromMIT runs mitpeer init (env added, msgs to send) against our
// acc and returns the peer, the connection and the accepted context.
func acceptFromMIT(t *testing.T, r *realm.Realm, acc *gss.Acceptor, env []string, msgs ...string) (*peerProc, net.Conn, *gss.Context) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	p := startPeer(t, r, env, append([]string{"init", "127.0.0.1", port}, msgs...)...)
	ln.(*net.TCPListener).SetDeadline(time.Now().Add(30 * time.Second))
	conn, err := ln.Accept()
	if err != nil {
		p.fatal(t, "accept: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	typ, tok, err := wire.ReadFrame(conn, 0)
	if err != nil || typ != wire.MsgAuth {
		p.fatal(t, "first frame: %v %v", typ, err)
	}
	ctx, rep, err := acc.Accept(tok)
	if err != nil {
		t.Fatalf("Accept: %v", err)
	}
	recordAPReq(t, acc.Keytab, tok)
	if err := wire.WriteFrame(conn, wire.MsgAuth, rep); err != nil {
		t.Fatal(err)
	}
	return p, conn, ctx
}

// exchange sends tok to the peer in a frame of type typ and returns the
// body of its reply, a frame of the same type; what names the reply in a
// failure.
func (p *peerProc) exchange(t *testing.T, conn net.Conn, typ wire.MsgType, tok []byte, what string) []byte {
	t.Helper()
	if err := wire.WriteFrame(conn, typ, tok); err != nil {
		t.Fatal(err)
	}
	got, body, err := wire.ReadFrame(conn, 0)
	if err != nil || got != typ {
		p.fatal(t, "%s: %v %v", what, got, err)
	}
	return body
}

// dialMIT runs mitpeer accept (env added) and connects to it.
func dialMIT(t *testing.T, r *realm.Realm, env []string) (*peerProc, net.Conn) {
	t.Helper()
	p := startPeer(t, r, env, "accept", "0")
	port, ok := strings.CutPrefix(p.line(t), "listening ")
	if !ok {
		t.Fatal("mitpeer did not report its port")
	}
	conn, err := net.DialTimeout("tcp", "127.0.0.1:"+port, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	return p, conn
}
