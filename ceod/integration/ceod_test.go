package integration

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	krbclient "github.com/jcmturner/gokrb5/v8/client"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/csclub/ceo/ceoc"
	"github.com/csclub/ceo/ceoc/opsfile"
	"github.com/csclub/ceo/internal/realm"
	"github.com/csclub/ceo/wire"
	"github.com/csclub/ceo/wire/ceopb"
	"github.com/csclub/ceo/wire/krb5"
	"github.com/csclub/ceo/wire/krb5/gss"
)

func pingPrincipal(t testing.TB, reply []byte) string {
	t.Helper()
	var pr ceopb.PingResponse
	require.NoError(t, proto.Unmarshal(reply, &pr))
	return pr.GetPrincipal()
}

func TestPing(t *testing.T) {
	r := realm.Get(t)
	d := newEnv(t, r).start(t, nil)
	c := d.client(t, "regular1")

	reply, err := c.Call(t.Context(), "ping", nil)
	require.NoError(t, err)
	assert.Equal(t, "regular1@"+r.Name, pingPrincipal(t, reply))

	a := d.log.WaitFor(t, map[string]string{"msg": "audit", "event": "auth", "outcome": "ok"})
	assert.Equal(t, "regular1@"+r.Name, a["principal"])
	a = d.log.WaitFor(t, map[string]string{"msg": "audit", "event": "op", "op": "ping"})
	assert.Equal(t, "ok", a["outcome"])
	assert.Equal(t, "regular1@"+r.Name, a["principal"])
	assert.Contains(t, a["remote"], "127.0.0.1:")
	assert.IsType(t, float64(0), a["duration"])
	assert.NotContains(t, d.log.String(), r.Users["regular1"].Password, "a secret in the log")
}

func TestManyOpsOneConnection(t *testing.T) {
	r := realm.Get(t)
	d, conn := dialed(t, r, "office1")
	for i := range 100 {
		reply, err := conn.Call(t.Context(), "ping", []byte{byte(i)})
		require.NoError(t, err, "ping %d", i)
		require.Equal(t, "office1@"+r.Name, pingPrincipal(t, reply))
	}
	reply, err := conn.Call(t.Context(), "echo", []byte("same connection"))
	require.NoError(t, err)
	assert.Contains(t, string(reply), "stdin=same connection")
	assert.Len(t, d.log.Find(t, map[string]string{"msg": "audit", "event": "auth"}), 1, "one handshake")
}

func TestProgramOp(t *testing.T) {
	r := realm.Get(t)
	nobody, err := user.Lookup("nobody")
	require.NoError(t, err)
	d := newEnv(t, r).start(t, nil)
	c := d.client(t, "office1")

	reply, err := c.Call(t.Context(), "echo", []byte("the request"))
	require.NoError(t, err)
	assert.Equal(t, "LANG=C\nCEO_USER=office1\nCEO_CONFIG_DIR="+d.env.dir+"\n"+
		"id="+nobody.Uid+":"+nobody.Gid+"\nstdin=the request\n", string(reply))

	// Empty request: the program gets an empty stdin.
	reply, err = c.Call(t.Context(), "echo", nil)
	require.NoError(t, err)
	assert.Contains(t, string(reply), "\nstdin=\n")
}

func TestProgramFailureEndsConnection(t *testing.T) {
	r := realm.Get(t)
	d, conn := dialed(t, r, "regular1")
	_, err := conn.Call(t.Context(), "ping", nil)
	require.NoError(t, err)

	_, err = conn.Call(t.Context(), "fail", nil)
	require.ErrorIs(t, err, ceoc.ErrRefused)
	assert.Contains(t, err.Error(), "closed the connection without a reply")
	assert.Contains(t, err.Error(), "see ceod's log")
	_, err = conn.Call(t.Context(), "ping", nil)
	assert.Error(t, err, "a failed connection stays failed")

	a := d.log.WaitFor(t, map[string]string{"msg": "audit", "event": "op", "op": "fail"})
	assert.Equal(t, "error", a["outcome"])
	assert.Contains(t, a["err"], "exit status 3")
	assert.Contains(t, a["err"], "fail: not today")

	_, err = d.client(t, "regular1").Call(t.Context(), "ping", nil)
	require.NoError(t, err, "ceod still serves")
}

