package gss

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"testing"

	"github.com/jcmturner/gokrb5/v8/crypto/common"
	"github.com/jcmturner/gokrb5/v8/crypto/rfc3961"
)

// TestNfoldVectors: RFC 3961 appendix A.1.
func TestNfoldVectors(t *testing.T) {
	for _, v := range []struct {
		in   string
		bits int
		want string
	}{
		{"012345", 64, "be072631276b1955"},
		{"password", 56, "78a07b6caf85fa"},
		{"Rough Consensus, and Running Code", 64, "bb6ed30870b7f0e0"},
		{"password", 168, "59e4a8ca7c0385c3c37b3f6d2000247cb6e6bd5b3e"},
		{"MASSACHVSETTS INSTITVTE OF TECHNOLOGY", 192, "db3b0d8f0b061e603282b308a50841229ad798fab9540c1b"},
		{"Q", 168, "518a54a215a8452a518a54a215a8452a518a54a215"},
		{"ba", 168, "fb25d531ae8974499f52fd92ea9857c4ba24cf297e"},
		{"kerberos", 64, "6b65726265726f73"},
		{"kerberos", 128, "6b65726265726f737b9b5b2b93132b93"},
		{"kerberos", 168, "8372c236344e5f1550cd0747e15d62ca7a5a3bcea4"},
		{"kerberos", 256, "6b65726265726f737b9b5b2b93132b935c9bdcdad95c9899c4cae4dee6d6cae4"},
	} {
		if got := hex.EncodeToString(nfold([]byte(v.in), v.bits/8)); got != v.want {
			t.Errorf("%d-fold(%q) = %s, want %s", v.bits, v.in, got, v.want)
		}
	}
}

// TestNfoldMatchesGokrb5 on random inputs of the lengths key
// derivation uses and others.
func TestNfoldMatchesGokrb5(t *testing.T) {
	for inLen := 1; inLen <= 40; inLen++ {
		in := make([]byte, inLen)
		rand.Read(in)
		for _, outLen := range []int{7, 8, 16, 21, 24, 32} {
			if got, want := nfold(in, outLen), rfc3961.Nfold(in, outLen*8); !bytes.Equal(got, want) {
				t.Fatalf("nfold(% x, %d) = % x, gokrb5 % x", in, outLen, got, want)
			}
		}
	}
}

// BenchmarkDeriveUsageKeys: a context's key setup for one direction
// (Ke, Ki, Kc; aes256-sha1), with this package's n-fold and with
// gokrb5's DeriveKey, side by side.
func BenchmarkDeriveUsageKeys(b *testing.B) {
	key, err := newKey(rand.Reader, 18)
	if err != nil {
		b.Fatal(err)
	}
	et, err := checkKey(key)
	if err != nil {
		b.Fatal(err)
	}
	usage := sealUsage(true)
	b.Run("ours", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := deriveUsageKeys(et, key.KeyValue, usage); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("gokrb5", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			for _, c := range [][]byte{common.GetUsageKe(usage), common.GetUsageKi(usage), common.GetUsageKc(usage)} {
				if _, err := et.DeriveKey(key.KeyValue, c); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}
