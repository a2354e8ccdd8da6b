package gss

import (
	"crypto/rand"
	"io"
	"time"
)

// DefaultMaxSkew is the clock skew allowed when MaxSkew is zero, the
// Kerberos default.
const DefaultMaxSkew = 5 * time.Minute

// Config holds the injectable parts of a context. The zero value is ready
// to use. A Config must not be modified once passed to an Acceptor or an
// Initiator.
type Config struct {
	// Rand is the source of subkeys and initial sequence numbers; nil
	// means crypto/rand.Reader. Encryption confounders always come from
	// crypto/rand.
	Rand io.Reader
	// Now is the clock used for authenticator timestamps and the
	// acceptor's own time checks; nil means time.Now. gokrb5's AP-REQ
	// verification additionally checks against time.Now. An initiator
	// never reuses an authenticator time within the process: a time at
	// or up to a second before the last one it used is bumped to a
	// microsecond after it.
	Now func() time.Time
	// MaxSkew is the clock skew tolerated between the peers and around
	// ticket lifetimes; zero or negative means DefaultMaxSkew.
	MaxSkew time.Duration
}

func (c *Config) rand() io.Reader {
	if c.Rand == nil {
		return rand.Reader
	}
	return c.Rand
}

func (c *Config) now() time.Time {
	if c.Now == nil {
		return time.Now()
	}
	return c.Now()
}

func (c *Config) maxSkew() time.Duration {
	if c.MaxSkew <= 0 {
		return DefaultMaxSkew
	}
	return c.MaxSkew
}
