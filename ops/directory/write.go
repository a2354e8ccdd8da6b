package directory

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/go-ldap/ldap/v3"
)

// add adds an entry, mapping "already exists" to ErrExists.
func (c *Client) add(ctx context.Context, req *ldap.AddRequest) error {
	err := c.do(ctx, false, func(conn *ldap.Conn) error { return conn.Add(req) })
	switch {
	case err == nil:
		return nil
	case ldap.IsErrorWithCode(err, ldap.LDAPResultEntryAlreadyExists):
		return fmt.Errorf("directory: adding %s: %w (%w)", req.DN, ErrExists, err)
	default:
		return fmt.Errorf("directory: adding %s: %w", req.DN, err)
	}
}

// Modify applies req. It is never retried: a modify whose reply was
// lost may have been applied.
func (c *Client) Modify(ctx context.Context, req *ldap.ModifyRequest) error {
	if err := c.do(ctx, false, func(conn *ldap.Conn) error { return conn.Modify(req) }); err != nil {
		return fmt.Errorf("directory: modifying %s: %w", req.DN, err)
	}
	return nil
}

// Delete removes the entry dn (it must have no children), mapping "no
// such object" to ErrNotFound.
func (c *Client) Delete(ctx context.Context, dn string) error {
	err := c.do(ctx, false, func(conn *ldap.Conn) error { return conn.Del(ldap.NewDelRequest(dn, nil)) })
	switch {
	case err == nil:
		return nil
	case ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject):
		return fmt.Errorf("directory: deleting %s: %w (%w)", dn, ErrNotFound, err)
	default:
		return fmt.Errorf("directory: deleting %s: %w", dn, err)
	}
}

// deleteIf deletes dn if its attr equals id. Once the entry is known to
// carry id nobody else can create that DN, so compare-then-delete is safe.
func (c *Client) deleteIf(ctx context.Context, dn, attr string, id int) error {
	var same bool
	err := c.do(ctx, true, func(conn *ldap.Conn) error {
		var err error
		same, err = conn.Compare(dn, attr, strconv.Itoa(id))
		return err
	})
	switch {
	case ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject):
		return fmt.Errorf("directory: deleting %s: %w (%w)", dn, ErrNotFound, err)
	case err != nil:
		return fmt.Errorf("directory: comparing %s of %s: %w", attr, dn, err)
	case !same:
		return fmt.Errorf("directory: deleting %s: %w (its %s is not %d)", dn, ErrNotFound, attr, id)
	}
	return c.Delete(ctx, dn)
}

// IsRefusal reports whether err carries the server's answer refusing a
// request (an LDAP result code), which means the request changed nothing.
// Other errors (connection lost, cancelled) leave it unknown whether a
// write was applied.
func IsRefusal(err error) bool {
	var le *ldap.Error
	// Codes from 200 up are go-ldap's own (network, decoding...), not
	// the server's.
	return errors.As(err, &le) && le.ResultCode != 0 && le.ResultCode < 200
}
