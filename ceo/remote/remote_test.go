package remote

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/csclub/ceo/wire/ceopb"
)

// fakeCaller records the request and answers with a fixed reply.
type fakeCaller struct {
	op    string
	req   []byte
	reply proto.Message
	err   error
}

func (f *fakeCaller) Call(_ context.Context, op string, req []byte) ([]byte, error) {
	f.op, f.req = op, req
	if f.err != nil {
		return nil, f.err
	}
	return proto.Marshal(f.reply)
}

func ok(msg string) *ceopb.StatusMessage {
	return &ceopb.StatusMessage{Status: proto.Int32(0), Message: proto.String(msg)}
}

func TestAddUser(t *testing.T) {
	f := &fakeCaller{reply: &ceopb.AddUserResponse{Messages: []*ceopb.StatusMessage{ok("successfully created ldap account")}}}
	c := New(f)
	st, err := c.AddUser(t.Context(), NewAccount{Kind: Member, Username: "alice", Password: "pw", Name: "Alice", Program: "Math", Email: "a@b.c"})
	if err != nil {
		t.Fatal(err)
	}
	if len(st) != 1 || st[0].Message != "successfully created ldap account" {
		t.Fatalf("statuses %+v", st)
	}
	var req ceopb.AddUser
	if err := proto.Unmarshal(f.req, &req); err != nil {
		t.Fatal(err)
	}
	if f.op != "adduser" || req.GetType() != ceopb.AddUser_MEMBER || req.GetUsername() != "alice" || req.GetPassword() != "pw" ||
		req.GetRealname() != "Alice" || req.GetProgram() != "Math" || req.GetEmail() != "a@b.c" {
		t.Fatalf("request %s %v", f.op, &req)
	}

	_, err = c.AddUser(t.Context(), NewAccount{Kind: Club, Username: "club", Name: "Club"})
	if err != nil {
		t.Fatal(err)
	}
	req.Reset()
	proto.Unmarshal(f.req, &req)
	if req.GetType() != ceopb.AddUser_CLUB || req.Password != nil || req.Program != nil {
		t.Fatalf("club request %v", &req)
	}
	if _, err := c.AddUser(t.Context(), NewAccount{Kind: Club, Username: "c", Password: "x"}); err == nil {
		t.Fatal("a club with a password was sent")
	}
}

func TestOpErrorJoinsMessages(t *testing.T) {
	f := &fakeCaller{reply: &ceopb.AddUserResponse{Messages: []*ceopb.StatusMessage{
		ok("successfully created ldap account"),
		{Status: proto.Int32(-4), Message: proto.String("failed to create home directory")},
	}}}
	_, err := New(f).AddUser(t.Context(), NewAccount{Kind: ClubRep, Username: "bob", Password: "pw", Name: "Bob"})
	var oe *OpError
	if !errors.As(err, &oe) || len(oe.Messages) != 2 || oe.Messages[1].Code != -4 {
		t.Fatalf("error %v", err)
	}
	if !strings.Contains(err.Error(), "successfully created ldap account\nfailed to create home directory") {
		t.Fatalf("message %q", err.Error())
	}
	f.err = errors.New("ceoc: adduser: ceod unreachable")
	if _, err := New(f).AddUser(t.Context(), NewAccount{Kind: Member, Username: "bob", Password: "pw"}); err == nil || !strings.Contains(err.Error(), "unreachable") {
		t.Fatalf("transport error %v", err)
	}
}

func TestCreateDatabase(t *testing.T) {
	f := &fakeCaller{reply: &ceopb.AddMySQLUserResponse{Messages: []*ceopb.StatusMessage{ok("done")}, Password: proto.String("s3cret")}}
	pw, err := New(f).CreateDatabase(t.Context(), MySQL, "alice")
	if err != nil || pw != "s3cret" || f.op != "mysql" {
		t.Fatalf("mysql: %q %v op %s", pw, err, f.op)
	}
	f.reply = &ceopb.AddPostgreSQLUserResponse{Messages: []*ceopb.StatusMessage{{Status: proto.Int32(1), Message: proto.String("permission denied")}}}
	if _, err := New(f).CreateDatabase(t.Context(), PostgreSQL, "bob"); err == nil || !strings.Contains(err.Error(), "permission denied") || f.op != "postgresql" {
		t.Fatalf("postgresql: %v op %s", err, f.op)
	}
	f.reply = &ceopb.AddMySQLUserResponse{}
	if _, err := New(f).CreateDatabase(t.Context(), MySQL, "alice"); err == nil {
		t.Fatal("success without a password accepted")
	}
}

func TestSetForward(t *testing.T) {
	f := &fakeCaller{reply: &ceopb.UpdateMailResponse{Messages: []*ceopb.StatusMessage{ok("ok")}}}
	if err := New(f).SetForward(t.Context(), "alice", "a@b.c"); err != nil {
		t.Fatal(err)
	}
	var req ceopb.UpdateMail
	proto.Unmarshal(f.req, &req)
	if f.op != "mail" || req.GetUsername() != "alice" || req.GetForward() != "a@b.c" {
		t.Fatalf("request %v", &req)
	}
}

func TestWriteInfo(t *testing.T) {
	home := t.TempDir()
	p, err := WriteInfo(home, MySQL, "alice", "first")
	if err != nil {
		t.Fatal(err)
	}
	if p != filepath.Join(home, "ceo-mysql-info") {
		t.Fatalf("path %s", p)
	}
	st, err := os.Stat(p)
	if err != nil || st.Mode().Perm() != 0o660 {
		t.Fatalf("mode %v, %v", st.Mode().Perm(), err)
	}
	if _, err := WriteInfo(home, MySQL, "alice", "second"); err != nil {
		t.Fatal(err)
	}
	cur, _ := os.ReadFile(p)
	old, _ := os.ReadFile(p + ".old")
	if !strings.Contains(string(cur), "Password: second") || !strings.Contains(string(old), "Password: first") {
		t.Fatalf("current:\n%s\nold:\n%s", cur, old)
	}
	if !strings.Contains(string(cur), "mysql alice -u alice -p") {
		t.Fatalf("text:\n%s", cur)
	}
	pg, err := WriteInfo(home, PostgreSQL, "alice", "pgpw")
	if err != nil || filepath.Base(pg) != "ceo-postgresql-info" {
		t.Fatalf("postgresql: %s %v", pg, err)
	}
	// A symlink planted at the file name is moved aside, not followed.
	target := filepath.Join(t.TempDir(), "target")
	os.WriteFile(target, []byte("keep"), 0o644)
	os.Remove(pg)
	os.Remove(pg + ".old")
	os.Symlink(target, pg)
	if _, err := WriteInfo(home, PostgreSQL, "alice", "pgpw2"); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(target); string(b) != "keep" {
		t.Fatalf("symlink target overwritten: %q", b)
	}
	if _, err := WriteInfo("", MySQL, "x", "y"); err == nil {
		t.Fatal("no home accepted")
	}
}

// The info files' text, byte for byte (MySQL's is legacy's).
func TestInfoText(t *testing.T) {
	for _, kind := range []string{MySQL, PostgreSQL} {
		want, err := os.ReadFile(filepath.Join("testdata", kind+".golden"))
		if err != nil {
			t.Fatal(err)
		}
		if got := InfoText(kind, "alice", "s3cret"); got != string(want) {
			t.Errorf("%s:\n%s\nwant:\n%s", kind, got, want)
		}
	}
}
