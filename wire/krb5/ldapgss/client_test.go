package ldapgss

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jcmturner/gokrb5/v8/iana/etypeID"
	"github.com/jcmturner/gokrb5/v8/iana/flags"
	"github.com/jcmturner/gokrb5/v8/iana/nametype"
	"github.com/jcmturner/gokrb5/v8/types"

	"github.com/csclub/ceo/wire/krb5"
	"github.com/csclub/ceo/wire/krb5/gss"
	"github.com/csclub/ceo/wire/krb5/internal/krbtest"
)

const (
	realm = "TEST.REALM"
	spn   = "ldap/localhost"
)

// setup returns a client whose ccache already holds a ticket for
// ldap/localhost (so no KDC is needed) and the LDAP server's acceptor.
func setup(t *testing.T) (*Client, *gss.Acceptor) {
	t.Helper()
	dir := t.TempDir()
	conf := filepath.Join(dir, "krb5.conf")
	if err := os.WriteFile(conf, []byte(krbtest.Conf), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := krb5.LoadConfigFile(conf)
	if err != nil {
		t.Fatal(err)
	}
	kt, err := krbtest.Keytab(realm, []string{"krbtgt/" + realm, spn}, etypeID.AES256_CTS_HMAC_SHA1_96)
	if err != nil {
		t.Fatal(err)
	}
	start, end := time.Now().Add(-time.Minute), time.Now().Add(time.Hour)
	var creds []krbtest.Cred
	for _, svc := range []string{"krbtgt/" + realm, spn} {
		tkt, key, err := krbtest.Ticket(kt, realm, svc, "ceod/admin", etypeID.AES256_CTS_HMAC_SHA1_96, start, end)
		if err != nil {
			t.Fatal(err)
		}
		nt := int32(nametype.KRB_NT_PRINCIPAL)
		if strings.HasPrefix(svc, "krbtgt/") {
			nt = nametype.KRB_NT_SRV_INST
		}
		creds = append(creds, krbtest.Cred{Server: types.NewPrincipalName(nt, svc), Ticket: tkt, Key: key, Start: start, End: end})
	}
	cc := filepath.Join(dir, "krb5cc")
	if err := krbtest.WriteCCache(cc, realm, "ceod/admin", creds...); err != nil {
		t.Fatal(err)
	}
	cl, err := krb5.ClientFromCCache(cfg, cc)
	if err != nil {
		t.Fatal(err)
	}
	return NewClient(cl), &gss.Acceptor{Keytab: kt, Principal: spn}
}

// server plays slapd's side of RFC 4752 with our acceptor.
type server struct {
	acc *gss.Acceptor
	ctx *gss.Context
}

func (s *server) accept(t *testing.T, tok []byte) []byte {
	t.Helper()
	ctx, rep, err := s.acc.Accept(tok)
	if err != nil {
		t.Fatalf("server Accept: %v", err)
	}
	s.ctx = ctx
	return rep
}

// offer is Cyrus SASL's security-layer offer, integrity-only wrapped with
// RRC 0 exactly as MIT does: all three layers, max buffer 0x0fffff.
func (s *server) offer(t *testing.T, layers byte) []byte {
	t.Helper()
	tok, err := s.ctx.WrapIntegrity([]byte{layers, 0x0f, 0xff, 0xff})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func handshake(t *testing.T, c *Client, s *server) {
	t.Helper()
	tok, more, err := c.InitSecContext(spn, nil)
	if err != nil || !more || len(tok) == 0 {
		t.Fatalf("first InitSecContext: %d bytes, %v, %v", len(tok), more, err)
	}
	rep := s.accept(t, tok)
	tok, more, err = c.InitSecContextWithOptions(spn, rep, []int{flags.APOptionMutualRequired})
	if err != nil || more || len(tok) != 0 {
		t.Fatalf("second InitSecContext: %d bytes, %v, %v", len(tok), more, err)
	}
}

func TestBindExchange(t *testing.T) {
	c, acc := setup(t)
	s := &server{acc: acc}
	handshake(t, c, s)
	if got := s.ctx.Peer(); got != "ceod/admin@TEST.REALM" {
		t.Errorf("server sees %q", got)
	}
	offer := s.offer(t, layerNone|layerIntegrity|layerConf)

	reply, err := c.NegotiateSaslAuth(offer, "dn:uid=someone")
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.ctx.Unwrap(reply)
	if err != nil {
		t.Fatalf("server Unwrap: %v", err)
	}
	if want := append([]byte{noLayerReply, 0, 0, 0}, "dn:uid=someone"...); !bytes.Equal(got, want) {
		t.Fatalf("reply % x, want % x", got, want)
	}
	if reply[2]&0x02 != 0 {
		t.Error("reply is sealed; RFC 4752 wants integrity only")
	}
	if err := c.DeleteSecContext(); err != nil || c.ctx != nil || c.ini != nil {
		t.Fatal("DeleteSecContext left state behind")
	}
}

func TestBindRejects(t *testing.T) {
	t.Run("layer required", func(t *testing.T) {
		c, acc := setup(t)
		s := &server{acc: acc}
		handshake(t, c, s)
		if _, err := c.NegotiateSaslAuth(s.offer(t, layerConf), ""); err == nil || !strings.Contains(err.Error(), "security layer") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("tampered offer", func(t *testing.T) {
		c, acc := setup(t)
		s := &server{acc: acc}
		handshake(t, c, s)
		offer := s.offer(t, layerNone)
		offer[16] ^= 0x01
		if _, err := c.NegotiateSaslAuth(offer, ""); !errors.Is(err, gss.ErrIntegrity) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("short offer", func(t *testing.T) {
		c, acc := setup(t)
		s := &server{acc: acc}
		handshake(t, c, s)
		tok, _ := s.ctx.WrapIntegrity([]byte{1})
		if _, err := c.NegotiateSaslAuth(tok, ""); err == nil {
			t.Fatal("1-byte offer accepted")
		}
	})
	t.Run("bad AP-REP", func(t *testing.T) {
		c, acc := setup(t)
		tok, _, err := c.InitSecContext(spn, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, rep, err := acc.Accept(tok)
		if err != nil {
			t.Fatal(err)
		}
		rep[len(rep)-3] ^= 0x01
		if _, _, err := c.InitSecContext(spn, rep); err == nil {
			t.Fatal("tampered AP-REP accepted")
		}
	})
	t.Run("out of order", func(t *testing.T) {
		c, _ := setup(t)
		if _, err := c.NegotiateSaslAuth([]byte{5, 4}, ""); err == nil {
			t.Fatal("NegotiateSaslAuth before a context")
		}
		if _, _, err := c.InitSecContext(spn, []byte{1}); err == nil {
			t.Fatal("server token before the context was started")
		}
		if _, _, err := c.InitSecContextWithOptions(spn, nil, []int{flags.APOptionUseSessionKey}); err == nil {
			t.Fatal("unsupported ap-option accepted")
		}
	})
	t.Run("no ticket", func(t *testing.T) {
		c, _ := setup(t)
		// Not in the ccache, and the KDC address is unusable.
		if _, _, err := c.InitSecContext("ldap/elsewhere", nil); err == nil {
			t.Fatal("ticket for an unknown service")
		}
	})
}
