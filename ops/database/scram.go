package database

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"regexp"
)

// SCRAM-SHA-256 parameters, PostgreSQL's defaults (scram_iterations,
// SCRAM_DEFAULT_SALT_LEN).
const (
	scramIterations = 4096
	scramSaltLen    = 16
)

// scramKeys derives StoredKey and ServerKey (RFC 5802 section 3) from a
// password, salt and iteration count. The password must already be in
// SASLprep form; the generated passwords (ASCII letters and digits) are.
func scramKeys(password string, salt []byte, iter int) (storedKey, serverKey []byte, err error) {
	salted, err := pbkdf2.Key(sha256.New, password, salt, iter, sha256.Size)
	if err != nil {
		return nil, nil, err
	}
	clientKey := hmacSHA256(salted, "Client Key")
	sk := sha256.Sum256(clientKey)
	return sk[:], hmacSHA256(salted, "Server Key"), nil
}

func hmacSHA256(key []byte, msg string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}

// scramVerifier returns the verifier PostgreSQL stores for password, in
// its text form SCRAM-SHA-256$<iter>:<salt>$<StoredKey>:<ServerKey>,
// with a fresh salt from r (nil means crypto/rand). Given such a string
// as a role's PASSWORD, the server stores it unchanged, so the password
// itself never travels to the server or its logs.
func scramVerifier(password string, r io.Reader) (string, error) {
	if r == nil {
		r = rand.Reader
	}
	salt := make([]byte, scramSaltLen)
	if _, err := io.ReadFull(r, salt); err != nil {
		return "", fmt.Errorf("generating salt: %w", err)
	}
	stored, server, err := scramKeys(password, salt, scramIterations)
	if err != nil {
		return "", err
	}
	b64 := base64.StdEncoding.EncodeToString
	return fmt.Sprintf("SCRAM-SHA-256$%d:%s$%s:%s", scramIterations, b64(salt), b64(stored), b64(server)), nil
}

// verifierRule is the only shape a verifier may have before it is put in
// a string literal: base64, digits and the separators, no quote or
// backslash.
var verifierRule = regexp.MustCompile(`^SCRAM-SHA-256\$[0-9]+:[A-Za-z0-9+/]+=*\$[A-Za-z0-9+/]+=*:[A-Za-z0-9+/]+=*$`)
