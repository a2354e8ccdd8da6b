package gss

import (
	"crypto/hmac"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"

	"github.com/jcmturner/gokrb5/v8/crypto/etype"
	"github.com/jcmturner/gokrb5/v8/iana/etypeID"
)

// usageKeys are the keys RFC 3961 derives from a context key for one key
// usage: Ke encrypts, Ki keys the HMAC of an encrypted message and Kc
// keys a checksum. gokrb5's EncryptMessage, DecryptMessage and
// GetChecksumHash derive them again on every call, which costs more than
// protecting a kilobyte; a Context derives them once per direction.
type usageKeys struct {
	ke, ki, kc []byte
}

// lazyKeys derives the usageKeys of one usage on first use. Its zero
// value is ready; it is safe for concurrent use.
type lazyKeys struct {
	once sync.Once
	keys usageKeys
	err  error
}

// get returns the keys of usage derived from key with et, deriving them
// on the first call. Every call for one lazyKeys must pass the same key,
// et and usage.
func (l *lazyKeys) get(et etype.EType, key []byte, usage uint32) (*usageKeys, error) {
	l.once.Do(func() {
		l.keys, l.err = deriveUsageKeys(et, key, usage)
	})
	if l.err != nil {
		return nil, l.err
	}
	return &l.keys, nil
}

// deriveUsageKeys derives Ke, Ki and Kc (RFC 3961 section 5.3, RFC 8009
// section 5) exactly as gokrb5's per-call functions do.
func deriveUsageKeys(et etype.EType, key []byte, usage uint32) (usageKeys, error) {
	return deriveKinds(et, key, usage, true)
}

// deriveEncKeys derives Ke and Ki, what encryptWith and decryptWith
// need, leaving Kc nil.
func deriveEncKeys(et etype.EType, key []byte, usage uint32) (usageKeys, error) {
	return deriveKinds(et, key, usage, false)
}

func deriveKinds(et etype.EType, key []byte, usage uint32, withKc bool) (usageKeys, error) {
	d, err := newDeriver(et, key)
	if err != nil {
		return usageKeys{}, err
	}
	var k usageKeys
	if k.ke, err = d.derive(usageConstant(usage, kindKe)); err != nil {
		return usageKeys{}, fmt.Errorf("gss: deriving the encryption key for usage %d: %w", usage, err)
	}
	if k.ki, err = d.derive(usageConstant(usage, kindKi)); err != nil {
		return usageKeys{}, fmt.Errorf("gss: deriving the integrity key for usage %d: %w", usage, err)
	}
	if !withKc {
		return k, nil
	}
	if k.kc, err = d.derive(usageConstant(usage, kindKc)); err != nil {
		return usageKeys{}, fmt.Errorf("gss: deriving the checksum key for usage %d: %w", usage, err)
	}
	return k, nil
}

// macOverCiphertext reports whether et is an RFC 8009 enctype, whose
// integrity HMAC covers the zero IV and the ciphertext, rather than an
// RFC 3962 one, whose HMAC covers the confounder and plaintext.
func macOverCiphertext(et etype.EType) bool {
	id := et.GetETypeID()
	return id == etypeID.AES128_CTS_HMAC_SHA256_128 || id == etypeID.AES256_CTS_HMAC_SHA384_192
}

// mac returns HMAC(key, parts...) truncated to et's checksum length.
func mac(et etype.EType, key []byte, parts ...[]byte) []byte {
	m := hmac.New(et.GetHashFunc(), key)
	for _, p := range parts {
		m.Write(p)
	}
	return m.Sum(nil)[:et.GetHMACBitLength()/8]
}

// encryptWith is gokrb5's EncryptMessage with the derived keys given,
// for the message made of parts concatenated: E(Ke, confounder || msg)
// followed by the integrity HMAC with Ki. The confounder comes from
// crypto/rand, as in gokrb5.
func encryptWith(et etype.EType, k *usageKeys, parts ...[]byte) ([]byte, error) {
	n := et.GetConfounderByteSize()
	for _, p := range parts {
		n += len(p)
	}
	pt := make([]byte, et.GetConfounderByteSize(), n)
	if _, err := rand.Read(pt); err != nil {
		return nil, fmt.Errorf("gss: generating a confounder: %w", err)
	}
	for _, p := range parts {
		pt = append(pt, p...)
	}
	_, ct, err := et.EncryptData(k.ke, pt)
	if err != nil {
		return nil, fmt.Errorf("gss: encrypting: %w", err)
	}
	var sum []byte
	if macOverCiphertext(et) {
		sum = mac(et, k.ki, make([]byte, et.GetConfounderByteSize()), ct)
	} else {
		sum = mac(et, k.ki, pt)
	}
	return append(ct, sum...), nil
}

// errDecrypt is what decryptWith returns for any bad ciphertext; callers
// turn it into ErrIntegrity.
var errDecrypt = errors.New("gss: decryption or integrity check failed")

// decryptWith is gokrb5's DecryptMessage with the derived keys given: it
// checks the HMAC and returns msg without the confounder.
func decryptWith(et etype.EType, k *usageKeys, ct []byte) ([]byte, error) {
	n := et.GetHMACBitLength() / 8
	if len(ct) < et.GetConfounderByteSize()+n {
		return nil, errDecrypt
	}
	body, sum := ct[:len(ct)-n], ct[len(ct)-n:]
	if macOverCiphertext(et) {
		// Encrypt-then-MAC: check before decrypting.
		if !hmac.Equal(mac(et, k.ki, make([]byte, et.GetConfounderByteSize()), body), sum) {
			return nil, errDecrypt
		}
	}
	pt, err := et.DecryptData(k.ke, body)
	if err != nil {
		return nil, errDecrypt
	}
	if !macOverCiphertext(et) && !hmac.Equal(mac(et, k.ki, pt), sum) {
		return nil, errDecrypt
	}
	return pt[et.GetConfounderByteSize():], nil
}
