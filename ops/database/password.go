package database

import (
	"crypto/rand"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"io"
	"regexp"
	"strings"
)

// PasswordLength and PasswordAlphabet are the legacy generated password:
// 20 characters from string.letters + string.digits.
const (
	PasswordLength   = 20
	PasswordAlphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
)

// RandomPassword returns PasswordLength characters drawn uniformly from
// PasswordAlphabet using r (nil means crypto/rand). Bytes at or above
// the largest multiple of the alphabet size are rejected, so every
// character is equally likely.
func RandomPassword(r io.Reader) (string, error) {
	if r == nil {
		r = rand.Reader
	}
	const n = len(PasswordAlphabet)
	const limit = 256 - 256%n // 248: accept 0..247, each residue 4 times
	out := make([]byte, 0, PasswordLength)
	var buf [2 * PasswordLength]byte
	for len(out) < PasswordLength {
		if _, err := io.ReadFull(r, buf[:]); err != nil {
			return "", fmt.Errorf("generating password: %w", err)
		}
		for _, b := range buf {
			if int(b) < limit && len(out) < PasswordLength {
				out = append(out, PasswordAlphabet[int(b)%n])
			}
		}
	}
	return string(out), nil
}

// nameRule is the legacy op-mysql check on the account name.
var nameRule = regexp.MustCompile(`^[a-zA-Z0-9-]+$`)

// ValidName reports whether name passes the legacy rule
// ^[a-zA-Z0-9-]+$ and fits in max bytes.
func ValidName(name string, max int) bool {
	return nameRule.MatchString(name) && len(name) <= max
}

// quoteIdent quotes a MariaDB identifier or account name part with
// backticks, doubling any backtick inside (the name rule already
// forbids them; this does not rely on it).
func quoteIdent(s string) string {
	return "`" + strings.ReplaceAll(s, "`", "``") + "`"
}

// nativeHash returns the mysql_native_password hash of pw:
// "*" + upper-case hex of SHA1(SHA1(pw)), 41 characters.
func nativeHash(pw string) string {
	h1 := sha1.Sum([]byte(pw))
	h2 := sha1.Sum(h1[:])
	return "*" + strings.ToUpper(hex.EncodeToString(h2[:]))
}

var nativeHashRule = regexp.MustCompile(`^\*[0-9A-F]{40}$`)
