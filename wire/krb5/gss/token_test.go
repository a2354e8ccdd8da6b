package gss

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/jcmturner/gokrb5/v8/iana/chksumtype"
	"github.com/jcmturner/gokrb5/v8/types"
)

func TestContextTokenFraming(t *testing.T) {
	for _, n := range []int{0, 1, 100, 116, 117, 200, 244, 245, 300, 65000, 70000} {
		inner := bytes.Repeat([]byte{0x42}, n)
		tok := encodeContextToken(tokAPRep, inner)
		id, got, err := decodeContextToken(tok)
		if err != nil || id != tokAPRep || !bytes.Equal(got, inner) {
			t.Fatalf("n=%d: id %04x err %v", n, id, err)
		}
		if _, _, err := decodeContextToken(tok[:len(tok)-1]); !errors.Is(err, ErrDefectiveToken) {
			t.Fatalf("n=%d truncated: err = %v", n, err)
		}
	}
	// The legacy capture's AP-REP header: 60 81 99 06 09 ... 02 00 6f.
	tok := encodeContextToken(tokAPRep, append([]byte{0x6f}, make([]byte, 0x99-13-1)...))
	if !bytes.HasPrefix(tok, []byte{0x60, 0x81, 0x99, 0x06, 0x09}) || !bytes.Equal(tok[14:17], []byte{0x02, 0x00, 0x6f}) {
		t.Fatalf("AP-REP framing % x", tok[:17])
	}
}

