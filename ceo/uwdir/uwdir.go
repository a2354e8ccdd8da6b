// Package uwdir reads the university's directory (legacy "uwldap"),
// anonymously: a person's full name (cn) and program (ou) by user id, and
// user ids by prefix. New Member fills its fields from it and
// updateprograms copies programs from it.
package uwdir

import (
	"context"
	"fmt"
	"net"
	"slices"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// Person is what the directory says about a user id.
type Person struct {
	UID, Name, Program string
}

// Dir is an anonymous connection to the directory.
type Dir struct {
	conn *ldap.Conn
	base string
}

// Dial connects to url (no bind: anonymous reads) and searches under base;
// every request is bounded by timeout.
func Dial(ctx context.Context, url, base string, timeout time.Duration) (*Dir, error) {
	d := &net.Dialer{Timeout: timeout}
	type res struct {
		c   *ldap.Conn
		err error
	}
	ch := make(chan res, 1)
	go func() {
		c, err := ldap.DialURL(url, ldap.DialWithDialer(d))
		ch <- res{c, err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			return nil, fmt.Errorf("cannot reach the university directory %s: %w", url, r.err)
		}
		r.c.SetTimeout(timeout)
		return &Dir{conn: r.c, base: base}, nil
	case <-ctx.Done():
		go func() { // the dial may still finish: close what it opens
			if r := <-ch; r.c != nil {
				r.c.Close()
			}
		}()
		return nil, ctx.Err()
	}
}

// Close ends the connection.
func (d *Dir) Close() error { return d.conn.Close() }

// Lookup returns the person with user id uid; ok is false if there is none.
func (d *Dir) Lookup(uid string) (p Person, ok bool, err error) {
	es, err := d.search("(uid="+ldap.EscapeFilter(uid)+")", 1)
	if err != nil {
		return Person{}, false, fmt.Errorf("looking up %s in the university directory: %w", uid, err)
	}
	if len(es) == 0 {
		return Person{}, false, nil
	}
	e := es[0]
	return Person{UID: e.GetAttributeValue("uid"), Name: e.GetAttributeValue("cn"), Program: e.GetAttributeValue("ou")}, true, nil
}

// Complete returns up to limit user ids starting with prefix, sorted; an
// empty prefix matches nothing.
func (d *Dir) Complete(prefix string, limit int) ([]string, error) {
	if prefix == "" || limit < 1 {
		return nil, nil
	}
	es, err := d.search("(uid="+ldap.EscapeFilter(prefix)+"*)", limit)
	if err != nil {
		return nil, fmt.Errorf("completing %s in the university directory: %w", prefix, err)
	}
	var uids []string
	for _, e := range es {
		if uid := e.GetAttributeValue("uid"); uid != "" {
			uids = append(uids, uid)
		}
	}
	slices.Sort(uids)
	return slices.Compact(uids), nil
}

// search returns at most limit entries (a size limit is not an error).
func (d *Dir) search(filter string, limit int) ([]*ldap.Entry, error) {
	res, err := d.conn.Search(ldap.NewSearchRequest(d.base, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases,
		limit, 0, false, filter, []string{"uid", "cn", "ou"}, nil))
	switch {
	case ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject):
		return nil, nil
	case err != nil && !ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded):
		return nil, err
	case res == nil:
		return nil, nil
	}
	return res.Entries, nil
}
