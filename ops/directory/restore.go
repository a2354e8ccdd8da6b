package directory

import (
	"context"

	"github.com/go-ldap/ldap/v3"
)

// Restore adds e back as it was read (every attribute read with "*"),
// to undo a delete.
func (c *Client) Restore(ctx context.Context, e *ldap.Entry) error {
	req := ldap.NewAddRequest(e.DN, nil)
	for _, a := range e.Attributes {
		req.Attribute(a.Name, a.Values)
	}
	return c.add(ctx, req)
}
