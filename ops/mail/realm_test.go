package mail

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/csclub/ceo/ceoc"
	"github.com/csclub/ceo/ceod/server"
	"github.com/csclub/ceo/internal/ceodtest"
	"github.com/csclub/ceo/internal/opstest"
	"github.com/csclub/ceo/internal/realm"
	"github.com/csclub/ceo/wire"
	"github.com/csclub/ceo/wire/ceopb"
)

func TestMain(m *testing.M) { os.Exit(realm.Main(m)) }

// realmEnv is the mail op on the realm's directory (ops/directory over
// slapd), with the seeded users' homes made under the realm's home root.
type realmEnv struct {
	r    *realm.Realm
	ceod *ceodtest.Ceod
}

func newRealmEnv(t *testing.T) *realmEnv {
	t.Helper()
	needRoot(t)
	r := realm.Get(t)
	for _, name := range []string{"office1", "syscom1", "regular1"} {
		u := r.Users[name]
		home := filepath.Join(r.HomeRoot, name)
		mkdirOwned(t, home, u.UID)
		os.Remove(filepath.Join(home, ".forward"))
	}
	h, err := New(Deps{Dir: opstest.RealmDirectory(t, r), ACL: opstest.DefaultACL(t), Resolver: ResolverAt(fmt.Sprintf("127.0.0.1:%d", r.DNSPort))})
	if err != nil {
		t.Fatal(err)
	}
	c := ceodtest.Serve(t, r, map[wire.MsgType]server.Op{0x02: ceodtest.Op("mail", h)})
	return &realmEnv{r: r, ceod: c}
}

// callCeod sends UpdateMail through ceoc -> ceod as caller.
func (e *realmEnv) callCeod(t *testing.T, caller, user string, forward *string) []msg {
	t.Helper()
	out, err := e.ceod.Call(t, caller, "mail", request(user, forward))
	if err != nil {
		t.Fatalf("ceoc mail: %v\nceod log:\n%s", err, e.ceod.Log)
	}
	var resp ceopb.UpdateMailResponse
	if err := proto.Unmarshal(out, &resp); err != nil {
		t.Fatalf("reply does not decode: %v", err)
	}
	var msgs []msg
	for _, m := range resp.GetMessages() {
		msgs = append(msgs, msg{m.GetStatus(), m.GetMessage()})
	}
	return msgs
}

