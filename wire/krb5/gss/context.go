package gss

import (
	"sync"

	"github.com/jcmturner/gokrb5/v8/crypto/etype"
	"github.com/jcmturner/gokrb5/v8/iana/keyusage"
	"github.com/jcmturner/gokrb5/v8/types"
)

// Context is an established security context. Its methods are safe for
// concurrent use; per-message tokens are numbered in the order Wrap is
// called and must be unwrapped in the order they were wrapped.
type Context struct {
	initiator      bool
	key            types.EncryptionKey // protects every per-message token
	et             etype.EType
	acceptorSubkey bool       // key is the acceptor's subkey (token flag 0x04)
	peer           string     // the other side's principal name
	flags          uint32     // context flags from the 0x8003 checksum
	delegated      *Delegated // acceptor: the client's forwarded TGT, if any

	sendMu  sync.Mutex
	sendSeq uint64 // sequence number of the next token we wrap

	recvMu  sync.Mutex
	recvSeq uint64 // sequence number the next unwrapped token must have

	// sendKeys and recvKeys are derived from key on first use, for the
	// usage of tokens we send and of tokens the peer sends.
	sendKeys lazyKeys
	recvKeys lazyKeys

	// scratch lends the memory of per-message work: the acceptor's,
	// shared by its contexts, or the initiator context's own. Nil
	// (contexts made in tests) allocates it per message.
	scratch *scratch
}

// Lean makes the context keep no AES key schedules: each message then
// makes its own (about a microsecond, and half a kilobyte of garbage per
// direction), and the context holds a kilobyte less, for connections
// that mostly wait. Call it before the first message; it is not safe
// to call concurrently with the context's other methods.
func (c *Context) Lean() {
	for _, l := range []*lazyKeys{&c.sendKeys, &c.recvKeys} {
		l.lean = true
		l.keys.block = nil
	}
}

// sendUsageKeys returns the derived keys for the tokens this side wraps.
func (c *Context) sendUsageKeys() (*usageKeys, error) {
	return c.sendKeys.get(c.et, c.key.KeyValue, sealUsage(c.initiator))
}

// recvUsageKeys returns the derived keys for the tokens the peer wraps.
func (c *Context) recvUsageKeys() (*usageKeys, error) {
	return c.recvKeys.get(c.et, c.key.KeyValue, sealUsage(!c.initiator))
}

// newContext sets up the per-message state. key must have passed
// checkKey.
func newContext(initiator bool, key types.EncryptionKey, et etype.EType, acceptorSubkey bool, peer string, flags uint32, sendSeq, recvSeq uint64) *Context {
	return &Context{
		initiator:      initiator,
		key:            key,
		et:             et,
		acceptorSubkey: acceptorSubkey,
		peer:           peer,
		flags:          flags,
		sendSeq:        sendSeq,
		recvSeq:        recvSeq,
	}
}

// Peer returns the other side's principal: the authenticated client
// ("alice@CSCLUB.INTERNAL") on the acceptor side, the target service
// ("ceod/localhost@CSCLUB.INTERNAL") on the initiator side.
func (c *Context) Peer() string { return c.peer }

// Enctype returns the enctype of the key protecting per-message tokens,
// e.g. 18 for aes256-cts-hmac-sha1-96.
func (c *Context) Enctype() int32 { return c.key.KeyType }

// Delegated returns the credential the initiator forwarded (acceptor
// side), nil if none. It is the caller's to Wipe when the operation it
// serves is over; ReleaseDelegated does that and forgets it.
func (c *Context) Delegated() *Delegated { return c.delegated }

// ForgetDelegated drops the delegated credential without wiping it, once
// its new holder (who must wipe it) has it.
func (c *Context) ForgetDelegated() { c.delegated = nil }

// ReleaseDelegated wipes and drops the delegated credential.
func (c *Context) ReleaseDelegated() {
	c.delegated.Wipe()
	c.delegated = nil
}

// Initiator reports whether this is the initiator's end of the context.
func (c *Context) Initiator() bool { return c.initiator }

// sealUsage returns the RFC 4121 wrap-token key usage for tokens sent by
// the initiator (24) or by the acceptor (22). Wrap tokens use the SEAL
// usages whether or not they are encrypted; MIC tokens would use SIGN.
func sealUsage(fromInitiator bool) uint32 {
	if fromInitiator {
		return keyusage.GSSAPI_INITIATOR_SEAL
	}
	return keyusage.GSSAPI_ACCEPTOR_SEAL
}