func TestClientErrors(t *testing.T) {
	r := realm.Get(t)
	d := newEnv(t, r).start(t, nil)
	good := d.client(t, "regular1")

	t.Run("unknown op", func(t *testing.T) {
		_, err := good.Call(t.Context(), "nosuch", nil)
		require.ErrorIs(t, err, ceoc.ErrUnknownOp)
		assert.Equal(t, "ceoc: nosuch: unknown op (not in "+d.env.dir+"/ops)", err.Error())
	})
	t.Run("no ticket", func(t *testing.T) {
		c := &ceoc.Client{ConfigDir: d.env.dir, Port: d.port, KRB5Config: r.KRB5Config,
			Credentials: ceoc.CCache("FILE:" + filepath.Join(t.TempDir(), "none"))}
		_, err := c.Call(t.Context(), "ping", nil)
		require.ErrorIs(t, err, ceoc.ErrNoTicket)
		assert.Contains(t, err.Error(), "run kinit")
	})
	t.Run("unreachable", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		c := clone(good)
		c.Port = port
		_, err = c.Call(t.Context(), "ping", nil)
		require.ErrorIs(t, err, ceoc.ErrUnreachable)
		assert.Contains(t, err.Error(), fmt.Sprintf("ceod at localhost:%d", port))
		assert.Contains(t, err.Error(), "connection refused")
	})
	t.Run("op unknown to ceod", func(t *testing.T) {
		c := clone(good)
		c.ConfigDir = opsOnly(t, "localhost ghost nobody 0x30\n")
		_, err := c.Call(t.Context(), "ghost", nil)
		require.ErrorIs(t, err, ceoc.ErrRefused)
		a := d.log.WaitFor(t, map[string]string{"msg": "audit", "event": "op", "op": "msgtype(0x30)"})
		assert.Equal(t, "denied", a["outcome"])
	})
	t.Run("wrong service key", func(t *testing.T) {
		// A ceod whose keytab holds another service's key cannot accept
		// tickets for ceod/localhost.
		e := newEnv(t, r)
		cf := filepath.Join(e.dir, "ceod.cf")
		b, err := os.ReadFile(cf)
		require.NoError(t, err)
		b = []byte(strings.NewReplacer(r.CeodKeytab, r.LDAPKeytab, "service_principal = "+r.CeodPrincipal, "service_principal = "+r.LDAPPrincipal).Replace(string(b)))
		require.NoError(t, os.WriteFile(cf, b, 0o644))
		wrong := e.start(t, nil)
		c := clone(good)
		c.Port = wrong.port
		_, err = c.Call(t.Context(), "ping", nil)
		require.ErrorIs(t, err, ceoc.ErrAuth)
		assert.Contains(t, err.Error(), "ceod closed the connection before authentication completed")
		assert.Contains(t, err.Error(), "likely causes, in order: ceod's connection limit")
		assert.Contains(t, err.Error(), "keytab lacking the current key of ceod/localhost")
		f := wrong.log.WaitFor(t, map[string]string{"msg": "unauthenticated connections ended"})
		assert.Equal(t, "auth_failed:1", f["reasons"])
	})
	// Legacy ops files use short host names; ceoc canonicalizes the host
	// word (gethostbyname(host)->h_name) before it connects and asks for
	// ceod/<canonical name>.
	t.Run("short host name", func(t *testing.T) {
		c := clone(good)
		c.ConfigDir = opsOnly(t, "lh ping root 0x10\nshorthost mail root 0x02\n")
		c.Canon = func(_ context.Context, h string) (string, error) {
			if h == "lh" {
				return "LocalHost.", nil
			}
			return "", fmt.Errorf("no such host %s", h)
		}
		reply, err := c.Call(t.Context(), "ping", nil)
		require.NoError(t, err, "ceod/localhost reached through the short name lh")
		assert.Equal(t, "regular1@"+r.Name, pingPrincipal(t, reply))

		// Without a canonical name the word is used as written: no host lh.
		c = clone(c)
		c.Canon = func(context.Context, string) (string, error) { return "", errors.New("unknown") }
		_, err = c.Call(t.Context(), "ping", nil)
		require.ErrorIs(t, err, ceoc.ErrUnreachable)
		assert.Contains(t, err.Error(), fmt.Sprintf("ceod at lh:%d", d.port))

		// Real resolution: the realm's DNS answers shorthost with a CNAME
		// to shorthost.csclub.internal, which ceoc then dials.
		c.Canon = func(ctx context.Context, h string) (string, error) { return opsfile.Canonical(ctx, r.Resolver(), h) }
		_, err = c.Call(t.Context(), "mail", nil)
		require.ErrorIs(t, err, ceoc.ErrUnreachable)
		assert.Contains(t, err.Error(), fmt.Sprintf("ceod at shorthost.csclub.internal:%d", d.port))
	})
	t.Run("keytab, instance principal", func(t *testing.T) {
		// ceod/admin has an instance: it is refused as a caller until a
		// rule maps it, and SIGHUP applies the rule.
		c := &ceoc.Client{ConfigDir: d.env.dir, Port: d.port, KRB5Config: r.KRB5Config,
			Credentials: ceoc.Keytab(r.AdminPrincipal, r.AdminKeytab)}
		_, err := c.Call(t.Context(), "ping", nil)
		require.ErrorIs(t, err, ceoc.ErrAuth)
		assert.Contains(t, err.Error(), "ceod closed the connection before authentication completed")
		a := d.log.WaitFor(t, map[string]string{"msg": "audit", "event": "auth", "principal": r.AdminPrincipal + "@" + r.Name})
		assert.Equal(t, "denied", a["outcome"])
		assert.Contains(t, a["err"], "ceod/admin has an instance and no rule maps it")

		appendConfig(t, d.env.dir, "caller_instances = ceod/admin=ceodadmin")
		d.reload <- struct{}{}
		ch := d.log.WaitFor(t, map[string]string{"msg": "reload: setting changed", "key": "caller_instances"})
		assert.Equal(t, "ceod/admin=ceodadmin", ch["new"])
		assert.Equal(t, true, ch["applied"])
		reply, err := c.Call(t.Context(), "ping", nil)
		require.NoError(t, err)
		assert.Equal(t, r.AdminPrincipal+"@"+r.Name, pingPrincipal(t, reply))
	})
	t.Run("password", func(t *testing.T) {
		c := &ceoc.Client{ConfigDir: d.env.dir, Port: d.port, KRB5Config: r.KRB5Config,
			Credentials: ceoc.Password("syscom1", r.Users["syscom1"].Password)}
		reply, err := c.Call(t.Context(), "ping", nil)
		require.NoError(t, err)
		assert.Equal(t, "syscom1@"+r.Name, pingPrincipal(t, reply))
	})
	t.Run("wrong password", func(t *testing.T) {
		c := &ceoc.Client{ConfigDir: d.env.dir, Port: d.port, KRB5Config: r.KRB5Config,
			Credentials: ceoc.Password("syscom1", "not-the-password")}
		_, err := c.Call(t.Context(), "ping", nil)
		require.ErrorIs(t, err, ceoc.ErrAuth)
	})
}

