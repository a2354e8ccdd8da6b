package member_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"testing"

	"github.com/go-ldap/ldap/v3"
	"google.golang.org/protobuf/proto"

	"github.com/csclub/ceo/internal/opstest"
	"github.com/csclub/ceo/internal/realm"
	"github.com/csclub/ceo/ops"
	"github.com/csclub/ceo/ops/acl"
	"github.com/csclub/ceo/ops/directory"
	"github.com/csclub/ceo/ops/member"
	"github.com/csclub/ceo/wire/ceopb"
)

func TestMain(m *testing.M) { os.Exit(realm.Main(m)) }

// failing writes through W but refuses the modify numbered failAt (from 1).
type failing struct {
	member.Writer
	n, failAt int
}

func (f *failing) Modify(ctx context.Context, req *ldap.ModifyRequest) error {
	f.n++
	if f.n == f.failAt {
		return &ldap.Error{ResultCode: ldap.LDAPResultUnwillingToPerform, Err: errors.New("test refusal")}
	}
	return f.Writer.Modify(ctx, req)
}

func (f *failing) For(context.Context, ops.Caller) (member.Writer, error) { return f, nil }

// A group change whose third directory write fails (the cascade's second
// group) leaves every group as it was: the first two are undone.
func TestGroupChangeUndoneOnFailure(t *testing.T) {
	r := realm.Get(t)
	w, err := directory.New(directory.Config{URL: r.LDAPURL, UsersBase: r.UsersBase, GroupsBase: r.GroupsBase, SudoBase: r.SudoBase,
		Bind: func(c *ldap.Conn) error { return c.Bind(r.LDAPRootDN, r.LDAPRootPassword) }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	name := opstest.UniqueName("undo")
	opstest.AddAccount(t, r, opstest.Account{Name: name, UID: opstest.UniqueUID()})
	groups := []string{"office", "cdrom", "audio", "video", "www"}
	conn := r.LDAPRootConn(t)
	for i, g := range groups[1:] {
		add := ldap.NewAddRequest(r.GroupDN(g), nil)
		add.Attribute("objectClass", []string{"top", "group", "posixGroup"})
		add.Attribute("cn", []string{g})
		add.Attribute("gidNumber", []string{fmt.Sprint(19900 + i)})
		if err := conn.Add(add); err != nil && !ldap.IsErrorWithCode(err, ldap.LDAPResultEntryAlreadyExists) {
			t.Fatal(err)
		}
	}
	in := func() []string {
		var out []string
		for _, g := range groups {
			if e := r.LDAPEntry(t, r.GroupDN(g)); slices.Contains(e.GetAttributeValues("memberUid"), name) {
				out = append(out, g)
			}
		}
		return out
	}
	a, err := acl.ParseDefault()
	if err != nil {
		t.Fatal(err)
	}
	f := &failing{Writer: w, failAt: 3}
	h, err := member.New(member.Deps{Dir: w, ACL: a, Writers: f, Realm: r.Name})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := proto.Marshal(&ceopb.GroupChange{Action: ceopb.GroupChange_ADD.Enum(), Group: proto.String("office"), Usernames: []string{name}})
	rep, err := h["group"].Serve(t.Context(), ops.Request{Caller: ops.CallerOf("syscom1@" + r.Name), Body: body})
	if err != nil {
		t.Fatal(err)
	}
	var out ceopb.MemberResponse
	if err := proto.Unmarshal(rep.Body, &out); err != nil {
		t.Fatal(err)
	}
	if len(out.GetMessages()) != 1 || out.GetMessages()[0].GetStatus() != ops.ELDAP || rep.Outcome != ops.OutcomeError {
		t.Fatalf("reply %v, outcome %s; want one ELDAP line", out.GetMessages(), rep.Outcome)
	}
	// Three writes (the third refused), then the two applied undone.
	if f.n != 5 {
		t.Fatalf("%d modifies, want 5", f.n)
	}
	if got := in(); len(got) != 0 {
		t.Errorf("after the failure %s is still in %v", name, got)
	}
	// Without the failure the same request adds to all five.
	f.n, f.failAt = 0, 0
	if _, err := h["group"].Serve(t.Context(), ops.Request{Caller: ops.CallerOf("syscom1@" + r.Name), Body: body}); err != nil {
		t.Fatal(err)
	}
	if got := in(); !slices.Equal(got, groups) {
		t.Errorf("in %v, want %v", got, groups)
	}
}
