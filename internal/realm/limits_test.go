package realm

import (
	"os"
	"strings"
	"testing"
)

// TestLimitsDocumented: the slapd limits the realm runs with are the
// ones the shipped docs tell a club to configure.
func TestLimitsDocumented(t *testing.T) {
	for _, doc := range []string{"../../README.md", "../../debian/ceo-daemon.README.Debian"} {
		b, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(SlapdLimits, "\n") {
			if !strings.Contains(string(b), line) {
				t.Errorf("%s does not give the slapd line %q", doc, line)
			}
		}
	}
}

// TestStrictACLDocumented: the install guide's slapd ACL for a front end
// without write rights is the one the front end's tests run against
// (strict mode), with the guide's DNs.
func TestStrictACLDocumented(t *testing.T) {
	b, err := os.ReadFile("../../debian/ceo-daemon.README.Debian")
	if err != nil {
		t.Fatal(err)
	}
	const base = "dc=csclub,dc=uwaterloo,dc=ca"
	r := &Realm{UsersBase: "ou=People," + base, GroupsBase: "ou=Group," + base, StrictLDAP: true}
	acl := r.acl(r.UserDN("ceod/admin"), `group/group/uniqueMember="`+r.GroupDN("syscom")+`"`, "")
	var doc []string
	for _, l := range strings.Split(string(b), "\n") {
		doc = append(doc, strings.TrimSpace(l))
	}
	guide := strings.Join(doc, "\n")
	for _, l := range strings.Split(acl, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") && !strings.Contains(guide, l) {
			t.Errorf("the install guide does not give the strict ACL line %q", l)
		}
	}
	// The lines in order, as one block.
	var want []string
	for _, l := range strings.Split(acl, "\n")[1:] {
		want = append(want, strings.TrimSpace(l))
	}
	if !strings.Contains(guide, strings.Join(want, "\n")) {
		t.Errorf("the install guide's strict ACL differs from the realm's:\n%s", acl)
	}
}