// opsOnly is a configuration directory holding only ops/ceo.
func opsOnly(t *testing.T, ops string) string {
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "ops"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "ops", "ceo"), []byte(ops), 0o644))
	return dir
}

// clone copies a client's settings into a new client.
func clone(c *ceoc.Client) *ceoc.Client {
	return &ceoc.Client{ConfigDir: c.ConfigDir, Credentials: c.Credentials, KRB5Config: c.KRB5Config,
		Port: c.Port, Timeout: c.Timeout, GSS: c.GSS, Canon: c.Canon}
}

// TestMITClient: a client on MIT's libgssapi_krb5 speaking the legacy
// protocol (mitpeer, the wire package's C test peer) against Go ceod.
func TestMITClient(t *testing.T) {
	r := realm.Get(t)
	bin := mitpeer(t)
	d := newEnv(t, r).start(t, nil)
	cc := r.Kinit(t, "regular1", r.Users["regular1"].Password)
	env := append(r.KrbEnv(), "KRB5CCNAME=FILE:"+cc)
	code, stdout, stderr := run(t, env, nil, bin, "init", "127.0.0.1", fmt.Sprint(d.port), "first message", "second")
	require.Equal(t, 0, code, "mitpeer failed:\n%s", stderr)
	assert.Contains(t, stdout, "reply: hello regular1: first message\n")
	assert.Contains(t, stdout, "reply: hello regular1: second\n")
	assert.Regexp(t, `enctype (17|18|19|20)\n`, stdout)
	// The audit record follows the reply: wait for both.
	assert.Eventually(t, func() bool {
		return len(d.log.Find(t, map[string]string{"msg": "audit", "event": "op", "op": "hello", "outcome": "ok"})) == 2
	}, 10*time.Second, 5*time.Millisecond, "two audited hello ops")
}

