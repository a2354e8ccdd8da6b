package gss

import (
	"bytes"
	"crypto/rand"
	"errors"
	"sync"
	"testing"

	"github.com/jcmturner/gokrb5/v8/crypto/common"
	"github.com/jcmturner/gokrb5/v8/crypto/etype"
	"github.com/jcmturner/gokrb5/v8/types"
)

// TestDerivedKeysMatchGokrb5 checks the cached-key encryption, decryption
// and checksum against gokrb5's per-call functions, which derive the keys
// themselves, for every enctype, both wrap usages and lengths around the
// AES block size (CTS has special cases at and below one block).
func TestDerivedKeysMatchGokrb5(t *testing.T) {
	for _, id := range allEnctypes {
		key, et := randomKey(t, id)
		// deriveKey (its own n-fold for the RFC 3962 enctypes) is
		// gokrb5's DeriveKey, for the wrap usages and others.
		for _, usage := range []uint32{22, 23, 24, 25, 11, 12, 2, 7, 14, 1000} {
			if !bytes.Equal(usageConstant(usage, kindKe), common.GetUsageKe(usage)) || !bytes.Equal(usageConstant(usage, kindKi), common.GetUsageKi(usage)) ||
				!bytes.Equal(usageConstant(usage, kindKc), common.GetUsageKc(usage)) {
				t.Fatalf("usage %d: constants differ from gokrb5's", usage)
			}
			for _, c := range [][]byte{common.GetUsageKe(usage), common.GetUsageKi(usage), common.GetUsageKc(usage)} {
				got, err := deriveKey(et, key.KeyValue, c)
				want, werr := et.DeriveKey(key.KeyValue, c)
				if err != nil || werr != nil || !bytes.Equal(got, want) {
					t.Fatalf("%s usage %d: deriveKey % x (%v), gokrb5 % x (%v)", enctypeName(id), usage, got, err, want, werr)
				}
			}
		}
		for _, usage := range []uint32{sealUsage(true), sealUsage(false)} {
			keys, err := deriveUsageKeys(et, key.KeyValue, usage)
			if err != nil {
				t.Fatal(err)
			}
			for _, n := range []int{0, 1, 15, 16, 17, 31, 32, 33, 47, 48, 63, 64, 1024, 1040, 65536} {
				msg := make([]byte, n)
				rand.Read(msg)

				ours, err := encryptWith(et, &keys, nil, msg)
				if err != nil {
					t.Fatal(err)
				}
				got, err := et.DecryptMessage(key.KeyValue, ours, usage)
				if err != nil || !bytes.Equal(got, msg) {
					t.Fatalf("%s usage %d len %d: gokrb5 cannot open ours: %v", enctypeName(id), usage, n, err)
				}
				_, theirs, err := et.EncryptMessage(key.KeyValue, msg, usage)
				if err != nil {
					t.Fatal(err)
				}
				if len(theirs) != len(ours) {
					t.Fatalf("%s len %d: ciphertext %d bytes, gokrb5's %d", enctypeName(id), n, len(ours), len(theirs))
				}
				got, err = decryptWith(et, &keys, nil, theirs)
				if err != nil || !bytes.Equal(got, msg) {
					t.Fatalf("%s usage %d len %d: cannot open gokrb5's: %v", enctypeName(id), usage, n, err)
				}

				want, err := common.GetHash(msg, key.KeyValue, common.GetUsageKc(usage), et)
				if err != nil {
					t.Fatal(err)
				}
				if sum := mac(et, nil, keys.kc, msg[:n/2], msg[n/2:]); !bytes.Equal(sum, want) {
					t.Fatalf("%s usage %d len %d: checksum %x, gokrb5's %x", enctypeName(id), usage, n, sum, want)
				}
			}
		}
	}
}

// TestDecryptWithRejects checks that every flipped byte, a truncation and
// the other direction's keys make decryptWith fail.
func TestDecryptWithRejects(t *testing.T) {
	for _, id := range allEnctypes {
		key, et := randomKey(t, id)
		keys, _ := deriveUsageKeys(et, key.KeyValue, sealUsage(true))
		other, _ := deriveUsageKeys(et, key.KeyValue, sealUsage(false))
		ct, err := encryptWith(et, &keys, nil, []byte("the quick brown fox jumps"))
		if err != nil {
			t.Fatal(err)
		}
		for i := range ct {
			bad := bytes.Clone(ct)
			bad[i] ^= 0x01
			if _, err := decryptWith(et, &keys, nil, bad); !errors.Is(err, errDecrypt) {
				t.Fatalf("%s: byte %d flipped: err %v", enctypeName(id), i, err)
			}
		}
		for _, n := range []int{0, 1, minCiphertext(et) - 1, len(ct) - 1} {
			if _, err := decryptWith(et, &keys, nil, ct[:n]); !errors.Is(err, errDecrypt) {
				t.Fatalf("%s: truncated to %d: err %v", enctypeName(id), n, err)
			}
		}
		if _, err := decryptWith(et, &other, nil, ct); !errors.Is(err, errDecrypt) {
			t.Fatalf("%s: opened with the other usage's keys: err %v", enctypeName(id), err)
		}
	}
}

// TestLazyKeysOnce checks that the keys are derived once, whoever asks
// first, and are those of the right usage for each direction.
func TestLazyKeysOnce(t *testing.T) {
	ini, acc := establish(t, 20)
	var wg sync.WaitGroup
	got := make([]*usageKeys, 32)
	for g := range got {
		wg.Go(func() {
			k, err := ini.sendUsageKeys()
			if err != nil {
				t.Error(err)
			}
			got[g] = k
		})
	}
	wg.Wait()
	want, err := deriveUsageKeys(ini.et, ini.key.KeyValue, sealUsage(true))
	if err != nil {
		t.Fatal(err)
	}
	for g, k := range got {
		if k != got[0] {
			t.Fatalf("goroutine %d got a different *usageKeys", g)
		}
	}
	if !bytes.Equal(got[0].ke, want.ke) || !bytes.Equal(got[0].ki, want.ki) || !bytes.Equal(got[0].kc, want.kc) {
		t.Fatal("initiator send keys are not those of usage 24")
	}
	peer, err := acc.recvUsageKeys()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(peer.ke, want.ke) || !bytes.Equal(peer.ki, want.ki) || !bytes.Equal(peer.kc, want.kc) {
		t.Fatal("acceptor receive keys differ from the initiator's send keys")
	}
	// The acceptor's are derived in Accept, together, from one deriver.
	wantSend, err := deriveUsageKeys(acc.et, acc.key.KeyValue, sealUsage(false))
	if err != nil {
		t.Fatal(err)
	}
	if k, _ := acc.sendUsageKeys(); bytes.Equal(k.ke, want.ke) || !bytes.Equal(k.ke, wantSend.ke) || !bytes.Equal(k.ki, wantSend.ki) || !bytes.Equal(k.kc, wantSend.kc) {
		t.Fatal("acceptor send keys are not those of usage 22")
	}
}

// randomKey is a fresh random key of enctype id and its etype.
func randomKey(t *testing.T, id int32) (types.EncryptionKey, etype.EType) {
	t.Helper()
	key, err := newKey(rand.Reader, id)
	if err != nil {
		t.Fatal(err)
	}
	et, err := checkKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return key, et
}
