package directory

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// The id allocator.
//
// Each id range (members, clubs) has a counter entry under CounterBase:
//
//	dn: cn=ceod-next-id-member,<CounterBase>
//	objectClass: top
//	objectClass: device
//	cn: ceod-next-id-member
//	serialNumber: 20042
//	description: ...
//
// serialNumber holds the lowest number that may still be free. To
// allocate, a client reads the counter (N), finds the first number C >= N
// that is not a uidNumber or gidNumber anywhere under Base (nor in use
// according to the caller's extra check, e.g. NSS), and then moves the
// counter from N to C+1 with ONE modify: delete serialNumber=N, add
// serialNumber=C+1. LDAP applies a modify atomically, and the delete of a
// value that is no longer there fails with noSuchAttribute, so of several
// clients that read the same N exactly one succeeds; the others re-read
// and try again. Every successful modify hands out the numbers [N, C]
// exclusively (C itself is used, the rest were found taken), so no number
// is ever given to two accounts, whatever the number of concurrent
// requests, daemons or hosts, and across restarts: the state is in the
// directory, not in memory.
//
// Why not the alternatives: a mutex only works inside one process; the
// legacy "first free number" scan races between two requests (both find
// the same number, both add); slapd's unique overlay would have to be
// configured on the production server (not ours to change), cannot say
// "unused as uidNumber OR gidNumber" (a user and its group share the
// number), and would turn a race into a failed add after the principal
// was made. The counter's schema (device/serialNumber, both in core.schema)
// exists on every OpenLDAP server.
//
// Consequences: numbers are never reused once handed out, even when the
// account is rolled back (a gap is harmless; reuse would not be); numbers
// taken by accounts made outside ceod are skipped because every candidate
// is checked; when the counter passes the top of the range, allocation
// fails with ErrRangeExhausted rather than wrapping around (wrapping
// could hand out a number whose account is still being made). Deleting
// the counter entry restarts allocation at the bottom of the range, which
// is safe (used numbers are skipped) but scans the used ones again.

// counterCN is the cn of the counter entry of an id range.
func counterCN(rangeName string) string { return "ceod-next-id-" + rangeName }

// CounterDN is the DN of the counter entry of the id range rangeName.
func (c *Client) CounterDN(rangeName string) string {
	return "cn=" + ldap.EscapeDN(counterCN(rangeName)) + "," + c.cfg.CounterBase
}

// maxAllocAttempts bounds the compare-and-swap loop; each failed attempt
// means another allocation succeeded, so this is only reached under
// absurd contention.
const maxAllocAttempts = 100

// InUseFunc reports whether an id is taken by something the directory
// does not know about (NSS, local files).
type InUseFunc func(ctx context.Context, id int) (bool, error)

// AllocateID hands out a number in [lo, hi] that is not a uidNumber or
// gidNumber under Base, for which inUse (if not nil) reports false, and
// that no other AllocateID call, in this or any other process, has
// returned or will return. rangeName ("member", "club") names the counter.
// It fails with ErrRangeExhausted when the range is used up.
func (c *Client) AllocateID(ctx context.Context, rangeName string, lo, hi int, inUse InUseFunc) (int, error) {
	if lo <= 0 || lo > hi {
		return 0, fmt.Errorf("directory: bad id range %d-%d", lo, hi)
	}
	dn := c.CounterDN(rangeName)
	for attempt := 1; attempt <= maxAllocAttempts; attempt++ {
		raw, next, err := c.readCounter(ctx, dn)
		if errors.Is(err, ErrNotFound) {
			if err := c.createCounter(ctx, dn, rangeName, lo); err != nil && !errors.Is(err, ErrExists) {
				return 0, err
			}
			continue // re-read: ours or the one another client made first
		}
		if err != nil {
			return 0, err
		}
		id, err := c.firstFree(ctx, max(next, lo), hi, inUse)
		if err != nil {
			return 0, fmt.Errorf("directory: allocating a %s id (counter at %d): %w", rangeName, next, err)
		}
		err = c.swapCounter(ctx, dn, raw, strconv.Itoa(id+1))
		if err == nil {
			return id, nil
		}
		if !ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchAttribute) {
			return 0, fmt.Errorf("directory: advancing %s: %w", dn, err)
		}
		// Another client moved the counter first. Back off a little so
		// that a crowd of requests spreads out.
		c.log.Debug("directory: id counter moved, retrying", "counter", dn, "attempt", attempt)
		select {
		case <-time.After(time.Duration(rand.IntN(attempt*2+1)) * time.Millisecond):
		case <-ctx.Done():
			return 0, fmt.Errorf("directory: allocating a %s id: %w", rangeName, context.Cause(ctx))
		}
	}
	return 0, fmt.Errorf("directory: allocating a %s id: counter %s still contended after %d attempts", rangeName, dn, maxAllocAttempts)
}

