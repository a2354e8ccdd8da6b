package members

import (
	"context"
	"slices"

	"github.com/go-ldap/ldap/v3"
)

// CompleteUsers returns up to limit user names starting with prefix,
// sorted: Tab completion in the front end's Username fields. An empty
// prefix matches nothing (it would list the whole directory).
func (d *Directory) CompleteUsers(ctx context.Context, prefix string, limit int) ([]string, error) {
	if prefix == "" || limit < 1 {
		return nil, nil
	}
	var res *ldap.SearchResult
	err := d.do(ctx, func(c *ldap.Conn) error {
		var err error
		res, err = c.Search(ldap.NewSearchRequest(d.usersBase, ldap.ScopeSingleLevel, ldap.NeverDerefAliases,
			limit, 0, false, "(uid="+ldap.EscapeFilter(prefix)+"*)", []string{"uid"}, nil))
		if ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded) {
			err = nil // res holds the first limit entries
		}
		return err
	})
	if err != nil {
		if ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
			return nil, nil
		}
		return nil, plain(err)
	}
	var uids []string
	for _, e := range res.Entries {
		if uid := e.GetAttributeValue("uid"); uid != "" {
			uids = append(uids, uid)
		}
	}
	slices.Sort(uids)
	return slices.Compact(uids), nil
}
