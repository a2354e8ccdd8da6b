package gss

import (
	"encoding/binary"
	"fmt"
	"io"

	"github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/crypto/etype"
	"github.com/jcmturner/gokrb5/v8/iana/etypeID"
	"github.com/jcmturner/gokrb5/v8/types"
)

// enctypes are the supported enctypes and their key sizes in bytes.
// gokrb5's GetKeyByteSize is wrong for enctype 20 (24, not 32), so the
// sizes are spelled out here.
var enctypes = map[int32]struct {
	name   string
	keyLen int
}{
	etypeID.AES128_CTS_HMAC_SHA1_96:    {"aes128-cts-hmac-sha1-96", 16},
	etypeID.AES256_CTS_HMAC_SHA1_96:    {"aes256-cts-hmac-sha1-96", 32},
	etypeID.AES128_CTS_HMAC_SHA256_128: {"aes128-cts-hmac-sha256-128", 16},
	etypeID.AES256_CTS_HMAC_SHA384_192: {"aes256-cts-hmac-sha384-192", 32},
}

// enctypeName returns the MIT name of a supported enctype, or its number.
func enctypeName(id int32) string {
	if e, ok := enctypes[id]; ok {
		return e.name
	}
	return fmt.Sprintf("enctype %d", id)
}

// checkEnctype returns gokrb5's implementation of a supported enctype.
func checkEnctype(id int32) (etype.EType, error) {
	if _, ok := enctypes[id]; !ok {
		return nil, fmt.Errorf("gss: unsupported enctype %d: only aes256-cts-hmac-sha1-96 (18), aes128-cts-hmac-sha1-96 (17), aes128-cts-hmac-sha256-128 (19) and aes256-cts-hmac-sha384-192 (20) are supported", id)
	}
	return crypto.GetEtype(id)
}

// checkKey validates a key's enctype and length before it reaches gokrb5,
// which does not check lengths everywhere.
func checkKey(k types.EncryptionKey) (etype.EType, error) {
	et, err := checkEnctype(k.KeyType)
	if err != nil {
		return nil, err
	}
	if want := enctypes[k.KeyType].keyLen; len(k.KeyValue) != want {
		return nil, fmt.Errorf("gss: %s key is %d bytes, want %d", enctypeName(k.KeyType), len(k.KeyValue), want)
	}
	return et, nil
}

// newKey makes a random key of a supported enctype. For the AES enctypes
// random-to-key is the identity.
func newKey(r io.Reader, id int32) (types.EncryptionKey, error) {
	if _, err := checkEnctype(id); err != nil {
		return types.EncryptionKey{}, err
	}
	b := make([]byte, enctypes[id].keyLen)
	if _, err := io.ReadFull(r, b); err != nil {
		return types.EncryptionKey{}, fmt.Errorf("gss: generating a key: %w", err)
	}
	return types.EncryptionKey{KeyType: id, KeyValue: b}, nil
}

// minCiphertext is the shortest ciphertext gokrb5's DecryptMessage can
// take without panicking: a confounder block and the HMAC.
func minCiphertext(et etype.EType) int {
	return et.GetConfounderByteSize() + et.GetHMACBitLength()/8
}

// decrypt is DecryptMessage with the length check gokrb5 lacks.
func decrypt(key types.EncryptionKey, ct []byte, usage uint32) ([]byte, error) {
	et, err := checkKey(key)
	if err != nil {
		return nil, err
	}
	if len(ct) < minCiphertext(et) {
		return nil, fmt.Errorf("gss: ciphertext of %d bytes is too short", len(ct))
	}
	return et.DecryptMessage(key.KeyValue, ct, usage)
}

// randomSeq returns a random initial sequence number in [1, 0x3fffffff]:
// masked like MIT's, and 0 mapped to 1 like MIT's, which also matters
// because gofork omits a zero optional INTEGER when marshalling.
func randomSeq(r io.Reader) (uint64, error) {
	var b [4]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return 0, fmt.Errorf("gss: generating a sequence number: %w", err)
	}
	s := uint64(binary.BigEndian.Uint32(b[:])) & 0x3fffffff
	if s == 0 {
		s = 1
	}
	return s, nil
}

// seqFromASN1 converts a received 32-bit sequence number. Some encoders
// send values of 2^31 and above as negative INTEGERs; RFC 4120's UInt32
// maps them back.
func seqFromASN1(v int64) (uint64, error) {
	switch {
	case v >= 0 && v <= 0xffffffff:
		return uint64(v), nil
	case v < 0 && v >= -0x80000000:
		return uint64(uint32(int32(v))), nil
	}
	return 0, fmt.Errorf("gss: sequence number %d out of range", v)
}