// readCounter returns the counter's value as stored and as a number.
func (c *Client) readCounter(ctx context.Context, dn string) (string, int, error) {
	e, err := c.Read(ctx, dn, "serialNumber")
	if err != nil {
		return "", 0, fmt.Errorf("directory: id counter: %w", err)
	}
	vals := e.GetAttributeValues("serialNumber")
	if len(vals) != 1 {
		return "", 0, fmt.Errorf("directory: id counter %s: want one serialNumber, found %d (fix or delete the entry)", dn, len(vals))
	}
	n, err := strconv.Atoi(vals[0])
	if err != nil || n < 0 {
		return "", 0, fmt.Errorf("directory: id counter %s: serialNumber %q is not a number (fix or delete the entry)", dn, vals[0])
	}
	return vals[0], n, nil
}

func (c *Client) createCounter(ctx context.Context, dn, rangeName string, lo int) error {
	req := ldap.NewAddRequest(dn, nil)
	req.Attribute("objectClass", []string{"top", "device"})
	req.Attribute("cn", []string{counterCN(rangeName)})
	req.Attribute("serialNumber", []string{strconv.Itoa(lo)})
	req.Attribute("description", []string{"Lowest " + rangeName + " uidNumber/gidNumber that may be free. " +
		"Advanced by ceod with an atomic compare-and-swap; do not lower it by hand while ceod runs."})
	if err := c.add(ctx, req); err != nil {
		return fmt.Errorf("directory: creating id counter: %w", err)
	}
	c.log.Info("directory: created id counter", "counter", dn, "start", lo)
	return nil
}

// swapCounter replaces the counter's value old with new in one modify,
// which fails with noSuchAttribute if the value is no longer old.
func (c *Client) swapCounter(ctx context.Context, dn, old, new string) error {
	req := ldap.NewModifyRequest(dn, nil)
	req.Delete("serialNumber", []string{old})
	req.Add("serialNumber", []string{new})
	return c.do(ctx, false, func(conn *ldap.Conn) error { return conn.Modify(req) })
}

// Probe windows of firstFree: the first asks about a few numbers (the
// counter usually points at a free one), later ones double up to
// maxIDWindow. Each window is one search of 2*n equality terms answered
// from the uidNumber/gidNumber indexes, so a crowded range costs
// (crowded numbers / maxIDWindow) searches whatever the directory's size.
// 256 numbers make a filter of about 12 kB, well under slapd's
// sockbuf_max_incoming_auth (4 MB).
const (
	firstIDWindow = 8
	maxIDWindow   = 256
)

// firstFree returns the lowest id in [from, hi] that is free.
func (c *Client) firstFree(ctx context.Context, from, hi int, inUse InUseFunc) (int, error) {
	for lo, n := from, firstIDWindow; lo <= hi; lo, n = lo+n, min(2*n, maxIDWindow) {
		top := min(lo+n-1, hi)
		used, err := c.usedIDs(ctx, lo, top)
		if err != nil {
			return 0, err
		}
		for id := lo; id <= top; id++ {
			if used[id] {
				continue
			}
			if inUse != nil {
				taken, err := inUse(ctx, id)
				if err != nil {
					return 0, err
				}
				if taken {
					continue
				}
			}
			return id, nil
		}
	}
	return 0, ErrRangeExhausted
}

// IDInUse reports whether id is the uidNumber or gidNumber of any entry
// under the base.
func (c *Client) IDInUse(ctx context.Context, id int) (bool, error) {
	used, err := c.usedIDs(ctx, id, id)
	return used[id], err
}

// usedIDs returns the numbers in [lo, hi] that are a uidNumber or
// gidNumber under the base. The filter names each number (uidNumber has
// no ORDERING rule in nis.schema, so a range filter is not possible).
func (c *Client) usedIDs(ctx context.Context, lo, hi int) (map[int]bool, error) {
	var f strings.Builder
	f.WriteString("(|")
	for id := lo; id <= hi; id++ {
		n := strconv.Itoa(id)
		f.WriteString("(uidNumber=" + n + ")(gidNumber=" + n + ")")
	}
	f.WriteString(")")
	entries, err := c.Search(ctx, c.cfg.Base, f.String(), "uidNumber", "gidNumber")
	if err != nil {
		return nil, fmt.Errorf("directory: looking up ids %d-%d: %w", lo, hi, err)
	}
	used := map[int]bool{}
	for _, e := range entries {
		for _, a := range []string{"uidNumber", "gidNumber"} {
			for _, v := range e.GetAttributeValues(a) {
				if n, err := strconv.Atoi(v); err == nil && n >= lo && n <= hi {
					used[n] = true
				}
			}
		}
	}
	return used, nil
}
