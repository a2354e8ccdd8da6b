package gss

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
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
	// block, if not nil, is the AES cipher of ke, made once: a
	// context makes it with its keys (half a kilobyte per direction;
	// making it per message was half of ceod's garbage) unless it is
	// lean, as do keys used many times (a service key's).
	block cipher.Block
}

// cipherOf returns the AES cipher of k.ke.
func (k *usageKeys) cipherOf() (cipher.Block, error) {
	if k.block != nil {
		return k.block, nil
	}
	return aes.NewCipher(k.ke)
}

// lazyKeys derives the usageKeys of one usage on first use. Its zero
// value is ready; it is safe for concurrent use.
type lazyKeys struct {
	once sync.Once
	keys usageKeys
	err  error
	lean bool // keep no AES cipher: see Context.Lean
}

// get returns the keys of usage derived from key with et, deriving them
// on the first call. Every call for one lazyKeys must pass the same key,
// et and usage.
func (l *lazyKeys) get(et etype.EType, key []byte, usage uint32) (*usageKeys, error) {
	l.once.Do(func() {
		var k usageKeys
		if k, l.err = deriveUsageKeys(et, key, usage); l.err == nil {
			l.keep(k)
		}
	})
	if l.err != nil {
		return nil, l.err
	}
	return &l.keys, nil
}

// set gives l its keys, if it has none yet: for keys derived together
// with others from one deriver.
func (l *lazyKeys) set(k usageKeys) {
	l.once.Do(func() { l.keep(k) })
}

// keep stores k with its AES cipher made, unless l is lean.
func (l *lazyKeys) keep(k usageKeys) {
	if l.lean {
		k.block = nil
	} else if k.block == nil {
		k.block, l.err = aes.NewCipher(k.ke)
	}
	l.keys = k
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
	return d.usageKeys(usage, withKc)
}

// usageKeys derives Ke, Ki and, if withKc, Kc for usage.
func (d deriver) usageKeys(usage uint32, withKc bool) (usageKeys, error) {
	var k usageKeys
	var err error
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

// mac returns HMAC(key, parts...) truncated to et's checksum length,
// with scratch from mp (nil: fresh).
func mac(et etype.EType, mp *macPools, key []byte, parts ...[]byte) []byte {
	var sum [maxHMACLen]byte
	mp.sum(et.GetETypeID(), &sum, key, 0, parts...)
	return append([]byte(nil), sum[:et.GetHMACBitLength()/8]...)
}

// encryptWith is gokrb5's EncryptMessage with the derived keys given,
// for the message made of parts concatenated: E(Ke, confounder || msg)
// followed by the integrity HMAC with Ki, with scratch from mp (nil:
// fresh). The confounder comes from crypto/rand, as in gokrb5.
func encryptWith(et etype.EType, k *usageKeys, mp *macPools, parts ...[]byte) ([]byte, error) {
	return sealAppend(nil, et, k, mp, parts...)
}

// sealAppend appends encryptWith's output to dst, encrypting in place
// in dst's spare capacity, with HMAC scratch from mp (nil: fresh): one
// allocation at most, none if dst has room and mp a state to lend.
func sealAppend(dst []byte, et etype.EType, k *usageKeys, mp *macPools, parts ...[]byte) ([]byte, error) {
	conf, hl := et.GetConfounderByteSize(), et.GetHMACBitLength()/8
	n := conf
	for _, p := range parts {
		n += len(p)
	}
	start := len(dst)
	dst = slices.Grow(dst, n+hl)
	pt := dst[start : start+conf]
	if _, err := rand.Read(pt); err != nil {
		return nil, fmt.Errorf("gss: generating a confounder: %w", err)
	}
	for _, p := range parts {
		pt = append(pt, p...)
	}
	block, err := k.cipherOf()
	if err != nil {
		return nil, fmt.Errorf("gss: encrypting: %w", err)
	}
	var sum [maxHMACLen]byte
	id := et.GetETypeID()
	if macOverCiphertext(et) {
		ctsEncrypt(block, pt)
		mp.sum(id, &sum, k.ki, conf, pt) // zero IV || ciphertext
	} else {
		mp.sum(id, &sum, k.ki, 0, pt)
		ctsEncrypt(block, pt)
	}
	return append(dst[:start+n], sum[:hl]...), nil
}

// errDecrypt is what decryptWith returns for any bad ciphertext; callers
// turn it into ErrIntegrity.
var errDecrypt = errors.New("gss: decryption or integrity check failed")

// decryptWith is gokrb5's DecryptMessage with the derived keys given: it
// checks the HMAC (scratch from mp, nil: fresh) and returns msg without
// the confounder, in a new slice.
func decryptWith(et etype.EType, k *usageKeys, mp *macPools, ct []byte) ([]byte, error) {
	return openInPlace(et, k, mp, bytes.Clone(ct))
}

// openInPlace is decryptWith decrypting ct in place, with HMAC scratch
// from mp (nil: fresh); the message it returns is a part of ct.
func openInPlace(et etype.EType, k *usageKeys, mp *macPools, ct []byte) ([]byte, error) {
	conf, n := et.GetConfounderByteSize(), et.GetHMACBitLength()/8
	if len(ct) < conf+n || conf < aes.BlockSize {
		return nil, errDecrypt
	}
	body, got := ct[:len(ct)-n], ct[len(ct)-n:]
	block, err := k.cipherOf()
	if err != nil {
		return nil, errDecrypt
	}
	var sum [maxHMACLen]byte
	id := et.GetETypeID()
	if macOverCiphertext(et) {
		// Encrypt-then-MAC: check before decrypting.
		mp.sum(id, &sum, k.ki, conf, body) // zero IV || ciphertext
		if !hmac.Equal(sum[:n], got) {
			return nil, errDecrypt
		}
		ctsDecrypt(block, body)
	} else {
		ctsDecrypt(block, body)
		mp.sum(id, &sum, k.ki, 0, body)
		if !hmac.Equal(sum[:n], got) {
			return nil, errDecrypt
		}
	}
	return body[conf:], nil
}
