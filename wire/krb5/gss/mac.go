package gss

import (
	"crypto/aes"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/binary"
	"hash"
	"sync"

	"github.com/jcmturner/gokrb5/v8/iana/etypeID"
)

// The HMAC of the AES enctypes, without garbage. A hash.Hash and the
// arrays handed to it escape to the heap, so an HMAC computed from
// scratch costs two allocations, four per op message on each side. The
// hash and its scratch space are lent instead by a macPools, part of a
// context's scratch (scratch.go): they are held only while a message is
// sealed or opened, so an idle connection keeps none, and sync.Pool
// drops them when the load goes.

// maxHMACLen is the largest HMAC output of the supported enctypes
// (SHA-384).
const maxHMACLen = sha512.Size384

// macState is the scratch of one HMAC computation.
type macState struct {
	h     hash.Hash // reset before use
	pad   [sha512.BlockSize]byte
	inner [maxHMACLen]byte
	// zeroIV is the all-zero IV that RFC 8009's HMAC covers; never
	// written. A local array would escape through h.Write.
	zeroIV [aes.BlockSize]byte
}

// Hash functions of the supported enctypes, indexes into macPools.
const (
	hashSHA1 = iota
	hashSHA256
	hashSHA384
	numHashes
)

// hashOf returns the hash function of enctype id.
func hashOf(id int32) int {
	switch id {
	case etypeID.AES128_CTS_HMAC_SHA256_128:
		return hashSHA256
	case etypeID.AES256_CTS_HMAC_SHA384_192:
		return hashSHA384
	}
	return hashSHA1
}

func newMACState(fn int) *macState {
	var h hash.Hash
	switch fn {
	case hashSHA256:
		h = sha256.New()
	case hashSHA384:
		h = sha512.New384()
	default:
		h = sha1.New()
	}
	return &macState{h: h}
}

// macPools lends macStates, one pool per hash function. The zero value
// is ready; a nil *macPools lends fresh states, for one-off HMACs.
type macPools [numHashes]sync.Pool

func (p *macPools) get(fn int) *macState {
	if p != nil {
		if st, ok := p[fn].Get().(*macState); ok {
			return st
		}
	}
	return newMACState(fn)
}

// put takes st back, wiping what it holds of the key.
func (p *macPools) put(fn int, st *macState) {
	if p == nil {
		return
	}
	clear(st.pad[:])
	st.h.Reset()
	p[fn].Put(st)
}

// sum writes HMAC(key, zeros(ivLen) || parts...) with enctype id's hash
// into out and returns its length, untruncated. ivLen is at most a
// block: the zero IV of RFC 8009's HMAC, 0 for RFC 3962's. The keys of
// the supported enctypes are shorter than the hash's block.
func (p *macPools) sum(id int32, out *[maxHMACLen]byte, key []byte, ivLen int, parts ...[]byte) int {
	fn := hashOf(id)
	st := p.get(fn)
	defer p.put(fn, st)
	h := st.h
	h.Reset()
	pad := st.pad[:h.BlockSize()]
	copy(pad, key) // the rest is zero: fresh, or cleared by put
	xorWords(pad, ipadWord)
	h.Write(pad)
	h.Write(st.zeroIV[:ivLen])
	for _, part := range parts {
		h.Write(part)
	}
	inner := h.Sum(st.inner[:0])
	xorWords(pad, ipadWord^opadWord)
	h.Reset()
	h.Write(pad)
	h.Write(inner)
	copy(out[:], h.Sum(st.inner[:0]))
	return h.Size()
}

// The HMAC pads (RFC 2104) as 64-bit words.
const (
	ipadWord = 0x3636363636363636
	opadWord = 0x5c5c5c5c5c5c5c5c
)

// xorWords xors every 8 bytes of b, a hash block, with w: eight times
// fewer steps than byte by byte, which showed in profiles.
func xorWords(b []byte, w uint64) {
	for i := 0; i+8 <= len(b); i += 8 {
		binary.NativeEndian.PutUint64(b[i:], binary.NativeEndian.Uint64(b[i:])^w)
	}
}
