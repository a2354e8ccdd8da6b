package gss

import (
	"crypto/aes"
	"fmt"
	"sync"

	"github.com/jcmturner/gokrb5/v8/crypto/etype"
	"github.com/jcmturner/gokrb5/v8/iana/keyusage"
	"github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/jcmturner/gokrb5/v8/types"
)

// serviceKeyCache keeps the keys derived from a keytab's long-term keys
// for decrypting tickets (usage 2), with Ke's AES cipher, so that each
// Accept does not derive them again. It holds keying material, no decision: every ticket is
// still decrypted and checked. It belongs to one keytab at a time: a
// reread keytab (a rotation) starts it afresh, so it holds no more keys
// than the keytab does. Its zero value is ready; it is safe for
// concurrent use.
type serviceKeyCache struct {
	mu   sync.Mutex
	kt   *keytab.Keytab
	keys map[serviceKeyID]*usageKeys
}

// serviceKeyID names a long-term key by its enctype and value (checkKey
// allows no key longer than maxKeyLen).
type serviceKeyID struct {
	etype int32
	key   [maxKeyLen]byte
}

// maxKeyLen is the longest key of a supported enctype (AES-256).
const maxKeyLen = 32

// get returns the ticket-decryption keys of key, an entry of kt that has
// passed checkKey.
func (c *serviceKeyCache) get(kt *keytab.Keytab, et etype.EType, key types.EncryptionKey) (*usageKeys, error) {
	id := serviceKeyID{etype: key.KeyType}
	copy(id.key[:], key.KeyValue)
	c.mu.Lock()
	if c.kt != kt {
		c.kt, c.keys = kt, nil
	}
	k, ok := c.keys[id]
	c.mu.Unlock()
	if ok {
		return k, nil
	}
	// Derived outside the lock; a concurrent first use derives twice.
	d, err := deriveEncKeys(et, key.KeyValue, keyusage.KDC_REP_TICKET)
	if err != nil {
		return nil, err
	}
	if d.block, err = aes.NewCipher(d.ke); err != nil {
		return nil, fmt.Errorf("gss: service key: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.kt == kt {
		if c.keys == nil {
			c.keys = make(map[serviceKeyID]*usageKeys, len(kt.Entries))
		}
		c.keys[id] = &d
	}
	return &d, nil
}
