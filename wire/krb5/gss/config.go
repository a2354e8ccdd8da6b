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
	// verification additionally checks against time.Now.
	Now func() time.Time
	// Stamps, if not nil, keeps the authenticator times of the
	// initiators sharing it distinct: a time at or up to a second
	// before the last one handed out is bumped to a microsecond after
	// it. Nil uses the clock's time as is.
	Stamps *Stamps
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

// authenticatorTime returns the time for a new authenticator, in UTC and
// whole microseconds.
func (c *Config) authenticatorTime() time.Time {
	if c.Stamps == nil {
		return c.now().Truncate(time.Microsecond).UTC()
	}
	return c.Stamps.next(c.now())
}