// rawClient is a protocol client on a raw connection, using the Go
// initiator, for sending bad input after real authentication.
type rawClient struct {
	t  *testing.T
	nc net.Conn
}

func dialRaw(t *testing.T, addr string) *rawClient {
	t.Helper()
	return dialRawFrom(t, "", addr)
}

// dialRawFrom dials addr from the loopback address from ("" for any).
func dialRawFrom(t *testing.T, from, addr string) *rawClient {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second}
	if from != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(from)}
	}
	nc, err := d.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { nc.Close() })
	return &rawClient{t: t, nc: nc}
}

// apReq returns a fresh initial context token for ceod/localhost.
func apReq(t *testing.T, cl *krbclient.Client) (*gss.Initiator, []byte) {
	t.Helper()
	init, tok, err := gss.NewInitiator(cl, "ceod/localhost", gss.Config{})
	require.NoError(t, err)
	return init, tok
}

func (c *rawClient) auth(cl *krbclient.Client) *gss.Context {
	c.t.Helper()
	init, tok := apReq(c.t, cl)
	require.NoError(c.t, wire.WriteFrame(c.nc, wire.MsgAuth, tok))
	typ, body, err := wire.ReadFrame(c.nc, 0)
	require.NoError(c.t, err)
	require.Equal(c.t, wire.MsgAuth, typ)
	sec, err := init.Step(body)
	require.NoError(c.t, err)
	return sec
}

func (c *rawClient) write(b []byte) {
	c.nc.Write(b)
}

// expectClosed checks that ceod closes the connection without a reply.
func (c *rawClient) expectClosed(within time.Duration) {
	c.t.Helper()
	c.nc.SetReadDeadline(time.Now().Add(within))
	b, err := io.ReadAll(c.nc)
	assert.Empty(c.t, b, "ceod replied before closing")
	if err != nil {
		var ne net.Error
		require.False(c.t, errors.As(err, &ne) && ne.Timeout(), "connection still open after %v", within)
	}
}

func header(n uint32, t wire.MsgType) []byte {
	var h [8]byte
	binary.BigEndian.PutUint32(h[0:], n)
	binary.BigEndian.PutUint32(h[4:], uint32(t))
	return h[:]
}

func krbClientFor(t *testing.T, r *realm.Realm, user string) *krbclient.Client {
	t.Helper()
	cfg, err := krb5.LoadConfigFile(r.KRB5Config)
	require.NoError(t, err)
	cl, err := krb5.ClientFromCCache(cfg, "FILE:"+r.Kinit(t, user, r.Users[user].Password))
	require.NoError(t, err)
	return cl
}

