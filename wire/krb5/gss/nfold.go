package gss

import (
	"crypto/aes"
	"crypto/cipher"
	"fmt"

	"github.com/jcmturner/gokrb5/v8/crypto/etype"
	"github.com/jcmturner/gokrb5/v8/iana/etypeID"
)

// nfold is RFC 3961 section 5.1's n-fold of in to outLen bytes, byte at
// a time as in MIT krb5's krb5int_nfold. gokrb5's Nfold works bit by bit
// with a slice per step and was most of the cost of deriving a
// context's keys.
func nfold(in []byte, outLen int) []byte {
	inLen := len(in)
	out := make([]byte, outLen)
	a, b := outLen, inLen
	for b != 0 {
		a, b = b, a%b
	}
	lcm := outLen * inLen / a
	inBits := inLen << 3
	carry := 0
	for i := lcm - 1; i >= 0; i-- {
		// The most significant bit of in that lands in this byte: each
		// repetition is rotated right by 13 bits more.
		msbit := ((inBits - 1) + (inBits+13)*(i/inLen) + ((inLen - i%inLen) << 3)) % inBits
		carry += ((int(in[(inLen-1-(msbit>>3))%inLen])<<8 | int(in[(inLen-(msbit>>3))%inLen])) >> ((msbit & 7) + 1)) & 0xff
		carry += int(out[i%outLen])
		out[i%outLen] = byte(carry)
		carry >>= 8
	}
	// Ones' complement addition: the end-around carry.
	for i := outLen - 1; carry != 0 && i >= 0; i-- {
		carry += int(out[i])
		out[i] = byte(carry)
		carry >>= 8
	}
	return out
}

// deriveKey is et.DeriveKey with a faster n-fold for the RFC 3962
// enctypes (DK(key, constant) = E(key, n-fold(constant)) chained to the
// key length; their random-to-key is the identity). Other enctypes go to
// gokrb5.
func deriveKey(et etype.EType, key, constant []byte) ([]byte, error) {
	d, err := newDeriver(et, key)
	if err != nil {
		return nil, err
	}
	return d.derive(constant)
}

// deriver derives keys from one base key: for the RFC 3962 enctypes
// with one AES key schedule for all of them (gokrb5 makes a cipher, a
// CBC mode and copies per block), else with gokrb5.
type deriver struct {
	et    etype.EType
	key   []byte
	block cipher.Block // nil: gokrb5 derives
}

func newDeriver(et etype.EType, key []byte) (deriver, error) {
	d := deriver{et: et, key: key}
	switch et.GetETypeID() {
	case etypeID.AES128_CTS_HMAC_SHA1_96, etypeID.AES256_CTS_HMAC_SHA1_96:
		b, err := aes.NewCipher(key)
		if err != nil {
			return deriver{}, fmt.Errorf("gss: deriving keys: %w", err)
		}
		d.block = b
	}
	return d, nil
}

// derive returns DK(key, constant).
func (d deriver) derive(constant []byte) ([]byte, error) {
	if d.block == nil {
		return d.et.DeriveKey(d.key, constant)
	}
	out := make([]byte, d.et.GetKeySeedBitLength()/8)
	if len(out)%aes.BlockSize != 0 {
		return nil, fmt.Errorf("gss: deriving keys: seed length %d", len(out))
	}
	// For a single block, the enctype's CTS encryption with a zero IV
	// is the block cipher itself; each block encrypts the one before.
	prev := folded(constant)
	for i := 0; i < len(out); i += aes.BlockSize {
		d.block.Encrypt(out[i:i+aes.BlockSize], prev)
		prev = out[i : i+aes.BlockSize]
	}
	return out, nil
}

// usageConstant is RFC 3961's constant for a key usage: the usage in four
// big-endian bytes and kind, 0xAA for Ke, 0x55 for Ki, 0x99 for Kc.
func usageConstant(usage uint32, kind byte) []byte {
	return []byte{byte(usage >> 24), byte(usage >> 16), byte(usage >> 8), byte(usage), kind}
}

// Kinds of usage keys (RFC 3961 section 5.3).
const (
	kindKe byte = 0xaa
	kindKi byte = 0x55
	kindKc byte = 0x99
)

// foldedUsages holds the 128-bit n-folds of the usage constants this
// package derives keys for, computed once: each n-fold costs about as
// much as the AES it feeds. It is read only.
var foldedUsages = func() map[[5]byte][]byte {
	m := map[[5]byte][]byte{}
	for _, u := range []uint32{2, 7, 11, 12, 14, 22, 23, 24, 25} {
		for _, k := range []byte{kindKe, kindKi, kindKc} {
			c := usageConstant(u, k)
			m[[5]byte(c)] = nfold(c, aes.BlockSize)
		}
	}
	return m
}()

// folded returns the 128-bit n-fold of constant.
func folded(constant []byte) []byte {
	if len(constant) == 5 {
		if f, ok := foldedUsages[[5]byte(constant)]; ok {
			return f
		}
	}
	return nfold(constant, aes.BlockSize)
}
