package kadmin

import (
	"context"
	"strings"
)

// RequireChange makes name@Realm change its password at next login
// (modprinc +needchange).
func (c *Client) RequireChange(ctx context.Context, name string) error {
	full := c.full(name)
	out, err := c.run(ctx, "modprinc", name, "modprinc +needchange "+name)
	if err != nil {
		return err
	}
	if !strings.Contains(out, `Principal "`+full+`" modified.`) {
		return &Error{Query: "modprinc", Name: full, Output: "no confirmation in kadmin's output"}
	}
	return nil
}
