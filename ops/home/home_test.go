package home

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/csclub/ceo/internal/opstest"
	"github.com/csclub/ceo/internal/testreq"
)

func needRoot(t *testing.T) {
	t.Helper()
	testreq.Require(t, "root") // chown
}

// skeleton builds a skeleton with every kind of entry Create must handle.
func skeleton(t *testing.T) string {
	t.Helper()
	skel := filepath.Join(t.TempDir(), "skel")
	outside := filepath.Join(t.TempDir(), "outside")
	require.NoError(t, os.MkdirAll(filepath.Join(skel, "sub", "deeper"), 0o755))
	require.NoError(t, os.Mkdir(outside, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(outside, "secret"), []byte("root only\n"), 0o600))
	write := func(rel, content string, mode os.FileMode) {
		require.NoError(t, os.WriteFile(filepath.Join(skel, rel), []byte(content), mode))
		require.NoError(t, os.Chmod(filepath.Join(skel, rel), mode))
	}
	write(".bashrc", "# bashrc\n", 0o644)
	write("sub/deeper/script", "#!/bin/sh\n", 0o755)
	write("private", "mine\n", 0o600)
	write("setuid", "x\n", 0o4755)
	write("notroots", "planted\n", 0o644)
	require.NoError(t, os.Chown(filepath.Join(skel, "notroots"), 65534, 65534))
	require.NoError(t, os.Mkdir(filepath.Join(skel, "notrootsdir"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(skel, "notrootsdir", "f"), nil, 0o644))
	require.NoError(t, os.Chown(filepath.Join(skel, "notrootsdir"), 65534, 65534))
	require.NoError(t, os.Symlink(filepath.Join(outside, "secret"), filepath.Join(skel, "link-to-secret")))
	require.NoError(t, os.Symlink(outside, filepath.Join(skel, "link-to-dir")))
	require.NoError(t, os.Symlink("../../etc/passwd", filepath.Join(skel, "sub", "relative-link")))
	require.NoError(t, syscall.Mkfifo(filepath.Join(skel, "fifo"), 0o644))
	return skel
}

func TestCreateMember(t *testing.T) {
	needRoot(t)
	root := t.TempDir()
	skel := skeleton(t)
	s := Spec{Root: root, Name: "alice", Skel: skel, UID: 20123, GID: 20123, Forward: "alice@example.org"}
	require.NoError(t, Create(s))
	home := filepath.Join(root, "alice")

	uid, gid, mode := opstest.Owner(t, home)
	assert.Equal(t, 20123, uid)
	assert.Equal(t, 20123, gid)
	assert.Equal(t, os.ModeDir|0o755, mode)

	for rel, want := range map[string]os.FileMode{
		".bashrc":           0o644,
		"private":           0o600,
		"setuid":            0o755, // set-id bits are not copied
		"sub":               os.ModeDir | 0o755,
		"sub/deeper":        os.ModeDir | 0o755,
		"sub/deeper/script": 0o755,
		".forward":          0o644,
		"link-to-secret":    os.ModeSymlink | 0o777,
		"link-to-dir":       os.ModeSymlink | 0o777,
		"sub/relative-link": os.ModeSymlink | 0o777,
	} {
		uid, gid, mode := opstest.Owner(t, filepath.Join(home, rel))
		assert.Equal(t, 20123, uid, rel)
		assert.Equal(t, 20123, gid, rel)
		assert.Equal(t, want, mode, rel)
	}
	b, err := os.ReadFile(filepath.Join(home, "sub/deeper/script"))
	require.NoError(t, err)
	assert.Equal(t, "#!/bin/sh\n", string(b))
	b, err = os.ReadFile(filepath.Join(home, ".forward"))
	require.NoError(t, err)
	assert.Equal(t, "alice@example.org\n", string(b))

	// Links are links, with the skeleton's targets; nothing was copied
	// from where they point, and the targets kept their owner.
	target, err := os.Readlink(filepath.Join(home, "link-to-secret"))
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(filepath.Dir(filepath.Dir(target)), "outside", "secret"), target)
	uid, _, _ = opstest.Owner(t, target)
	assert.Equal(t, 0, uid, "the link's target must not be chowned")
	target, err = os.Readlink(filepath.Join(home, "sub/relative-link"))
	require.NoError(t, err)
	assert.Equal(t, "../../etc/passwd", target)
	uid, _, _ = opstest.Owner(t, "/etc/passwd")
	assert.Equal(t, 0, uid)

	// Not root's, or not a file/dir/link: skipped.
	for _, rel := range []string{"notroots", "notrootsdir", "fifo"} {
		_, err := os.Lstat(filepath.Join(home, rel))
		assert.True(t, os.IsNotExist(err), rel)
	}
	// No ACL on a member's home.
	_, err = unix.Getxattr(home, "system.posix_acl_access", make([]byte, 64))
	assert.ErrorIs(t, err, unix.ENODATA)
}

