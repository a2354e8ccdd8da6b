package directory

import (
	"context"

	"github.com/go-ldap/ldap/v3"
)

// SudoRoleExists reports whether the sudo role cn exists.
func (c *Client) SudoRoleExists(ctx context.Context, cn string) (bool, error) {
	return c.exists(ctx, "sudo role "+cn, subtree(c.cfg.SudoBase, "(cn="+ldap.EscapeFilter(cn)+")"))
}

// SudoRole is a sudoRole entry under the sudo base.
type SudoRole struct {
	CN         string // e.g. "%club"
	Users      []string
	Hosts      []string
	Commands   []string
	Options    []string
	RunAsUsers []string
}

// ClubSudoRole is the role the legacy adduser gives a club: members of
// the club's group may run anything as the club without a password.
func ClubSudoRole(club string) *SudoRole {
	return &SudoRole{
		CN:         "%" + club,
		Users:      []string{"%" + club},
		Hosts:      []string{"ALL"},
		Commands:   []string{"ALL"},
		Options:    []string{"!authenticate"},
		RunAsUsers: []string{club},
	}
}

// AddSudoRole adds r under the sudo base.
func (c *Client) AddSudoRole(ctx context.Context, r *SudoRole) error {
	req := ldap.NewAddRequest(c.SudoRoleDN(r.CN), nil)
	req.Attribute("objectClass", []string{"top", "sudoRole"})
	req.Attribute("cn", []string{r.CN})
	for _, a := range []struct {
		name string
		vals []string
	}{{"sudoUser", r.Users}, {"sudoHost", r.Hosts}, {"sudoCommand", r.Commands}, {"sudoOption", r.Options}, {"sudoRunAsUser", r.RunAsUsers}} {
		if len(a.vals) > 0 {
			req.Attribute(a.name, a.vals)
		}
	}
	return c.add(ctx, req)
}

// DeleteSudoRole removes the sudo role cn.
func (c *Client) DeleteSudoRole(ctx context.Context, cn string) error {
	return c.Delete(ctx, c.SudoRoleDN(cn))
}
