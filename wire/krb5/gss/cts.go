package gss

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/subtle"
)

// The per-message cryptography of the AES enctypes, in place and without
// garbage: gokrb5's aescts makes a dozen copies and cipher objects per
// message and crypto/hmac half a dozen allocations, which cost more than
// the encryption of a small op message itself. The HMAC is in mac.go.

// ctsEncrypt encrypts buf (at least one block) in place with AES-CBC and
// ciphertext stealing, IV zero: RFC 3962 section 5, which RFC 8009
// uses too. The last two blocks are swapped, the last one cut to the
// length of the last plaintext block, as in gokrb5's aescts. Everything
// happens in buf: a scratch block passed to the cipher.Block interface
// would escape to the heap.
func ctsEncrypt(b cipher.Block, buf []byte) {
	const bs = aes.BlockSize
	last := ctsLast(len(buf))
	if last < 0 {
		b.Encrypt(buf, buf)
		return
	}
	for i := 0; i <= last; i += bs {
		if i > 0 {
			subtle.XORBytes(buf[i:i+bs], buf[i:i+bs], buf[i-bs:i])
		}
		b.Encrypt(buf[i:i+bs], buf[i:i+bs])
	}
	// buf[last:last+bs] is E(n-1). Cn is its first tail bytes; C(n-1)
	// is the encryption of E(n-1) xor (Pn || zeros).
	en, pn := buf[last:last+bs], buf[last+bs:]
	for i := range pn {
		en[i], pn[i] = en[i]^pn[i], en[i]
	}
	b.Encrypt(en, en)
}

// ctsLast returns the offset of block n-1, the last whole one, in an
// n-byte message; -1 if n is one block, which is encrypted alone.
func ctsLast(n int) int {
	if n == aes.BlockSize {
		return -1
	}
	tail := n % aes.BlockSize
	if tail == 0 {
		tail = aes.BlockSize
	}
	return n - tail - aes.BlockSize
}

// ctsDecrypt undoes ctsEncrypt in place.
func ctsDecrypt(b cipher.Block, buf []byte) {
	last := ctsLast(len(buf))
	if last < 0 {
		b.Decrypt(buf, buf)
		return
	}
	const bs = aes.BlockSize
	en, cn := buf[last:last+bs], buf[last+bs:]
	b.Decrypt(en, en) // E(n-1) xor (Pn || zeros)
	for i := range cn {
		en[i], cn[i] = cn[i], en[i]^cn[i] // E(n-1) and Pn
	}
	// Backwards, so that each block's predecessor is still ciphertext.
	for i := last; i >= 0; i -= bs {
		b.Decrypt(buf[i:i+bs], buf[i:i+bs])
		if i > 0 {
			subtle.XORBytes(buf[i:i+bs], buf[i:i+bs], buf[i-bs:i])
		}
	}
}
