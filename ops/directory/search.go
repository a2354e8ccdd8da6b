package directory

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/go-ldap/ldap/v3"
)

// PageSize is the number of entries asked for per page of a paged search
// (RFC 2696). It stays at OpenLDAP's default soft size limit, 500, so that
// a server whose `limits` allow paged reads but not bigger pages (size.pr)
// still answers every page.
const PageSize = 500

// ErrLimit: the server's configured limits stopped a search. The error
// (a *LimitError) names the limit and the slapd setting that governs it.
var ErrLimit = errors.New("directory: a server limit stopped the search")

// LimitError is a search cut off by one of the server's limits.
type LimitError struct {
	Base    string // the search's base
	Got     int    // entries received before the server stopped
	Limit   string // "size limit", "time limit", "administrative limit"
	Setting string // the slapd.conf setting that governs it
	err     *ldap.Error
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("directory: searching %s: the server's %s stopped the search after %d entries; "+
		"the directory's administrator sets it in slapd.conf: %s", e.Base, e.Limit, e.Got, e.Setting)
}

// Is makes errors.Is(err, ErrLimit) true.
func (e *LimitError) Is(target error) bool { return target == ErrLimit }

// Unwrap gives the LDAP error, for IsRefusal and result-code checks.
func (e *LimitError) Unwrap() error { return e.err }

// limitError maps the result codes of slapd's limits to a LimitError.
// The settings are those of slapd.conf(5) / slapd.access's limits
// directive; see the README's install section.
func limitError(err error, base string, got int) error {
	var le *ldap.Error
	if !errors.As(err, &le) {
		return err
	}
	switch le.ResultCode {
	case ldap.LDAPResultSizeLimitExceeded:
		return &LimitError{Base: base, Got: got, Limit: "size limit", err: le,
			Setting: `"limits users size.prtotal=unlimited" lets authenticated users page through everything; "sizelimit" (default 500) bounds searches that do not page`}
	case ldap.LDAPResultAdminLimitExceeded:
		return &LimitError{Base: base, Got: got, Limit: "administrative limit", err: le,
			Setting: fmt.Sprintf(`"limits users size.pr=%d size.unchecked=unlimited" (the page size and the candidates examined)`, PageSize)}
	case ldap.LDAPResultTimeLimitExceeded:
		return &LimitError{Base: base, Got: got, Limit: "time limit", err: le,
			Setting: `"timelimit" or "limits users time=..." (default 3600 seconds)`}
	}
	return err
}

// search runs a paged search, so that the server's size limit for
// unpaged searches does not cut it. A search with a SizeLimit that
// reaches it returns the entries so far and no error: that is a caller
// asking for at most that many.
func (c *Client) search(ctx context.Context, req *ldap.SearchRequest) ([]*ldap.Entry, error) {
	var entries []*ldap.Entry
	err := c.do(ctx, true, func(conn *ldap.Conn) error {
		// A fresh request per attempt: SearchWithPaging keeps its cookie
		// in the request's controls, and a retry starts over.
		r := *req
		r.Controls = slices.Clone(req.Controls)
		res, err := conn.SearchWithPaging(&r, PageSize)
		if res != nil {
			entries = res.Entries
		}
		if err != nil && req.SizeLimit > 0 && len(entries) >= req.SizeLimit &&
			ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded) {
			return nil
		}
		return err
	})
	if err != nil {
		return nil, limitError(err, req.BaseDN, len(entries))
	}
	return entries, nil
}

// Search runs a paged subtree search of base for filter, returning attrs
// (no attributes if none are given). A base that does not exist gives no
// entries.
func (c *Client) Search(ctx context.Context, base, filter string, attrs ...string) ([]*ldap.Entry, error) {
	entries, err := c.search(ctx, subtree(base, filter, attrs...))
	if ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
		return nil, nil
	}
	return entries, err
}

// Read returns the entry dn with attrs, or an error wrapping ErrNotFound.
func (c *Client) Read(ctx context.Context, dn string, attrs ...string) (*ldap.Entry, error) {
	req := ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=*)", attrs, nil)
	var entries []*ldap.Entry
	err := c.do(ctx, true, func(conn *ldap.Conn) error {
		res, err := conn.Search(req)
		if res != nil {
			entries = res.Entries
		}
		return err
	})
	if ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) || (err == nil && len(entries) == 0) {
		return nil, fmt.Errorf("directory: %s: %w", dn, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("directory: reading %s: %w", dn, err)
	}
	return entries[0], nil
}

func subtree(base, filter string, attrs ...string) *ldap.SearchRequest {
	if len(attrs) == 0 {
		attrs = []string{"1.1"} // no attributes
	}
	return ldap.NewSearchRequest(base, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false, filter, attrs, nil)
}

// exists reports whether a search finds any entry. It asks for one
// entry at most: the answer does not depend on the directory's size.
func (c *Client) exists(ctx context.Context, what string, req *ldap.SearchRequest) (bool, error) {
	req.SizeLimit = 1
	entries, err := c.search(ctx, req)
	if err != nil {
		return false, fmt.Errorf("directory: looking up %s: %w", what, err)
	}
	return len(entries) > 0, nil
}
