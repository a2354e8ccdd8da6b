package database

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"testing/iotest"
)

// The SCRAM-SHA-256 exchange of RFC 7677 section 3: keys derived from
// "pencil" must reproduce its client proof and server signature.
func TestScramKeysRFC7677(t *testing.T) {
	salt, _ := base64.StdEncoding.DecodeString("W22ZaJ0SNY7soEsUEjb6gQ==")
	stored, server, err := scramKeys("pencil", salt, 4096)
	if err != nil {
		t.Fatal(err)
	}
	const nonce = "rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
	authMessage := "n=user,r=rOprNGfwEbeRWgbNEkqO," +
		"r=" + nonce + ",s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096," +
		"c=biws,r=" + nonce

	m := hmac.New(sha256.New, server)
	m.Write([]byte(authMessage))
	if got := base64.StdEncoding.EncodeToString(m.Sum(nil)); got != "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=" {
		t.Errorf("server signature %s", got)
	}
	proof, _ := base64.StdEncoding.DecodeString("dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")
	m = hmac.New(sha256.New, stored)
	m.Write([]byte(authMessage))
	clientKey := m.Sum(nil)
	for i := range clientKey {
		clientKey[i] ^= proof[i]
	}
	if got := sha256.Sum256(clientKey); !bytes.Equal(got[:], stored) {
		t.Errorf("client proof does not match the stored key")
	}
}

func TestScramVerifierShape(t *testing.T) {
	salt := bytes.Repeat([]byte{7}, scramSaltLen)
	v, err := scramVerifier("pencil", bytes.NewReader(salt))
	if err != nil {
		t.Fatal(err)
	}
	if !verifierRule.MatchString(v) {
		t.Errorf("verifier %q does not match its rule", v)
	}
	parts := strings.Split(v, "$")
	if len(parts) != 3 || parts[0] != "SCRAM-SHA-256" || !strings.HasPrefix(parts[1], "4096:"+base64.StdEncoding.EncodeToString(salt)) {
		t.Errorf("verifier %q", v)
	}
	if strings.Contains(v, "pencil") {
		t.Error("verifier holds the password")
	}
	// Fresh salts: two verifiers of one password differ.
	a, _ := scramVerifier("x", nil)
	b, _ := scramVerifier("x", nil)
	if a == b {
		t.Error("same verifier twice")
	}
	boom := errors.New("no entropy")
	if _, err := scramVerifier("x", iotest.ErrReader(boom)); !errors.Is(err, boom) {
		t.Errorf("err %v", err)
	}
}

func TestVerifierRuleRejectsQuotes(t *testing.T) {
	for _, bad := range []string{
		"SCRAM-SHA-256$4096:abc=$def':ghi",
		"SCRAM-SHA-256$4096:abc$def:ghi\\",
		"x' OR '1'='1",
		"SCRAM-SHA-256$4096:abc$def:ghi\n",
		"",
	} {
		if verifierRule.MatchString(bad) {
			t.Errorf("rule accepts %q", bad)
		}
	}
}
