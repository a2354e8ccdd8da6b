package directory

import (
	"strings"

	"github.com/go-ldap/ldap/v3"
)

// UserDN is the DN of the user called name.
func (c *Client) UserDN(name string) string {
	return "uid=" + ldap.EscapeDN(name) + "," + c.cfg.UsersBase
}

// GroupDN is the DN of the group called name.
func (c *Client) GroupDN(name string) string {
	return "cn=" + ldap.EscapeDN(name) + "," + c.cfg.GroupsBase
}

// SudoRoleDN is the DN of the sudo role called cn (e.g. "%club").
func (c *Client) SudoRoleDN(cn string) string {
	return "cn=" + ldap.EscapeDN(cn) + "," + c.cfg.SudoBase
}

// The object classes of the club's entries, as the legacy adduser writes
// them. Filters and new entries use these names.
const (
	ClassMember   = "member"       // members and club reps
	ClassClub     = "club"         // club accounts
	ClassAccount  = "posixAccount" // every account
	ClassGroup    = "posixGroup"
	ClassSudoRole = "sudoRole"
)

// userClasses are the object classes of a new account.
func userClasses(club bool) []string {
	kind := ClassMember
	if club {
		kind = ClassClub
	}
	return []string{"top", "account", ClassAccount, "shadowAccount", kind}
}

// groupClasses are the object classes of a new group.
func groupClasses() []string { return []string{"top", "group", ClassGroup} }

// UserAttrs are the attributes of an account that User holds.
func UserAttrs() []string {
	return []string{"uid", "cn", "uidNumber", "gidNumber", "homeDirectory", "loginShell", "program",
		"objectClass", "term", "nonMemberTerm", "position"}
}

// GroupAttrs are the attributes of a group that Group holds.
func GroupAttrs() []string { return []string{"cn", "gidNumber", "memberUid", "uniqueMember"} }

// UIDOfDN returns NAME of a DN uid=NAME,..., or "".
func UIDOfDN(dn string) string {
	p, err := ldap.ParseDN(dn)
	if err != nil || len(p.RDNs) == 0 {
		return ""
	}
	for _, a := range p.RDNs[0].Attributes {
		if strings.EqualFold(a.Type, "uid") {
			return a.Value
		}
	}
	return ""
}