// TestBadInput sends bad input to a ceod with real authentication: each
// connection is cut off, audited (after authentication) or counted in
// the failure log of its address (before: "reason" is the failure
// reason), and a well-behaved client is served after each. Each case
// dials from its own loopback address, so that its failure line is its
// own.
func TestBadInput(t *testing.T) {
	r := realm.Get(t)
	d := newEnv(t, r, "handshake_timeout = 1s").start(t, nil)
	cl := krbClientFor(t, r, "regular1")
	good := d.client(t, "office1")

	tests := []struct {
		name  string
		do    func(c *rawClient)
		audit map[string]string
		err   string
	}{
		{"op before auth", func(c *rawClient) {
			c.write(append(header(4, idPing), "ping"...))
		}, map[string]string{"reason": "protocol_error"}, "op before authentication (ping)"},
		{"unknown op before auth", func(c *rawClient) {
			c.write(append(header(4, 0x77), "junk"...))
		}, map[string]string{"reason": "protocol_error"}, "unknown op msgtype(0x77) before authentication"},
		{"garbage", func(c *rawClient) {
			c.write([]byte("SSH-2.0-OpenSSH_9.2\r\n"))
		}, map[string]string{"reason": "protocol_error"}, "frame too large"},
		{"truncated frame", func(c *rawClient) {
			_, tok := apReq(c.t, cl)
			c.write(append(header(uint32(len(tok)), wire.MsgAuth), tok[:len(tok)/2]...))
			c.nc.(*net.TCPConn).CloseWrite()
		}, map[string]string{"reason": "protocol_error"}, "unexpected EOF"},
		{"65537-byte length", func(c *rawClient) {
			c.write(header(65537, wire.MsgAuth))
		}, map[string]string{"reason": "protocol_error"}, "exceeds limit 65536"},
		{"zero length", func(c *rawClient) {
			c.write(header(0, wire.MsgAuth))
		}, map[string]string{"reason": "protocol_error"}, "empty frame"},
		{"header then stall", func(c *rawClient) {
			c.write(header(700, wire.MsgAuth))
		}, map[string]string{"reason": "handshake_timeout"}, "i/o timeout"},
		{"replayed AP-REQ", func(c *rawClient) {
			_, tok := apReq(c.t, cl)
			first := dialRaw(c.t, d.addr)
			require.NoError(c.t, wire.WriteFrame(first.nc, wire.MsgAuth, tok))
			_, _, err := wire.ReadFrame(first.nc, 0)
			require.NoError(c.t, err, "first use of the token")
			c.write(append(header(uint32(len(tok)), wire.MsgAuth), tok...))
		}, map[string]string{"reason": "auth_failed"}, "replay"},
		{"unknown op after auth", func(c *rawClient) {
			sec := c.auth(cl)
			tok, err := sec.Wrap([]byte("x"))
			require.NoError(c.t, err)
			c.write(append(header(uint32(len(tok)), 0x77), tok...))
		}, map[string]string{"event": "op", "outcome": "denied", "op": "msgtype(0x77)"}, "unknown op"},
		{"unsealed request", func(c *rawClient) {
			c.auth(cl)
			c.write(append(header(5, idPing), "plain"...))
		}, map[string]string{"event": "op", "outcome": "invalid", "op": "ping"}, "ping request: session: peer's message could not be opened"},
		{"second MSG_AUTH", func(c *rawClient) {
			c.auth(cl)
			_, tok := apReq(c.t, cl)
			c.write(append(header(uint32(len(tok)), wire.MsgAuth), tok...))
		}, map[string]string{"event": "op", "outcome": "error"}, "MSG_AUTH after authentication"},
		{"replayed op token", func(c *rawClient) {
			sec := c.auth(cl)
			tok, err := sec.Wrap(nil)
			require.NoError(c.t, err)
			frame := append(header(uint32(len(tok)), idPing), tok...)
			c.write(frame)
			_, _, err = wire.ReadFrame(c.nc, 0)
			require.NoError(c.t, err)
			c.write(frame)
		}, map[string]string{"event": "op", "outcome": "invalid", "op": "ping"}, "out of sequence"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			from := fmt.Sprintf("127.0.5.%d", i+1)
			c := dialRawFrom(t, from, d.addr)
			tt.do(c)
			c.expectClosed(10 * time.Second)
			if reason, ok := tt.audit["reason"]; ok {
				f := d.log.WaitFor(t, map[string]string{"msg": "unauthenticated connections ended", "remote": from})
				assert.Equal(t, reason+":1", f["reasons"])
				assert.Contains(t, f["err"], tt.err)
			} else {
				want := map[string]string{"msg": "audit", "remote": c.nc.LocalAddr().String()}
				for k, v := range tt.audit {
					want[k] = v
				}
				a := d.log.WaitFor(t, want)
				assert.Contains(t, a["err"], tt.err)
			}

			reply, err := good.Call(t.Context(), "ping", nil)
			require.NoError(t, err, "well-behaved client after %s", tt.name)
			assert.Equal(t, "office1@"+r.Name, pingPrincipal(t, reply))
		})
	}
}

