package database

import (
	"bytes"
	"errors"
	"io"
	"math"
	"strings"
	"testing"
	"testing/iotest"
)

func TestRandomPasswordShape(t *testing.T) {
	seen := map[string]bool{}
	for range 200 {
		pw, err := RandomPassword(nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(pw) != PasswordLength {
			t.Fatalf("%q has length %d", pw, len(pw))
		}
		for _, c := range pw {
			if !strings.ContainsRune(PasswordAlphabet, c) {
				t.Fatalf("%q has %q outside the alphabet", pw, c)
			}
		}
		if seen[pw] {
			t.Fatalf("repeated password %q", pw)
		}
		seen[pw] = true
	}
}

// Bytes 248..255 are rejected, not folded onto the first characters.
func TestRandomPasswordRejectsBias(t *testing.T) {
	// 248 maps nowhere; 0 -> 'a', 61 -> '9', 62 -> 'a', 247 -> '9'.
	src := bytes.Repeat([]byte{248, 255, 0, 61, 62, 247}, 20)
	pw, err := RandomPassword(bytes.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	if want := strings.Repeat("a9a9", 5); pw != want {
		t.Errorf("got %q, want %q", pw, want)
	}
}

// A chi-squared test over many characters: every character about equally
// likely. With 61 degrees of freedom the 99.99th percentile is ~113.
func TestRandomPasswordUniform(t *testing.T) {
	if testing.Short() {
		t.Skip("statistical test")
	}
	counts := map[rune]int{}
	const rounds = 5000
	for range rounds {
		pw, err := RandomPassword(nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range pw {
			counts[c]++
		}
	}
	n := float64(rounds * PasswordLength)
	exp := n / float64(len(PasswordAlphabet))
	chi := 0.0
	for _, c := range PasswordAlphabet {
		d := float64(counts[c]) - exp
		chi += d * d / exp
	}
	if chi > 113 || math.IsNaN(chi) {
		t.Errorf("chi-squared %.1f over 61 degrees of freedom: not uniform", chi)
	}
}

func TestRandomPasswordEntropyFailure(t *testing.T) {
	boom := errors.New("no entropy")
	if _, err := RandomPassword(iotest.ErrReader(boom)); !errors.Is(err, boom) {
		t.Errorf("err %v, want %v", err, boom)
	}
	// All bytes rejected, then EOF: an error, not a short password.
	if _, err := RandomPassword(bytes.NewReader(bytes.Repeat([]byte{255}, 100))); !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		t.Errorf("err %v, want EOF", err)
	}
}

func TestNativeHash(t *testing.T) {
	// MariaDB: SELECT PASSWORD('password').
	if got, want := nativeHash("password"), "*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19"; got != want {
		t.Errorf("nativeHash = %s, want %s", got, want)
	}
	if !nativeHashRule.MatchString(nativeHash("x")) {
		t.Error("hash does not match its own rule")
	}
}

func TestQuoteIdent(t *testing.T) {
	for in, want := range map[string]string{
		"alice":   "`alice`",
		"a-b":     "`a-b`",
		"a`b":     "`a``b`",
		"`":       "````",
		"x`; --":  "`x``; --`",
		"":        "``",
		"mixedUp": "`mixedUp`",
	} {
		if got := quoteIdent(in); got != want {
			t.Errorf("quoteIdent(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestValidName(t *testing.T) {
	for name, want := range map[string]bool{
		"alice":                 true,
		"Alice-2":               true,
		"a":                     true,
		strings.Repeat("a", 64): true,
		strings.Repeat("a", 65): false,
		"":                      false,
		"a_b":                   false,
		"a.b":                   false,
		"a b":                   false,
		"a;b":                   false,
		"a`b":                   false,
		"a'b":                   false,
		"a\nb":                  false,
		"alice\n":               false,
		"é":                     false,
		"%":                     false,
		"--":                    true,
	} {
		if got := ValidName(name, MariaDBMaxName); got != want {
			t.Errorf("ValidName(%q) = %v, want %v", name, got, want)
		}
	}
}
