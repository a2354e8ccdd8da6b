package integration

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/stretchr/testify/require"

	"github.com/csclub/ceo/ceoc"
	"github.com/csclub/ceo/internal/realm"
	"github.com/csclub/ceo/wire"
	"github.com/csclub/ceo/wire/krb5/gss"
)

// delegSeen is what the handshake listener saw of one connection.
type delegSeen struct {
	client string // delegated client principal, "" if none
	err    error
}

// handshakeListener accepts GSS handshakes as ceod/localhost and reports
// the delegated credential of each, then wipes it.
func handshakeListener(t *testing.T, r *realm.Realm) (port int, seen <-chan delegSeen) {
	t.Helper()
	kt, err := keytab.Load(r.CeodKeytab)
	require.NoError(t, err)
	acc := &gss.Acceptor{Keytab: kt, Principal: r.CeodPrincipal}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	ch := make(chan delegSeen, 4)
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			conn.SetDeadline(time.Now().Add(30 * time.Second))
			_, tok, err := wire.ReadFrame(conn, 0)
			var s delegSeen
			if err == nil {
				var ctx *gss.Context
				var rep []byte
				if ctx, rep, err = acc.Accept(tok); err == nil {
					err = wire.WriteFrame(conn, wire.MsgAuth, rep)
					if d := ctx.Delegated(); d != nil {
						s.client = d.Client()
					}
					ctx.ReleaseDelegated()
				}
			}
			s.err = err
			conn.Close()
			ch <- s
		}
	}()
	return ln.Addr().(*net.TCPAddr).Port, ch
}

// TestCeocDelegatesOnlyListedOps: ceoc forwards the caller's TGT for an
// op in ceod.cf's delegate_ops and for no other op; a non-forwardable TGT
// fails the delegating op with an error naming kinit -f.
func TestCeocDelegatesOnlyListedOps(t *testing.T) {
	r := realm.Get(t)
	port, seen := handshakeListener(t, r)
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "ops"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "ops", "ceo"), []byte("localhost renew root 0x30\nlocalhost ping root 0x10\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "ceod.cf"), []byte("port = "+strconv.Itoa(port)+"\ndelegate_ops = renew, group\n"), 0o644))
	user := r.Users["office1"]
	client := func(cc string) *ceoc.Client {
		return &ceoc.Client{ConfigDir: dir, KRB5Config: r.KRB5Config, Credentials: ceoc.CCache("FILE:" + cc),
			Canon: func(context.Context, string) (string, error) { return "localhost", nil }}
	}
	dial := func(c *ceoc.Client, op string) error {
		conn, err := c.Dial(context.Background(), op)
		if err == nil {
			conn.Close()
		}
		return err
	}

	c := client(r.Kinit(t, user.Name, user.Password)) // the realm's krb5.conf says forwardable
	require.NoError(t, dial(c, "renew"))
	s := <-seen
	require.NoError(t, s.err)
	require.Equal(t, user.Name+"@"+r.Name, s.client, "renew is in delegate_ops")
	require.NoError(t, dial(c, "ping"))
	s = <-seen
	require.NoError(t, s.err)
	require.Empty(t, s.client, "ping is not in delegate_ops: nothing forwarded")

	cc := r.KinitWith(t, user.Name, user.Password, "-F")
	err := dial(client(cc), "renew")
	require.ErrorIs(t, err, ceoc.ErrAuth)
	require.Contains(t, err.Error(), "kinit -f")
	require.NoError(t, dial(client(cc), "ping"), "a non-delegating op still works")
	s = <-seen
	require.Empty(t, s.client)
}