func TestDecodeContextTokenRejects(t *testing.T) {
	good := encodeContextToken(tokAPReq, []byte{1, 2, 3})
	tests := map[string][]byte{
		"nil":               nil,
		"one byte":          {0x60},
		"wrong tag":         append([]byte{0x30}, good[1:]...),
		"indefinite length": {0x60, 0x80, 0x06},
		"5-byte length":     {0x60, 0x85, 0, 0, 0, 0, 1},
		"huge length":       {0x60, 0x84, 0x7f, 0xff, 0xff, 0xff},
		"length too long":   append([]byte{0x60, byte(len(good) - 1)}, good[2:]...),
		"length too short":  append([]byte{0x60, byte(len(good) - 3)}, good[2:]...),
		"long form short":   {0x60, 0x82, 0x00},
		"other OID":         {0x60, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x82, 0xf7, 0x12, 0x01, 0x02, 0x02, 0x01, 0x00},
		"no TOK_ID":         {0x60, 0x0c, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02, 0x01},
		"SPNEGO OID":        {0x60, 0x0a, 0x06, 0x06, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x02, 0xa0, 0x00},
	}
	for name, tok := range tests {
		if _, _, err := decodeContextToken(tok); !errors.Is(err, ErrDefectiveToken) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
}

func TestGSSChecksum(t *testing.T) {
	c := gssChecksum(initiatorFlags)
	if len(c.Checksum) != 24 || c.CksumType != chksumtype.GSSAPI {
		t.Fatalf("checksum %+v", c)
	}
	// Lgth 16 little-endian, 16 zero bytes of Bnd, flags 0x3e.
	want := append([]byte{16, 0, 0, 0}, make([]byte, 16)...)
	want = append(want, 0x3e, 0, 0, 0)
	if !bytes.Equal(c.Checksum, want) {
		t.Fatalf("checksum % x, want % x", c.Checksum, want)
	}
	if f, err := parseGSSChecksum(c); err != nil || f != initiatorFlags {
		t.Fatalf("parse: %#x %v", f, err)
	}
	// Delegation adds DlgOpt/Dlgth/KRB-CRED after the flags; ignored.
	long := types.Checksum{CksumType: chksumtype.GSSAPI, Checksum: append(bytes.Clone(c.Checksum), 1, 0, 4, 0, 1, 2, 3, 4)}
	if f, err := parseGSSChecksum(long); err != nil || f != initiatorFlags {
		t.Fatalf("parse with delegation: %#x %v", f, err)
	}
	bad := []types.Checksum{
		{CksumType: 16, Checksum: c.Checksum},
		{CksumType: chksumtype.GSSAPI, Checksum: c.Checksum[:23]},
		{CksumType: chksumtype.GSSAPI, Checksum: append([]byte{17}, c.Checksum[1:]...)},
	}
	for i, b := range bad {
		if _, err := parseGSSChecksum(b); err == nil {
			t.Errorf("bad checksum %d accepted", i)
		}
	}
}

func TestSeqFromASN1(t *testing.T) {
	tests := []struct {
		in   int64
		want uint64
		ok   bool
	}{
		{0, 0, true}, {1, 1, true}, {0x3fffffff, 0x3fffffff, true}, {0xffffffff, 0xffffffff, true},
		{-1, 0xffffffff, true}, {-0x80000000, 0x80000000, true},
		{0x100000000, 0, false}, {-0x80000001, 0, false},
	}
	for _, tc := range tests {
		got, err := seqFromASN1(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("seqFromASN1(%d) = %d, %v", tc.in, got, err)
		}
	}
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) { clear(p); return len(p), nil }

func TestRandomSeqAndKeys(t *testing.T) {
	if s, err := randomSeq(zeroReader{}); err != nil || s != 1 {
		t.Fatalf("randomSeq(zeros) = %d, %v; want 1 (never 0)", s, err)
	}
	if s, err := randomSeq(bytes.NewReader([]byte{0xff, 0xff, 0xff, 0xff})); err != nil || s != 0x3fffffff {
		t.Fatalf("randomSeq(ones) = %#x, %v", s, err)
	}
	if _, err := randomSeq(bytes.NewReader(nil)); err == nil {
		t.Fatal("randomSeq with a failing reader: no error")
	}
	for id, e := range enctypes {
		k, err := newKey(zeroReader{}, id)
		if err != nil || len(k.KeyValue) != e.keyLen {
			t.Fatalf("newKey(%d): %d bytes, %v", id, len(k.KeyValue), err)
		}
	}
	for _, id := range []int32{1, 3, 16, 23, 25, 26} {
		if _, err := newKey(zeroReader{}, id); err == nil {
			t.Errorf("newKey(%d) accepted an unsupported enctype", id)
		}
	}
	if _, err := checkKey(types.EncryptionKey{KeyType: 20, KeyValue: make([]byte, 24)}); err == nil {
		t.Error("24-byte aes256-sha384 key accepted")
	}
}

func TestConfigDefaults(t *testing.T) {
	var c Config
	if c.maxSkew() != 5*time.Minute || c.rand() == nil || time.Since(c.now()) > time.Minute {
		t.Fatal("zero Config defaults wrong")
	}
	c = Config{MaxSkew: -1}
	if c.maxSkew() != DefaultMaxSkew {
		t.Fatal("negative MaxSkew not defaulted")
	}
	fixed := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	c = Config{Rand: zeroReader{}, Now: func() time.Time { return fixed }, MaxSkew: time.Second}
	if c.maxSkew() != time.Second || !c.now().Equal(fixed) {
		t.Fatal("Config fields ignored")
	}
}

// TestDeterministicRand checks Config.Rand really feeds the subkey and
// sequence number: a reader of zeros gives seq 1 and a zero subkey.
func TestDeterministicRand(t *testing.T) {
	cfg := testConfig()
	cfg.Rand = zeroReader{}
	i, tok := newTestInitiator(t, ticketSpec{}, cfg, initOptions{})
	if i.seq != 1 || !bytes.Equal(i.subkey.KeyValue, make([]byte, 32)) {
		t.Fatalf("seq %d subkey % x", i.seq, i.subkey.KeyValue[:4])
	}
	acc := testAcceptor(t)
	acc.Config.Rand = zeroReader{}
	ctx, _, err := acc.Accept(tok)
	if err != nil {
		t.Fatal(err)
	}
	if ctx.sendSeq != 1 || !bytes.Equal(ctx.key.KeyValue, make([]byte, 32)) {
		t.Fatalf("acceptor seq %d", ctx.sendSeq)
	}
}
