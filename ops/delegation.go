package ops

import (
	"context"
	"sync"

	"github.com/csclub/ceo/wire/krb5/gss"
)

// Delegation is the credential the caller forwarded for one op (GSS-API
// delegation), held in memory for the life of the op only. Release wipes
// it and runs what the op registered with OnRelease (closing connections
// bound with it).
type Delegation struct {
	mu       sync.Mutex
	cred     *gss.Delegated
	released bool
	onRel    []func()
}

// NewDelegation holds cred (nil: the caller delegated nothing).
func NewDelegation(cred *gss.Delegated) *Delegation { return &Delegation{cred: cred} }

// Credential returns the forwarded credential, nil if none or released.
func (d *Delegation) Credential() *gss.Delegated {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.released {
		return nil
	}
	return d.cred
}

// OnRelease registers f to run at Release (at once if already released).
func (d *Delegation) OnRelease(f func()) {
	d.mu.Lock()
	if !d.released {
		d.onRel = append(d.onRel, f)
		d.mu.Unlock()
		return
	}
	d.mu.Unlock()
	f()
}

// Release runs the registered functions, newest first, and wipes the
// credential. It is idempotent.
func (d *Delegation) Release() {
	d.mu.Lock()
	fs := d.onRel
	d.onRel, d.released = nil, true
	d.mu.Unlock()
	for i := len(fs) - 1; i >= 0; i-- {
		fs[i]()
	}
	d.cred.Wipe()
}

// Released reports whether Release ran and the key bytes are zero: the
// test hook that shows no forwarded credential outlives its op.
func (d *Delegation) Released() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.released && (d.cred == nil || d.cred.Wiped())
}

type delegationKey struct{}

// WithDelegation returns ctx carrying d.
func WithDelegation(ctx context.Context, d *Delegation) context.Context {
	return context.WithValue(ctx, delegationKey{}, d)
}

// DelegationFrom returns the op's Delegation, nil if ctx carries none.
func DelegationFrom(ctx context.Context) *Delegation {
	d, _ := ctx.Value(delegationKey{}).(*Delegation)
	return d
}
