// Package terms handles the club's academic terms, written [wsf]YYYY:
// winter (January-April), spring (May-August) and fall
// (September-December). Within a year, w < s < f.
//
// A Term is a plain comparable value; its zero value is not a valid term.
// The functions mirror the legacy front end's terms module: the current
// term, adding and subtracting terms, the distance between two terms,
// intervals of consecutive terms and the next term a member is not yet
// registered for.
package terms

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"
)

// seasons in term order.
const seasons = "wsf"

// Term is one academic term. Terms compare with <, ==, > through Index.
type Term struct {
	Year   int
	Season byte // 'w', 's' or 'f'
}

// ErrMalformed is returned (wrapped) by Parse for anything but [wsf]YYYY.
var ErrMalformed = errors.New("malformed term (want w, s or f and a four-digit year, e.g. f2024)")

// Parse reads a term written [wsf]YYYY, e.g. "f2024".
func Parse(s string) (Term, error) {
	if len(s) != 5 || seasonIndex(s[0]) < 0 {
		return Term{}, fmt.Errorf("%q: %w", s, ErrMalformed)
	}
	for _, c := range s[1:] {
		if c < '0' || c > '9' {
			return Term{}, fmt.Errorf("%q: %w", s, ErrMalformed)
		}
	}
	y, _ := strconv.Atoi(s[1:])
	return Term{Year: y, Season: s[0]}, nil
}

// MustParse is Parse for constants in tests and tables; it panics on a
// malformed term.
func MustParse(s string) Term {
	t, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return t
}

// Valid reports whether s is a well-formed term.
func Valid(s string) bool {
	_, err := Parse(s)
	return err == nil
}

func seasonIndex(c byte) int {
	for i := range len(seasons) {
		if seasons[i] == c {
			return i
		}
	}
	return -1
}

// String writes the term as [wsf]YYYY.
func (t Term) String() string {
	if seasonIndex(t.Season) < 0 {
		return "invalid"
	}
	return fmt.Sprintf("%c%04d", t.Season, t.Year)
}

// Index is the number of terms since w0000; it orders terms.
func (t Term) Index() int { return t.Year*len(seasons) + seasonIndex(t.Season) }

func fromIndex(i int) Term {
	n := len(seasons)
	y, s := i/n, i%n
	if s < 0 {
		y, s = y-1, s+n
	}
	return Term{Year: y, Season: seasons[s]}
}

// Of returns the term that holds the instant t, in t's location.
func Of(t time.Time) Term {
	return Term{Year: t.Year(), Season: seasons[(int(t.Month())-1)/4]}
}

// Current is the term of now.
func Current(now func() time.Time) Term {
	if now == nil {
		now = time.Now
	}
	return Of(now())
}

// Add returns the term n terms after t (n may be negative).
func (t Term) Add(n int) Term { return fromIndex(t.Index() + n) }

// Next is the term after t.
func (t Term) Next() Term { return t.Add(1) }

// Prev is the term before t.
func (t Term) Prev() Term { return t.Add(-1) }

// Delta is the number of terms from a to b: a.Add(Delta(a, b)) == b.
func Delta(a, b Term) int { return b.Index() - a.Index() }

// Compare is negative if a < b, zero if equal, positive if a > b, for
// slices.SortFunc.
func Compare(a, b Term) int { return a.Index() - b.Index() }

// Before reports whether t comes before u.
func (t Term) Before(u Term) bool { return t.Index() < u.Index() }

// Interval returns count consecutive terms starting with base; none if
// count <= 0.
func Interval(base Term, count int) []Term {
	out := make([]Term, 0, max(count, 0))
	for i := range count {
		out = append(out, base.Add(i))
	}
	return out
}

// Max returns the latest of terms and false if there are none.
func Max(ts []Term) (Term, bool) {
	if len(ts) == 0 {
		return Term{}, false
	}
	return slices.MaxFunc(ts, Compare), true
}

// NextUnregistered is the default first term of a registration: the term
// after the latest registered one, but never before current.
func NextUnregistered(registered []Term, current Term) Term {
	last, ok := Max(registered)
	if !ok || last.Next().Before(current) {
		return current
	}
	return last.Next()
}

// ParseAll parses every string and skips (and reports) malformed ones,
// because directory entries sometimes hold junk.
func ParseAll(ss []string) (ts []Term, bad []string) {
	for _, s := range ss {
		t, err := Parse(s)
		if err != nil {
			bad = append(bad, s)
			continue
		}
		ts = append(ts, t)
	}
	return ts, bad
}

// Sorted returns ts sorted, without duplicates.
func Sorted(ts []Term) []Term {
	out := slices.Clone(ts)
	slices.SortFunc(out, Compare)
	return slices.Compact(out)
}

// Strings writes each term.
func Strings(ts []Term) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.String()
	}
	return out
}

// Contains reports whether ts holds t.
func Contains(ts []Term, t Term) bool { return slices.Contains(ts, t) }
