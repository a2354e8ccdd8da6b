// Package opstest helps test the ops: Fake, an in-memory
// authz.Directory, and helpers that point ops/directory at the test
// realm's slapd and add accounts to it. The in-process ceod is
// internal/ceodtest's.
package opstest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/csclub/ceo/ops/acl"
	"github.com/csclub/ceo/ops/authz"
)

// Fake is an in-memory directory. Its zero value is empty and ready.
type Fake struct {
	mu     sync.Mutex
	users  map[string]authz.User
	groups map[string][]string
	// Err, if set, is returned by every call (a directory outage).
	Err error
	// Calls counts the calls made, for tests that check nothing was asked.
	Calls int
}

// AddUser adds or replaces an account.
func (f *Fake) AddUser(u authz.User) *Fake {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.users == nil {
		f.users = map[string]authz.User{}
	}
	f.users[u.Name] = u
	return f
}

// AddToGroup makes user a member of group.
func (f *Fake) AddToGroup(group string, users ...string) *Fake {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.groups == nil {
		f.groups = map[string][]string{}
	}
	f.groups[group] = append(f.groups[group], users...)
	return f
}

// InGroup implements authz.Directory.
func (f *Fake) InGroup(ctx context.Context, user, group string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.Calls++
	if f.Err != nil {
		return false, f.Err
	}
	return slices.Contains(f.groups[group], user), nil
}

// LookupUser implements authz.Directory.
func (f *Fake) LookupUser(ctx context.Context, name string) (*authz.User, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.Calls++
	if f.Err != nil {
		return nil, f.Err
	}
	u, ok := f.users[name]
	if !ok {
		return nil, fmt.Errorf("%s: %w", name, authz.ErrNoSuchUser)
	}
	return &u, nil
}

// DefaultACL is the shipped ceod.acl, parsed.
func DefaultACL(t testing.TB) *acl.ACL {
	t.Helper()
	a, err := acl.ParseDefault()
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// Rule is the shipped ceod.acl's first rule that begins with text ("mail
// group:office"), as denials and allowances name it: "ceod.acl:LINE
// (mail group:office !group:syscom)".
func Rule(t testing.TB, text string) string {
	t.Helper()
	op, _, _ := strings.Cut(text, " ")
	for _, r := range DefaultACL(t).Rules(op) {
		if strings.HasPrefix(strings.Join(append([]string{r.Op, r.Who}, r.Targets...), " "), text) {
			return r.String()
		}
	}
	t.Fatalf("the shipped ceod.acl has no rule %q", text)
	return ""
}