// TestThroughCeod: ceoc (library, kinit ticket) -> in-process ceod
// (GSS-API, sealed frames) -> mail handler -> ops/directory (slapd) ->
// the file system.
func TestThroughCeod(t *testing.T) {
	e := newRealmEnv(t)
	r := e.r
	regularHome := filepath.Join(r.HomeRoot, "regular1")
	syscomHome := filepath.Join(r.HomeRoot, "syscom1")

	t.Run("self", func(t *testing.T) {
		got := e.callCeod(t, "regular1", "regular1", proto.String("r1@example.com"))
		wantMsgs(t, got, updatedForward("regular1")...)
		checkForward(t, filepath.Join(regularHome, ".forward"), "r1@example.com\n", r.Users["regular1"].UID)
		// It went through ceod: the op is in its audit log.
		if !e.ceod.Log.WaitLine("event=op outcome=ok", "principal=regular1@"+r.Name+" op=mail") {
			t.Errorf("no audit record of the op:\n%s", e.ceod.Log)
		}
	})
	t.Run("office for a member", func(t *testing.T) {
		got := e.callCeod(t, "office1", "regular1", proto.String("via-office@example.com"))
		wantMsgs(t, got, updatedForward("regular1")...)
		checkForward(t, filepath.Join(regularHome, ".forward"), "via-office@example.com\n", r.Users["regular1"].UID)
	})
	t.Run("clear", func(t *testing.T) {
		got := e.callCeod(t, "regular1", "regular1", proto.String(""))
		wantMsgs(t, got, clearedForward("regular1")...)
		if _, err := os.Lstat(filepath.Join(regularHome, ".forward")); !os.IsNotExist(err) {
			t.Errorf(".forward still there: %v", err)
		}
	})
	t.Run("refusals", func(t *testing.T) {
		if err := os.WriteFile(filepath.Join(syscomHome, ".forward"), []byte("keep@example.com\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		before := snapshot(t, r.HomeRoot)
		wantFailure(t, e.callCeod(t, "regular1", "syscom1", proto.String("evil@example.com")),
			syscall.EPERM, "regular1 may not mail syscom1: no rule of mail in ceod.acl allows it (default deny)")
		wantFailure(t, e.callCeod(t, "office1", "syscom1", proto.String("evil@example.com")),
			syscall.EPERM, "denied by "+opstest.Rule(t, "mail group:office")+": syscom1 is in group syscom")
		wantFailure(t, e.callCeod(t, "regular1", "regular1", proto.String("|/bin/sh -c evil")),
			syscall.EINVAL, "invalid character in forward: |")
		wantFailure(t, e.callCeod(t, "syscom1", "nosuchuser", proto.String("a@example.com")),
			syscall.ENOENT, "no such user")
		// The realm's DNS answers NXDOMAIN for it: legacy's "Invalid host".
		wantFailure(t, e.callCeod(t, "regular1", "regular1", proto.String("alice@nonexistent-host.invalid")),
			syscall.EINVAL, "Invalid host: nonexistent-host.invalid")
		if after := snapshot(t, r.HomeRoot); after != before {
			t.Errorf("refusals changed homes:\n%s\n---\n%s", before, after)
		}
	})
	t.Run("syscom for syscom", func(t *testing.T) {
		got := e.callCeod(t, "syscom1", "syscom1", proto.String("root@example.com"))
		wantMsgs(t, got, updatedForward("syscom1")...)
		checkForward(t, filepath.Join(syscomHome, ".forward"), "root@example.com\n", r.Users["syscom1"].UID)
	})
	t.Run("symlink attacks", func(t *testing.T) {
		outside := t.TempDir()
		secret := filepath.Join(outside, "passwd")
		if err := os.WriteFile(secret, []byte("root:x:0:0::/root:/bin/sh\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		outsideBefore := snapshot(t, outside)

		// ~regular1/.forward -> the outside file.
		fwd := filepath.Join(regularHome, ".forward")
		os.Remove(fwd)
		if err := os.Symlink(secret, fwd); err != nil {
			t.Fatal(err)
		}
		e.callCeod(t, "regular1", "regular1", proto.String("pwned@example.com"))
		checkForward(t, fwd, "pwned@example.com\n", r.Users["regular1"].UID)

		// An account whose LDAP home is a link to the outside directory.
		name := opstest.UniqueName("lnk")
		uid := opstest.UniqueUID()
		os.Chown(outside, uid, uid)
		outsideBefore = snapshot(t, outside)
		linkHome := filepath.Join(r.HomeRoot, name)
		if err := os.Symlink(outside, linkHome); err != nil {
			t.Fatal(err)
		}
		opstest.AddAccount(t, r, opstest.Account{Name: name, UID: uid, Home: linkHome})
		wantFailure(t, e.callCeod(t, "office1", name, proto.String("a@example.com")), syscall.ELOOP, "symbolic link")
		wantFailure(t, e.callCeod(t, "office1", name, proto.String("")), syscall.ELOOP, "symbolic link")

		// .forward is a directory.
		os.Remove(fwd)
		if err := os.Mkdir(fwd, 0o755); err != nil {
			t.Fatal(err)
		}
		wantFailure(t, e.callCeod(t, "regular1", "regular1", proto.String("a@example.com")), syscall.EISDIR, ".forward")
		if st, err := os.Lstat(fwd); err != nil || !st.IsDir() {
			t.Errorf(".forward directory changed: %v", err)
		}
		os.Remove(fwd)

		if after := snapshot(t, outside); after != outsideBefore {
			t.Errorf("outside changed:\n%s\n---\n%s", outsideBefore, after)
		}
	})
	t.Run("malformed request ends the connection", func(t *testing.T) {
		_, err := e.ceod.Call(t, "regular1", "mail", []byte{0xff, 0xff})
		if err == nil || !isRefused(err) {
			t.Errorf("malformed request: %v, want ceoc.ErrRefused", err)
		}
	})
}

func isRefused(err error) bool {
	return err != nil && errors.Is(err, ceoc.ErrRefused)
}
