package member_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/go-ldap/ldap/v3"
	"google.golang.org/protobuf/proto"

	"github.com/csclub/ceo/internal/opstest"
	"github.com/csclub/ceo/internal/realm"
	"github.com/csclub/ceo/ops"
	"github.com/csclub/ceo/ops/directory"
	"github.com/csclub/ceo/ops/journal"
	"github.com/csclub/ceo/ops/kadmin"
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

// asSyscom sends req to the op h as syscom1 and returns the reply's
// messages and the outcome.
func asSyscom(t *testing.T, r *realm.Realm, h ops.Handler, req proto.Message) ([]*ceopb.StatusMessage, ops.Outcome) {
	t.Helper()
	body, err := proto.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := h.Serve(t.Context(), ops.Request{Caller: ops.CallerOf("syscom1@" + r.Name), Body: body})
	if err != nil {
		t.Fatal(err)
	}
	var out ceopb.MemberResponse
	if err := proto.Unmarshal(rep.Body, &out); err != nil {
		t.Fatal(err)
	}
	return out.GetMessages(), rep.Outcome
}

// rootClient is a directory client bound as the realm's rootdn.
func rootClient(t *testing.T, r *realm.Realm) *directory.Client {
	t.Helper()
	w, err := directory.New(directory.Config{URL: r.LDAPURL, UsersBase: r.UsersBase, GroupsBase: r.GroupsBase, SudoBase: r.SudoBase,
		Bind: func(c *ldap.Conn) error { return c.Bind(r.LDAPRootDN, r.LDAPRootPassword) }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return w
}

// A group change whose third directory write fails (the cascade's second
// group) leaves every group as it was: the first two are undone.
func TestGroupChangeUndoneOnFailure(t *testing.T) {
	r := realm.Get(t)
	w := rootClient(t, r)
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
	f := &failing{Writer: w, failAt: 3}
	h, err := member.New(member.Deps{Dir: w, ACL: opstest.DefaultACL(t), Writers: f, Realm: r.Name})
	if err != nil {
		t.Fatal(err)
	}
	add := &ceopb.GroupChange{Action: ceopb.GroupChange_ADD.Enum(), Group: proto.String("office"), Usernames: []string{name}}
	msgs, outcome := asSyscom(t, r, h["group"], add)
	if len(msgs) != 1 || msgs[0].GetStatus() != ops.ELDAP || outcome != ops.OutcomeError {
		t.Fatalf("reply %v, outcome %s; want one ELDAP line", msgs, outcome)
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
	asSyscom(t, r, h["group"], add)
	if got := in(); !slices.Equal(got, groups) {
		t.Errorf("in %v, want %v", got, groups)
	}
}

// flakyKadmin fails the first fail deletions of principals.
type flakyKadmin struct {
	member.Kadmin
	fail int
}

func (k *flakyKadmin) DeletePrincipal(ctx context.Context, name string) error {
	if k.fail > 0 {
		k.fail--
		return errors.New("kadmind unreachable (test)")
	}
	return k.Kadmin.DeletePrincipal(ctx, name)
}

// A deluser whose principal step fails is not undone but left in the
// journal, its entries gone, and recovery completes it: principal and
// home gone, journal empty.
func TestDeluserCompletedByRecovery(t *testing.T) {
	r := realm.Get(t)
	w := rootClient(t, r)
	name := opstest.UniqueName("del")
	root := filepath.Join(r.HomeRoot, "members")
	home := filepath.Join(root, name)
	if err := os.MkdirAll(filepath.Join(home, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	opstest.AddAccount(t, r, opstest.Account{Name: name, UID: opstest.UniqueUID(), Home: home})
	kadm := &kadmin.Client{Principal: r.AdminPrincipal, Keytab: r.AdminKeytab, Realm: r.Name, KRB5Config: r.KRB5Config}
	if err := kadm.AddPrincipal(t.Context(), name, "pw-"+name); err != nil {
		t.Fatal(err)
	}
	j, err := journal.Open(filepath.Join(t.TempDir(), "journal.db"), journal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	rc := &journal.Recoverer{J: j}
	h, err := member.New(member.Deps{Dir: w, ACL: opstest.DefaultACL(t), Kadmin: &flakyKadmin{Kadmin: kadm, fail: 1}, Realm: r.Name,
		HomeRoots: []string{root}, Journal: j, Recoverer: rc})
	if err != nil {
		t.Fatal(err)
	}
	msgs, outcome := asSyscom(t, r, h["deluser"], &ceopb.DeleteUser{Username: proto.String(name), RemoveHome: proto.Bool(true)})
	if outcome != ops.OutcomeError || len(msgs) != 2 || msgs[0].GetStatus() != ops.EKERB || !strings.Contains(msgs[1].GetMessage(), "ceod completes it") {
		t.Fatalf("reply %v, outcome %s; want EKERB and the journal's promise", msgs, outcome)
	}
	if r.LDAPEntry(t, r.UserDN(name)) != nil || r.LDAPEntry(t, r.GroupDN(name)) != nil {
		t.Error("the entries deleted before the failure are back")
	}
	if !r.HasPrincipal(t, name) {
		t.Fatal("the principal is gone before recovery")
	}
	recs, err := j.Unfinished(false)
	if err != nil || len(recs) != 1 || recs[0].Step("principal").State != journal.Begun {
		t.Fatalf("journal %v %v; want the request with its principal step begun", recs, err)
	}

	if left, err := rc.Pass(t.Context()); err != nil || left != 0 {
		t.Fatalf("recovery: %d left, %v", left, err)
	}
	if r.HasPrincipal(t, name) {
		t.Error("recovery left the principal")
	}
	if _, err := os.Lstat(home); !os.IsNotExist(err) {
		t.Errorf("recovery left the home: %v", err)
	}
	if recs, _ := j.Unfinished(true); len(recs) != 0 {
		t.Errorf("journal still holds %v", recs)
	}
}
