package mail

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"

	"github.com/csclub/ceo/internal/opstest"
	"github.com/csclub/ceo/internal/testreq"
	"github.com/csclub/ceo/ops"
	"github.com/csclub/ceo/ops/authz"
	"github.com/csclub/ceo/wire/ceopb"
)

const (
	uidRegular1 = 20003
	uidRegular2 = 20004
	uidSyscom1  = 20002
)

type fixture struct {
	base    string // root of everything the test made
	home    string // regular1's home
	outside string // a directory outside any home, with a passwd-like file
	secret  string // outside/passwd
	dir     *opstest.Fake
	h       ops.Handler
}

func needRoot(t *testing.T) {
	t.Helper()
	testreq.Require(t, "root") // chown to the test uids
}

func mkdirOwned(t *testing.T, path string, uid int) {
	t.Helper()
	if err := os.MkdirAll(path, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(path, uid, uid); err != nil {
		t.Fatal(err)
	}
}

func newFixture(t *testing.T) *fixture { t.Helper(); return newFixtureFS(t, forwardFS{}) }

// newFixtureFS is newFixture with the handler writing through fs.
func newFixtureFS(t *testing.T, fs forwardFS) *fixture {
	t.Helper()
	needRoot(t)
	base := t.TempDir()
	f := &fixture{
		base:    base,
		home:    filepath.Join(base, "home", "regular1"),
		outside: filepath.Join(base, "outside"),
	}
	mkdirOwned(t, filepath.Join(base, "home"), 0)
	mkdirOwned(t, f.home, uidRegular1)
	mkdirOwned(t, filepath.Join(base, "home", "syscom1"), uidSyscom1)
	// The attacker may own the outside directory too: only links must
	// stop us, not ownership.
	mkdirOwned(t, f.outside, uidRegular1)
	f.secret = filepath.Join(f.outside, "passwd")
	if err := os.WriteFile(f.secret, []byte("root:x:0:0:root:/root:/bin/bash\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	f.dir = &opstest.Fake{}
	f.dir.AddUser(authz.User{Name: "regular1", UID: uidRegular1, GID: uidRegular1, Home: f.home})
	f.dir.AddUser(authz.User{Name: "regular2", UID: uidRegular2, GID: uidRegular2, Home: filepath.Join(base, "home", "regular2")})
	f.dir.AddUser(authz.User{Name: "syscom1", UID: uidSyscom1, GID: uidSyscom1, Home: filepath.Join(base, "home", "syscom1")})
	f.dir.AddUser(authz.User{Name: "office1", UID: 20001, GID: 20001, Home: filepath.Join(base, "home", "office1")})
	f.dir.AddToGroup("office", "office1")
	f.dir.AddToGroup("syscom", "syscom1")
	var err error
	if f.h, err = New(Deps{Dir: f.dir, ACL: opstest.DefaultACL(t), Resolver: testHosts{}, fs: fs}); err != nil {
		t.Fatal(err)
	}
	return f
}

// testHosts is a stand-in DNS for the unit tests: the example domains
// resolve, flaky.example times out, everything else does not exist.
type testHosts struct{}

func (testHosts) LookupHost(_ context.Context, host string) ([]string, error) {
	switch host {
	case "example.com", "example.org", "b.c":
		return []string{"192.0.2.1"}, nil
	case "flaky.example":
		return nil, &net.DNSError{Err: "i/o timeout", Name: host, IsTimeout: true}
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

func request(user string, forward *string) []byte {
	b, err := proto.Marshal(&ceopb.UpdateMail{Username: proto.String(user), Forward: forward})
	if err != nil {
		panic(err)
	}
	return b
}

type msg struct {
	status  int32
	message string
}

func call(t *testing.T, h ops.Handler, caller string, body []byte) []msg {
	t.Helper()
	out, err := h.Serve(t.Context(), ops.Request{Caller: ops.Caller{User: caller, Principal: caller + "@CSCLUB.INTERNAL"}, Body: body})
	if err != nil {
		t.Fatalf("Serve: %v", err)
	}
	var resp ceopb.UpdateMailResponse
	if err := proto.Unmarshal(out.Body, &resp); err != nil {
		t.Fatalf("reply does not decode: %v", err)
	}
	var msgs []msg
	for _, m := range resp.GetMessages() {
		msgs = append(msgs, msg{m.GetStatus(), m.GetMessage()})
	}
	return msgs
}

// updatedForward and clearedForward are the reply to a request that set
// or cleared user's forward.
func updatedForward(user string) []msg {
	return []msg{{0, "successfully updated forward for " + user}, {0, "finished updating mail for " + user}}
}

func clearedForward(user string) []msg {
	return []msg{{0, "successfully cleared forward for " + user}, {0, "finished updating mail for " + user}}
}

func wantMsgs(t *testing.T, got []msg, want ...msg) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("reply messages:\n got %v\nwant %v", got, want)
	}
}

// wantFailure checks that the reply is one failure with status st whose
// message contains sub.
func wantFailure(t *testing.T, got []msg, st syscall.Errno, sub string) {
	t.Helper()
	if len(got) != 1 || got[0].status != int32(st) || !strings.Contains(got[0].message, sub) {
		t.Errorf("reply %v, want one message with status %d (%v) containing %q", got, int32(st), st, sub)
	}
}

// snapshot records everything observable under root: names, types,
// modes, owners, link counts, contents and link targets.
func snapshot(t *testing.T, root string) string {
	t.Helper()
	var lines []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		var st syscall.Stat_t
		if err := syscall.Lstat(p, &st); err != nil {
			return err
		}
		line := fmt.Sprintf("%s mode=%o uid=%d gid=%d nlink=%d", strings.TrimPrefix(p, root), st.Mode, st.Uid, st.Gid, st.Nlink)
		switch st.Mode & syscall.S_IFMT {
		case syscall.S_IFREG:
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			line += fmt.Sprintf(" content=%q", b)
		case syscall.S_IFLNK:
			l, err := os.Readlink(p)
			if err != nil {
				return err
			}
			line += " -> " + l
		}
		lines = append(lines, line)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// checkForward checks path is a regular file with content, owned by uid,
// mode 0644, and that no temporary file is left beside it.
func checkForward(t *testing.T, path, content string, uid int) {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Lstat(path, &st); err != nil {
		t.Fatalf("lstat %s: %v", path, err)
	}
	if st.Mode&syscall.S_IFMT != syscall.S_IFREG {
		t.Errorf("%s is not a regular file (mode %o)", path, st.Mode)
	}
	if st.Mode&0o7777 != 0o644 {
		t.Errorf("%s mode %o, want 644", path, st.Mode&0o7777)
	}
	if int(st.Uid) != uid || int(st.Gid) != uid {
		t.Errorf("%s owned by %d:%d, want %d:%d", path, st.Uid, st.Gid, uid, uid)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != content {
		t.Errorf("%s holds %q, want %q", path, b, content)
	}
	noTemp(t, filepath.Dir(path))
}

func noTemp(t *testing.T, dir string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".forward.ceod-") {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}
}

// bothModes runs f on a fixture writing with openat2 and on one using
// the O_NOFOLLOW fallback.
func bothModes(t *testing.T, f func(t *testing.T, fx *fixture)) {
	for _, mode := range []struct {
		name string
		fs   forwardFS
	}{{"openat2", forwardFS{}}, {"nofollow", forwardFS{noOpenat2: true}}} {
		t.Run(mode.name, func(t *testing.T) { f(t, newFixtureFS(t, mode.fs)) })
	}
}

func TestSetForwardSelf(t *testing.T) {
	bothModes(t, func(t *testing.T, f *fixture) {
		got := call(t, f.h, "regular1", request("regular1", proto.String("alice@example.com")))
		wantMsgs(t, got, updatedForward("regular1")...)
		checkForward(t, filepath.Join(f.home, ".forward"), "alice@example.com\n", uidRegular1)

		// Replacing an existing forward, whatever its old mode.
		if err := os.Chmod(filepath.Join(f.home, ".forward"), 0o600); err != nil {
			t.Fatal(err)
		}
		call(t, f.h, "regular1", request("regular1", proto.String("bob@example.org")))
		checkForward(t, filepath.Join(f.home, ".forward"), "bob@example.org\n", uidRegular1)
	})
}

func TestSetForwardByOfficeAndSyscom(t *testing.T) {
	f := newFixture(t)
	got := call(t, f.h, "office1", request("regular1", proto.String("r1@example.com")))
	wantMsgs(t, got, updatedForward("regular1")...)
	checkForward(t, filepath.Join(f.home, ".forward"), "r1@example.com\n", uidRegular1)

	got = call(t, f.h, "syscom1", request("syscom1", proto.String(`\syscom1`)))
	wantMsgs(t, got, updatedForward("syscom1")...)
	checkForward(t, filepath.Join(f.base, "home", "syscom1", ".forward"), "\\syscom1\n", uidSyscom1)
}

func TestClearForward(t *testing.T) {
	bothModes(t, func(t *testing.T, f *fixture) {
		fwd := filepath.Join(f.home, ".forward")
		if err := os.WriteFile(fwd, []byte("old@example.com\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		got := call(t, f.h, "regular1", request("regular1", proto.String("")))
		wantMsgs(t, got, clearedForward("regular1")...)
		if _, err := os.Lstat(fwd); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf(".forward still there: %v", err)
		}
		// Clearing a missing forward is fine.
		got = call(t, f.h, "regular1", request("regular1", proto.String("")))
		wantMsgs(t, got, clearedForward("regular1")...)
	})
}

// Without a forward field the legacy op changes nothing and says it
// finished.
func TestNoForwardField(t *testing.T) {
	f := newFixture(t)
	fwd := filepath.Join(f.home, ".forward")
	if err := os.WriteFile(fwd, []byte("keep@example.com\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, f.base)
	got := call(t, f.h, "regular1", request("regular1", nil))
	wantMsgs(t, got, msg{0, "finished updating mail for regular1"})
	if after := snapshot(t, f.base); after != before {
		t.Errorf("changed:\n%s\n---\n%s", before, after)
	}
}

// Every refusal replies with its status and changes nothing.
func TestRefusalsChangeNothing(t *testing.T) {
	missing, _ := proto.Marshal(&ceopb.UpdateMail{Forward: proto.String("x@example.com")})
	cases := []struct {
		name, caller string
		body         []byte
		status       syscall.Errno
		want         string
	}{
		{"other member", "regular2", request("regular1", proto.String("evil@example.com")), syscall.EPERM, "regular2 may not mail regular1: no rule of mail in ceod.acl allows it (default deny)"},
		{"other member clears", "regular2", request("regular1", proto.String("")), syscall.EPERM, "regular2 may not mail regular1: no rule of mail in ceod.acl allows it (default deny)"},
		{"office on syscom", "office1", request("syscom1", proto.String("evil@example.com")), syscall.EPERM, "denied by " + opstest.Rule(t, "mail group:office") + ": syscom1 is in group syscom"},
		{"instance principal", "regular1/admin", request("regular1", proto.String("a@example.com")), syscall.EPERM, "regular1/admin may not mail regular1: no rule of mail in ceod.acl allows it (default deny)"},
		{"missing username", "regular1", missing, syscall.EINVAL, "missing required argument: username"},
		{"empty username", "regular1", request("", proto.String("a@example.com")), syscall.EINVAL, "missing required argument: username"},
		{"pipe", "regular1", request("regular1", proto.String("|/bin/sh")), syscall.EINVAL, "invalid character in forward: |"},
		{"path", "regular1", request("regular1", proto.String("/etc/passwd")), syscall.EINVAL, "invalid character in forward: /"},
		{"include", "regular1", request("regular1", proto.String(":include:x")), syscall.EINVAL, "invalid character in forward: :"},
		{"comma", "regular1", request("regular1", proto.String("a@b.c,d@e.f")), syscall.EINVAL, "invalid character in forward: ,"},
		{"dollar", "regular1", request("regular1", proto.String("$HOME")), syscall.EINVAL, "invalid character in forward: $"},
		{"hash", "regular1", request("regular1", proto.String("a#b")), syscall.EINVAL, "invalid character in forward: #"},
		{"double quote", "regular1", request("regular1", proto.String(`"a b"@c`)), syscall.EINVAL, `invalid character in forward: "`},
		{"single quote", "regular1", request("regular1", proto.String(`a'b`)), syscall.EINVAL, "invalid character in forward: '"},
		{"space", "regular1", request("regular1", proto.String("a b")), syscall.EINVAL, "invalid character in forward:  "},
		{"tab", "regular1", request("regular1", proto.String("a\tb")), syscall.EINVAL, `invalid character in forward: \t`}, // escaped, never echoed raw
		{"newline", "regular1", request("regular1", proto.String("a@b.c\n|cmd")), syscall.EINVAL, `invalid character in forward: \n`},
		{"nul", "regular1", request("regular1", proto.String("a\x00b")), syscall.EINVAL, "invalid character in forward"},
		{"too long", "regular1", request("regular1", proto.String(strings.Repeat("a", MaxForward+1))), syscall.EINVAL, "longer than"},
		{"no such user", "office1", request("nosuchuser", proto.String("a@example.com")), syscall.ENOENT, "no such user"},
		// Legacy refused a forward to a host that does not resolve.
		{"unresolvable host", "regular1", request("regular1", proto.String("alice@nonexistent-host.invalid")), syscall.EINVAL, "Invalid host: nonexistent-host.invalid"},
		{"empty host", "regular1", request("regular1", proto.String("alice@")), syscall.EINVAL, "Invalid host"},
		{"name server down", "regular1", request("regular1", proto.String("alice@flaky.example")), syscall.EAGAIN, "unable to check host flaky.example"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			if err := os.WriteFile(filepath.Join(f.home, ".forward"), []byte("keep@example.com\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			before := snapshot(t, f.base)
			got := call(t, f.h, tc.caller, tc.body)
			wantFailure(t, got, tc.status, tc.want)
			if after := snapshot(t, f.base); after != before {
				t.Errorf("refusal changed files:\n%s\n---\n%s", before, after)
			}
		})
	}
}

func TestDirectoryOutage(t *testing.T) {
	f := newFixture(t)
	f.dir.Err = errors.New("ldap: connection refused")
	before := snapshot(t, f.base)
	got := call(t, f.h, "regular1", request("regular1", proto.String("a@example.com")))
	if len(got) != 1 || got[0].status != ops.ELDAP || strings.Contains(got[0].message, "refused") {
		t.Errorf("reply %v, want one ELDAP message without the internal error", got)
	}
	if after := snapshot(t, f.base); after != before {
		t.Errorf("changed:\n%s\n---\n%s", before, after)
	}
}

func TestMalformedRequest(t *testing.T) {
	f := newFixture(t)
	_, err := f.h.Serve(t.Context(), ops.Request{Caller: ops.Caller{User: "regular1"}, Body: []byte{0xff, 0xff, 0xff}})
	if err == nil {
		t.Fatal("malformed request accepted")
	}
}

// ~regular1/.forward is a symbolic link to a file outside the home:
// setting the forward replaces the link, clearing removes it; the target
// never changes.
func TestForwardSymlinkAttack(t *testing.T) {
	bothModes(t, func(t *testing.T, f *fixture) {
		fwd := filepath.Join(f.home, ".forward")
		if err := os.Symlink(f.secret, fwd); err != nil {
			t.Fatal(err)
		}
		os.Lchown(fwd, uidRegular1, uidRegular1)
		outside := snapshot(t, f.outside)

		got := call(t, f.h, "regular1", request("regular1", proto.String("pwned@example.com")))
		wantMsgs(t, got, updatedForward("regular1")...)
		checkForward(t, fwd, "pwned@example.com\n", uidRegular1)
		if after := snapshot(t, f.outside); after != outside {
			t.Errorf("outside changed:\n%s\n---\n%s", outside, after)
		}

		// Clearing through a link removes the link only.
		os.Remove(fwd)
		if err := os.Symlink(f.secret, fwd); err != nil {
			t.Fatal(err)
		}
		got = call(t, f.h, "regular1", request("regular1", proto.String("")))
		wantMsgs(t, got, clearedForward("regular1")...)
		if _, err := os.Lstat(fwd); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("link still there: %v", err)
		}
		if after := snapshot(t, f.outside); after != outside {
			t.Errorf("outside changed:\n%s\n---\n%s", outside, after)
		}
	})
}

// A dangling link (to a file the attacker hopes we create) is replaced,
// and nothing is created at its target.
func TestForwardDanglingSymlink(t *testing.T) {
	f := newFixture(t)
	target := filepath.Join(f.outside, "created-by-root")
	if err := os.Symlink(target, filepath.Join(f.home, ".forward")); err != nil {
		t.Fatal(err)
	}
	call(t, f.h, "regular1", request("regular1", proto.String("a@example.com")))
	if _, err := os.Lstat(target); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("link target was created: %v", err)
	}
	checkForward(t, filepath.Join(f.home, ".forward"), "a@example.com\n", uidRegular1)
}

// A hard link to an outside file is replaced, not written through.
func TestForwardHardLinkAttack(t *testing.T) {
	f := newFixture(t)
	fwd := filepath.Join(f.home, ".forward")
	if err := os.Link(f.secret, fwd); err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(f.secret)
	if err != nil {
		t.Fatal(err)
	}
	call(t, f.h, "regular1", request("regular1", proto.String("a@example.com")))
	after, err := os.ReadFile(f.secret)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) {
		t.Errorf("hard-linked file changed: %q", after)
	}
	checkForward(t, fwd, "a@example.com\n", uidRegular1)
	var st syscall.Stat_t
	syscall.Stat(f.secret, &st)
	if st.Nlink != 1 || st.Uid != 0 {
		t.Errorf("outside file nlink=%d uid=%d, want 1 and 0", st.Nlink, st.Uid)
	}
}

// The home directory is a link to another directory, or lies under one:
// refused, nothing changes anywhere.
func TestHomeSymlinkRefused(t *testing.T) {
	bothModes(t, func(t *testing.T, f *fixture) {
		// The home itself is a link.
		evilHome := filepath.Join(f.base, "home", "evil")
		if err := os.Symlink(f.outside, evilHome); err != nil {
			t.Fatal(err)
		}
		// A parent of the home is a link.
		linkedParent := filepath.Join(f.base, "linked")
		if err := os.Symlink(filepath.Join(f.base, "home"), linkedParent); err != nil {
			t.Fatal(err)
		}
		for _, home := range []string{evilHome, filepath.Join(linkedParent, "regular1")} {
			for _, fwd := range []string{"a@example.com", ""} {
				f.dir.AddUser(authz.User{Name: "regular1", UID: uidRegular1, GID: uidRegular1, Home: home})
				if err := os.WriteFile(filepath.Join(f.outside, ".forward"), []byte("keep\n"), 0o644); err != nil {
					t.Fatal(err)
				}
				before := snapshot(t, f.base)
				got := call(t, f.h, "regular1", request("regular1", proto.String(fwd)))
				wantFailure(t, got, syscall.ELOOP, "symbolic link")
				if after := snapshot(t, f.base); after != before {
					t.Errorf("home %s forward %q changed files:\n%s\n---\n%s", home, fwd, before, after)
				}
			}
		}
	})
}

func TestHomeNotOwnedRefused(t *testing.T) {
	f := newFixture(t)
	// An LDAP homeDirectory pointing at a root-owned directory (/etc,
	// say) must not get a file.
	f.dir.AddUser(authz.User{Name: "regular1", UID: uidRegular1, GID: uidRegular1, Home: filepath.Join(f.base, "home")})
	before := snapshot(t, f.base)
	got := call(t, f.h, "regular1", request("regular1", proto.String("a@example.com")))
	wantFailure(t, got, syscall.EPERM, "owned by uid 0")
	if after := snapshot(t, f.base); after != before {
		t.Errorf("changed:\n%s\n---\n%s", before, after)
	}
	// A relative or unclean home is refused outright.
	for _, home := range []string{"home/regular1", f.home + "/../regular1", ""} {
		f.dir.AddUser(authz.User{Name: "regular1", UID: uidRegular1, GID: uidRegular1, Home: home})
		got := call(t, f.h, "regular1", request("regular1", proto.String("a@example.com")))
		wantFailure(t, got, syscall.EINVAL, "clean absolute path")
	}
}

func TestForwardIsDirectory(t *testing.T) {
	bothModes(t, func(t *testing.T, f *fixture) {
		fwd := filepath.Join(f.home, ".forward")
		if err := os.Mkdir(fwd, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(fwd, "inside"), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		before := snapshot(t, f.base)
		for _, v := range []string{"a@example.com", ""} {
			got := call(t, f.h, "regular1", request("regular1", proto.String(v)))
			wantFailure(t, got, syscall.EISDIR, ".forward")
			if after := snapshot(t, f.base); after != before {
				t.Errorf("forward %q changed files:\n%s\n---\n%s", v, before, after)
			}
		}
	})
}

// The user races the op: .forward flips between a link to the outside
// file, a regular file and a directory, and the home directory itself is
// swapped for a link to the outside directory (as if the attacker could
// write its parent). The outside directory never changes, and every
// reply is a success or a clean refusal.
func TestRaceWithAttacker(t *testing.T) {
	bothModes(t, func(t *testing.T, f *fixture) {
		outsideBefore := snapshot(t, f.outside)
		// The attacker works inside the real home through a descriptor,
		// so its own calls never reach the outside directory.
		homeFD, err := unix.Open(f.home, unix.O_PATH|unix.O_DIRECTORY, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer unix.Close(homeFD)
		parked := f.home + ".parked"
		stop := make(chan struct{})
		var wg sync.WaitGroup
		var swaps atomic.Int64
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				unix.Unlinkat(homeFD, ".forward", 0)
				unix.Unlinkat(homeFD, ".forward", unix.AT_REMOVEDIR)
				switch i % 3 {
				case 0:
					unix.Symlinkat(f.secret, homeFD, ".forward")
				case 1:
					if fd, err := unix.Openat(homeFD, ".forward", unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW, 0o644); err == nil {
						unix.Write(fd, []byte("user\n"))
						unix.Close(fd)
					}
				case 2:
					unix.Mkdirat(homeFD, ".forward", 0o755)
				}
				swaps.Add(1)
			}
		})
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				// Swap the home for a link, then put it back.
				if os.Rename(f.home, parked) == nil {
					os.Symlink(f.outside, f.home)
					time.Sleep(50 * time.Microsecond)
					os.Remove(f.home)
					os.Rename(parked, f.home)
				}
				time.Sleep(200 * time.Microsecond)
			}
		})
		deadline := time.Now().Add(time.Second)
		var ok, refused int
		for i := 0; time.Now().Before(deadline); i++ {
			fwdValue := fmt.Sprintf("u%d@example.com", i)
			if i%4 == 3 {
				fwdValue = ""
			}
			got := call(t, f.h, "regular1", request("regular1", proto.String(fwdValue)))
			switch {
			case len(got) == 2 && got[0].status == 0 && got[1].status == 0:
				ok++
			case len(got) == 1 && got[0].status > 0:
				refused++
			default:
				t.Fatalf("unexpected reply %v", got)
			}
		}
		close(stop)
		wg.Wait()
		if after := snapshot(t, f.outside); after != outsideBefore {
			t.Errorf("outside changed during the race:\n%s\n---\n%s", outsideBefore, after)
		}
		t.Logf("%d ok, %d refused, %d swaps", ok, refused, swaps.Load())
		// No stray temporary file is left in the home, and once the
		// attacker stops the op works again.
		noTemp(t, f.home)
		os.RemoveAll(filepath.Join(f.home, ".forward"))
		wantMsgs(t, call(t, f.h, "regular1", request("regular1", proto.String("final@example.com"))), updatedForward("regular1")...)
		checkForward(t, filepath.Join(f.home, ".forward"), "final@example.com\n", uidRegular1)
	})
}

func TestNewRefusesMissingDeps(t *testing.T) {
	if h, err := New(Deps{}); err == nil || h != nil {
		t.Errorf("New without a directory: %v, %v; want an error", h, err)
	}
}
