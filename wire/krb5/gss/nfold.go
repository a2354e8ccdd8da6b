package gss

import (
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
	switch et.GetETypeID() {
	case etypeID.AES128_CTS_HMAC_SHA1_96, etypeID.AES256_CTS_HMAC_SHA1_96:
	default:
		return et.DeriveKey(key, constant)
	}
	out := make([]byte, 0, et.GetKeySeedBitLength()/8)
	block := nfold(constant, et.GetCypherBlockBitLength()/8)
	for len(out) < cap(out) {
		_, k, err := et.EncryptData(key, block)
		if err != nil {
			return nil, err
		}
		block = k
		out = append(out, k[:min(len(k), cap(out)-len(out))]...)
	}
	return out, nil
}