// TestUnauthenticatedFlood: 1,000 connections that never authenticate,
// from 127.0.0.1, half of them after sending a header, with a pre-auth
// pool of 256 per address. Newer ones displace older ones and the rest
// end at the handshake timeout; a well-behaved client on the same
// address is served throughout, and the flood writes at most a few
// failure lines.
func TestUnauthenticatedFlood(t *testing.T) {
	r := realm.Get(t)
	d := newEnv(t, r, "handshake_timeout = 2s", "max_startups_per_ip = 256").start(t, nil)
	good := d.client(t, "regular1")
	if _, err := good.Call(t.Context(), "ping", nil); err != nil {
		t.Fatal(err)
	}

	stop := make(chan struct{})
	var served, failed atomic.Int32
	var firstErr atomic.Value
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := good.Call(t.Context(), "ping", nil); err != nil {
				failed.Add(1)
				firstErr.CompareAndSwap(nil, err)
			} else {
				served.Add(1)
			}
		}
	})

	const flood = 1000
	dialer := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.1")}}
	conns := make([]net.Conn, 0, flood)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	start := time.Now()
	for i := range flood {
		c, err := dialer.Dial("tcp", d.addr)
		require.NoError(t, err, "dial %d", i)
		conns = append(conns, c)
		if i%2 == 1 {
			c.Write(header(700, wire.MsgAuth))
		}
	}
	var open atomic.Int32
	var rg sync.WaitGroup
	for _, c := range conns {
		rg.Go(func() {
			c.SetReadDeadline(time.Now().Add(15 * time.Second))
			_, err := c.Read(make([]byte, 1))
			var ne net.Error
			if err == nil || errors.As(err, &ne) && ne.Timeout() {
				open.Add(1)
			}
		})
	}
	rg.Wait()
	elapsed := time.Since(start)
	close(stop)
	wg.Wait()

	assert.Zero(t, open.Load(), "flood connections not cut off")
	// Displacement lets the client in unless its goroutine is starved
	// for as long as the flood takes to dial 256 connections.
	assert.LessOrEqual(t, failed.Load()*20, served.Load(), "over 5%% of the well-behaved client's calls failed: %v", firstErr.Load())
	assert.Positive(t, served.Load())
	lines := d.log.Find(t, map[string]string{"msg": "unauthenticated connections ended", "remote": "127.0.0.1"})
	require.NotEmpty(t, lines)
	assert.LessOrEqual(t, len(lines), 2, "the flood is logged per address per interval, not per connection")
	assert.Contains(t, fmt.Sprint(lines[0]["reasons"])+fmt.Sprint(lines[len(lines)-1]["reasons"]), "displaced:", "the pool never displaced")
	t.Logf("1,000 connections cut off in %v; well-behaved client served %d pings meanwhile", elapsed.Round(time.Millisecond), served.Load())
}
