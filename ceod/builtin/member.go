package builtin

import (
	"fmt"
	"path/filepath"

	ceodconfig "github.com/csclub/ceo/ceod/config"
	"github.com/csclub/ceo/ops"
	"github.com/csclub/ceo/ops/acl"
	"github.com/csclub/ceo/ops/config"
	"github.com/csclub/ceo/ops/directory"
	"github.com/csclub/ceo/ops/groups"
	"github.com/csclub/ceo/ops/member"
)

// memberOp is the maker of one member op (see member.Ops).
func memberOp(op string) func(b *builder, acc *config.Accounts, dir *directory.Client) (ops.Handler, error) {
	return func(b *builder, acc *config.Accounts, dir *directory.Client) (ops.Handler, error) {
		return b.member(op, acc, dir)
	}
}

// ACLPath is where the built-in ops read the ACL file: ceod.acl in the
// configuration directory.
func ACLPath(configDir string) string { return filepath.Join(configDir, acl.File) }

// LoadACL loads configDir's ceod.acl and refuses it if it has no rule
// for one of ops, the built-in ops a host serves: ceod -check (package
// check) and every start of ceod call it.
func LoadACL(configDir string, ops []string) (*acl.ACL, error) {
	path := ACLPath(configDir)
	a, err := acl.Load(path)
	if err != nil {
		return nil, err
	}
	if err := a.Require(path, ops...); err != nil {
		return nil, err
	}
	return a, nil
}

// acl loads ceod.acl once, for every built-in op but ping.
func (b *builder) acl() (*acl.ACL, error) {
	if b.rules == nil {
		a, err := LoadACL(b.env.ConfigDir, b.governed)
		if err != nil {
			return nil, err
		}
		b.rules = a
	}
	return b.rules, nil
}

// member builds the member ops once, sharing the ACL and kadmin client.
func (b *builder) member(op string, acc *config.Accounts, dir *directory.Client) (ops.Handler, error) {
	if b.members == nil {
		a, err := b.acl()
		if err != nil {
			return nil, err
		}
		// The cascades are configured where legacy's front end kept
		// them (group_cascade_GROUP in ceo.cf): the group op applies them now.
		casc, err := groups.Load(filepath.Join(b.env.ConfigDir, groups.File))
		if err != nil {
			return nil, err
		}
		d := member.Deps{Dir: dir, ACL: a, Realm: acc.KRB5Realm, ShellsFile: acc.ShellsFile, Cascades: casc,
			HomeRoots: []string{acc.MemberHome, acc.ClubHome}, Log: b.env.Log,
			Journal: b.journal, Recoverer: b.set.Recoverer}
		if b.env.Ceod != nil && b.env.Ceod.LDAPWrites == ceodconfig.LDAPWritesDelegated {
			spn, err := directory.ServicePrincipal(acc.LDAPServerURL)
			if err != nil {
				return nil, err
			}
			d.Writers = member.Delegated{Dir: dir, KRB5Config: b.env.KRB5Config, SPN: spn}
		}
		if acc.AdminKeytab != "" {
			d.Kadmin = b.kadmin(acc)
		}
		if b.members, err = member.New(d); err != nil {
			return nil, err
		}
	}
	h, ok := b.members[op]
	if !ok {
		return nil, fmt.Errorf("%s needs admin_keytab in ceod.cf (kadmin)", op)
	}
	return h, nil
}