func TestCreateClubACL(t *testing.T) {
	needRoot(t)
	root := t.TempDir()
	s := Spec{Root: root, Name: "club1", UID: 30007, GID: 30007, ACL: ClubACL(30007)}
	require.NoError(t, Create(s))
	home := filepath.Join(root, "club1")
	_, _, mode := opstest.Owner(t, home)
	assert.Equal(t, os.ModeDir|0o775, mode, "group bits show the ACL mask")
	out, err := exec.Command("getfacl", "-n", "--omit-header", home).Output()
	require.NoError(t, err)
	assert.Equal(t, strings.Join([]string{
		"user::rwx", "group::r-x", "group:30007:rwx", "mask::rwx", "other::r-x",
		"default:user::rwx", "default:group::r-x", "default:group:30007:rwx", "default:mask::rwx", "default:other::r-x",
	}, "\n")+"\n\n", string(out))
}

// TestACLBytesMatchSetfacl compares our xattr encoding with the one
// setfacl writes.
func TestACLBytesMatchSetfacl(t *testing.T) {
	testreq.Require(t, "setfacl")
	dir := t.TempDir()
	out, err := exec.Command("setfacl", "-m", "u::rwx,g::r-x,o::r-x,g:30001:rwx,m::rwx,u:20001:r--", dir).CombinedOutput()
	require.NoError(t, err, string(out))
	buf := make([]byte, 256)
	n, err := unix.Getxattr(dir, "system.posix_acl_access", buf)
	require.NoError(t, err)
	acl, err := ParseACL("u::rwx,g::r-x,o::r-x,g:30001:rwx,m::rwx,u:20001:r--")
	require.NoError(t, err)
	mine, err := acl.xattr()
	require.NoError(t, err)
	assert.True(t, bytes.Equal(buf[:n], mine), "setfacl %x\nours    %x", buf[:n], mine)
	assert.Equal(t, "u::rwx,u:20001:r--,g::r-x,g:30001:rwx,m::rwx,o::r-x", acl.String())
}

func TestParseACLErrors(t *testing.T) {
	for _, s := range []string{
		"", "u::rwx", "u::rwx,g::r-x", "u::rwx,g::r-x,o::r-x,g:5:rwx", "u::rwx,g::r-x,o::r-x,x::rwx",
		"u::rw,g::r-x,o::r-x", "u::rwx,g::r-x,o::r-x,g:bob:rwx,m::rwx", "u::rwx,u::rwx,g::r-x,o::r-x",
		"u::rwx,g::r-x,o::r-x,o:1:rwx", "u::rwx,g::r-x,o::r-x,g:5:rwx,g:5:r--,m::rwx",
	} {
		_, err := ParseACL(s)
		assert.Error(t, err, s)
	}
	acl, err := ParseACL(ClubACL(30001).String())
	require.NoError(t, err)
	assert.ElementsMatch(t, ClubACL(30001), acl)
}

func TestCreateRefusesExisting(t *testing.T) {
	needRoot(t)
	root := t.TempDir()
	existing := filepath.Join(root, "bob")
	require.NoError(t, os.Mkdir(existing, 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(existing, "keep"), []byte("x"), 0o600))
	err := Create(Spec{Root: root, Name: "bob", UID: 1, GID: 1})
	require.ErrorIs(t, err, unix.EEXIST)
	_, err = os.Stat(filepath.Join(existing, "keep"))
	assert.NoError(t, err, "an existing home must be left alone")

	// A link in the root's place is not followed either.
	require.NoError(t, os.Symlink(t.TempDir(), filepath.Join(root, "carol")))
	require.ErrorIs(t, Create(Spec{Root: root, Name: "carol", UID: 1, GID: 1}), unix.EEXIST)
}

