package interop

import (
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jcmturner/gokrb5/v8/keytab"
	krbmessages "github.com/jcmturner/gokrb5/v8/messages"

	"github.com/csclub/ceo/internal/realm"
	"github.com/csclub/ceo/wire"
	"github.com/csclub/ceo/wire/krb5/gss"
	"github.com/csclub/ceo/wire/krb5/rcache"
)

// TestMITEqualTimestamps: several MIT initiator processes of one
// principal, on a clock stopped at one microsecond, send genuine AP-REQs
// whose authenticators carry equal (ctime, cusec). One Acceptor accepts
// every one and serves a sealed op on each; an exact replay of any of
// them is refused.
func TestMITEqualTimestamps(t *testing.T) {
	const peers = 4
	r := realm.Get(t)
	mitPeer(t)
	kt, err := keytab.Load(r.CeodKeytab)
	if err != nil {
		t.Fatal(err)
	}
	acc := &gss.Acceptor{Keytab: kt, Principal: r.CeodPrincipal}
	user := r.Users["regular1"]
	cc := kinit(t, r, r.KRB5Config, user)
	// The service ticket in the ccache beforehand: a peer that asked the
	// KDC itself would take the time once more and bump its
	// authenticator's by a microsecond.
	kvno := exec.Command("kvno", r.CeodPrincipal)
	kvno.Env = append(r.KrbEnv(), "KRB5CCNAME=FILE:"+cc)
	if out, err := kvno.CombinedOutput(); err != nil {
		t.Fatalf("kvno: %v\n%s", err, out)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)

	now := time.Now()
	fixed := fmt.Sprintf("MITPEER_FIXED_TIME=%d.%06d", now.Unix(), now.Nanosecond()/1000)
	procs := make([]*peerProc, peers)
	for i := range procs {
		procs[i] = startPeer(t, r, []string{"KRB5CCNAME=FILE:" + cc, fixed}, "init", "127.0.0.1", port, fmt.Sprint("peer ", i))
	}

	var (
		mu   sync.Mutex
		toks [][]byte
		wg   sync.WaitGroup
	)
	ln.(*net.TCPListener).SetDeadline(time.Now().Add(30 * time.Second))
	for range peers {
		conn, err := ln.Accept()
		if err != nil {
			t.Fatalf("accept: %v", err)
		}
		wg.Go(func() {
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(30 * time.Second))
			_, tok, err := wire.ReadFrame(conn, 0)
			if err != nil {
				t.Errorf("reading the AP-REQ: %v", err)
				return
			}
			mu.Lock()
			toks = append(toks, tok)
			mu.Unlock()
			ctx, rep, err := acc.Accept(tok)
			if err != nil {
				t.Errorf("AP-REQ refused: %v", err)
				return
			}
			if err := wire.WriteFrame(conn, wire.MsgAuth, rep); err != nil {
				t.Error(err)
				return
			}
			typ, body, err := wire.ReadFrame(conn, 0)
			if err != nil {
				t.Error(err)
				return
			}
			req, err := ctx.UnwrapSealed(body)
			if err != nil {
				t.Error(err)
				return
			}
			out, err := ctx.Wrap(append([]byte("echo: "), req...))
			if err == nil {
				err = wire.WriteFrame(conn, typ, out)
			}
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	for i, p := range procs {
		if l := p.line(t); l != fmt.Sprint("reply: echo: peer ", i) {
			p.fatal(t, "peer %d printed %q", i, l)
		}
		p.wait(t)
	}
	if t.Failed() {
		t.FailNow()
	}

	// The setup did what it claims: the authenticators' times are equal.
	stamps := map[string]bool{}
	for _, tok := range toks {
		stamps[authenticatorTime(t, kt, tok)] = true
	}
	if len(stamps) != 1 {
		t.Fatalf("authenticator times %v: want one time shared by all %d", stamps, peers)
	}
	for i, tok := range toks {
		if _, _, err := acc.Accept(tok); !errors.Is(err, rcache.ErrReplay) {
			t.Errorf("replay of AP-REQ %d: %v, want rcache.ErrReplay", i, err)
		}
	}
}

// authenticatorTime decrypts the authenticator of an initial context
// token with the service keytab and returns its ctime and cusec.
func authenticatorTime(t *testing.T, kt *keytab.Keytab, tok []byte) string {
	t.Helper()
	// [APPLICATION 0] len, OID (11 bytes), TOK_ID (2 bytes), AP-REQ.
	n := 2
	if tok[1]&0x80 != 0 {
		n += int(tok[1] & 0x7f)
	}
	var req krbmessages.APReq
	if err := req.Unmarshal(tok[n+11+2:]); err != nil {
		t.Fatal(err)
	}
	if err := req.Ticket.DecryptEncPart(kt, nil); err != nil {
		t.Fatal(err)
	}
	if err := req.DecryptAuthenticator(req.Ticket.DecryptedEncPart.Key); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%s.%06d", req.Authenticator.CTime.UTC().Format(time.DateTime), req.Authenticator.Cusec)
}
