package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/csclub/ceo/wire/ceopb"
)

func TestRunUsageAndInputErrors(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "ops"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "ops", "ceo"), []byte("localhost ping root 0x10\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name  string
		args  []string
		stdin string
		code  int
		want  string
	}{
		{"no op", nil, "", 2, "usage: ceoc [flags] OP"},
		{"two ops", []string{"a", "b"}, "", 2, "usage: ceoc"},
		{"keytab without principal", []string{"-keytab", "/k", "ping"}, "", 2, "need -principal"},
		{"principal alone", []string{"-principal", "p", "ping"}, "", 2, "-principal needs -keytab or -password-file"},
		{"both credentials", []string{"-keytab", "/k", "-password-file", "/p", "-principal", "p", "ping"}, "", 2, "not both"},
		{"request too large", []string{"-config", dir, "ping"}, strings.Repeat("x", 65537), 1, "larger than 65536 bytes"},
		{"unknown op", []string{"-config", dir, "nosuch"}, "", 1, "ceoc: nosuch: unknown op (not in " + dir + "/ops)"},
		{"bench bad concurrency", []string{"bench", "-c", "0"}, "", 2, "bad concurrency"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), tt.args, strings.NewReader(tt.stdin), &stdout, &stderr)
			if code != tt.code {
				t.Errorf("exit %d, want %d; stderr %q", code, tt.code, stderr.String())
			}
			if !strings.Contains(stderr.String(), tt.want) {
				t.Errorf("stderr %q lacks %q", stderr.String(), tt.want)
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout %q", stdout.String())
			}
		})
	}
}

func TestOneLine(t *testing.T) {
	if got := oneLine("a\nb \t c\n"); got != "a b c" {
		t.Errorf("oneLine = %q", got)
	}
}

func TestDecodePing(t *testing.T) {
	b, err := proto.Marshal(&ceopb.PingResponse{Principal: proto.String("office1@CSCLUB.INTERNAL")})
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodePing(b)
	if err != nil || string(got) != "office1@CSCLUB.INTERNAL\n" {
		t.Errorf("decodePing = %q, %v", got, err)
	}
	if _, err := decodePing([]byte{0xff, 0xff}); err == nil {
		t.Error("decodePing accepted garbage")
	}
}

// FuzzDecodePing: the hand-written decoder accepts, rejects and decodes
// what proto.Unmarshal does.
func FuzzDecodePing(f *testing.F) {
	ok, _ := proto.Marshal(&ceopb.PingResponse{Principal: proto.String("office1@CSCLUB.INTERNAL")})
	for _, seed := range [][]byte{
		ok, nil, {0xff, 0xff}, {0x0a, 0x05, 'a'}, {0x08, 0x01}, {0x0a, 0x01, 'a', 0x0a, 0x01, 'b'},
		{0x0b, 0x10, 0x01, 0x0c, 0x0a, 0x01, 'a'}, {0x0b, 0x0a, 0x01, 'x', 0x14}, {0x0c}, {0x0e},
		{0x0d, 1, 2, 3, 4, 0x0a, 0}, {0x09, 1, 2, 3, 4, 5, 6, 7, 8, 0x0a, 0},
		append([]byte{0x8a, 0x80, 0x80, 0x80, 0x10, 0x01, 'z'}, ok...),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var pr ceopb.PingResponse
		perr := proto.Unmarshal(b, &pr)
		got, err := decodePing(b)
		if (perr == nil) != (err == nil) {
			t.Fatalf("%x: proto.Unmarshal %v, decodePing %v", b, perr, err)
		}
		if err == nil && string(got) != pr.GetPrincipal()+"\n" {
			t.Fatalf("%x: decodePing %q, proto %q", b, got, pr.GetPrincipal())
		}
	})
}