func TestCreateBadNames(t *testing.T) {
	root := t.TempDir()
	for _, n := range []string{"", ".", "..", "../x", "a/b", "x\x00"} {
		assert.Error(t, Create(Spec{Root: root, Name: n}), "%q", n)
	}
	ents, err := os.ReadDir(root)
	require.NoError(t, err)
	assert.Empty(t, ents)
}

func TestCreateUnwritableRoot(t *testing.T) {
	needRoot(t)
	root := t.TempDir()
	if out, err := exec.Command("chattr", "+i", root).CombinedOutput(); err != nil {
		testreq.Check(t, "chattr +i", fmt.Errorf("%v %s", err, out))
	}
	t.Cleanup(func() { exec.Command("chattr", "-i", root).Run() })
	err := Create(Spec{Root: root, Name: "dave", UID: 1, GID: 1})
	require.Error(t, err)
	var he *Error
	require.ErrorAs(t, err, &he)
	assert.Equal(t, "mkdir", he.Op)
	ents, _ := os.ReadDir(root)
	assert.Empty(t, ents)
}

func TestCreateFailureCleansUp(t *testing.T) {
	needRoot(t)
	root := t.TempDir()
	skel := t.TempDir()
	// Deeper than maxDepth: the copy fails part way.
	p := skel
	for i := 0; i < maxDepth+2; i++ {
		p = filepath.Join(p, "d")
	}
	require.NoError(t, os.MkdirAll(p, 0o755))
	err := Create(Spec{Root: root, Name: "erin", Skel: skel, UID: 1, GID: 1})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "deeper than")
	ents, _ := os.ReadDir(root)
	assert.Empty(t, ents, "a failed Create leaves nothing")

	// A skeleton that does not exist.
	err = Create(Spec{Root: root, Name: "erin", Skel: filepath.Join(skel, "missing"), UID: 1, GID: 1})
	require.Error(t, err)
	ents, _ = os.ReadDir(root)
	assert.Empty(t, ents)
}

func TestRemoveDoesNotFollowLinks(t *testing.T) {
	needRoot(t)
	root := t.TempDir()
	outside := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(outside, "precious"), []byte("x"), 0o600))
	require.NoError(t, Create(Spec{Root: root, Name: "frank", Skel: skeleton(t), UID: 20001, GID: 20001}))
	home := filepath.Join(root, "frank")
	// What a user could plant before the home is removed.
	require.NoError(t, os.Symlink(outside, filepath.Join(home, "evil-dir")))
	require.NoError(t, os.Symlink(filepath.Join(outside, "precious"), filepath.Join(home, "evil-file")))
	require.NoError(t, os.MkdirAll(filepath.Join(home, "a/b/c"), 0o700))
	require.NoError(t, os.Symlink(outside, filepath.Join(home, "a/b/c/up")))

	require.NoError(t, Remove(root, "frank"))
	_, err := os.Lstat(home)
	assert.True(t, os.IsNotExist(err))
	_, err = os.Stat(filepath.Join(outside, "precious"))
	assert.NoError(t, err, "Remove followed a link")

	// Missing is fine; a link in the home's place is removed, not followed.
	require.NoError(t, Remove(root, "frank"))
	require.NoError(t, os.Symlink(outside, filepath.Join(root, "gina")))
	require.NoError(t, Remove(root, "gina"))
	_, err = os.Stat(filepath.Join(outside, "precious"))
	assert.NoError(t, err)
	_, err = os.Lstat(filepath.Join(root, "gina"))
	assert.True(t, os.IsNotExist(err))
}

func TestExists(t *testing.T) {
	root := t.TempDir()
	ok, err := Exists(root, "x")
	require.NoError(t, err)
	assert.False(t, ok)
	require.NoError(t, os.Symlink("/nonexistent", filepath.Join(root, "x")))
	ok, err = Exists(root, "x")
	require.NoError(t, err)
	assert.True(t, ok, "a dangling link counts")
	_, err = Exists(root, "../x")
	assert.Error(t, err)
}
