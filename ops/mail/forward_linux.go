//go:build linux

package mail

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// Writing ~user/.forward as root without trusting anything the user
// controls. ceod is one root process serving every connection, so it
// cannot take the user's uid the way the legacy op program did; instead
// every file call is relative to a directory descriptor and never
// follows a symbolic link:
//
//   - The home directory is opened with openat2(RESOLVE_NO_SYMLINKS), or
//     one component at a time with O_NOFOLLOW where openat2 is missing,
//     so a home that is (or lies under) a link is refused. It must be a
//     directory owned by the account.
//   - The new content goes to a fresh temporary file in the home, created
//     with O_CREAT|O_EXCL|O_NOFOLLOW (never an existing name or link),
//     then fchown'd to the account, fchmod'd 0644 and fsync'd through its
//     descriptor, and renamed over .forward with renameat. A rename
//     replaces the directory entry: if .forward is a symbolic or hard
//     link, the link goes away and its target is untouched. A .forward
//     directory makes the rename fail and nothing changes.
//   - Clearing uses unlinkat, which removes a link, not its target, and
//     refuses a directory.
//
// The user may race us inside their home (rename or replace entries);
// every call names an entry of the directory we hold open and acts on
// the descriptor we created, so the worst outcome is a change inside
// that home, which the user could make anyway.

const forwardName = ".forward"

// forwardFS writes and clears .forward files. Its zero value uses
// openat2 where the kernel has it; tests switch that off to exercise
// the O_NOFOLLOW fallback.
type forwardFS struct {
	noOpenat2 bool
}

// fsError is a failed file system step, with the errno for the reply.
type fsError struct {
	Op   string // the system call or step
	Path string
	Err  error
}

func (e *fsError) Error() string { return e.Op + ": " + e.Path + ": " + e.Err.Error() }
func (e *fsError) Unwrap() error { return e.Err }

// errno returns the errno to report for err (EIO if none).
func errno(err error) int32 {
	var en unix.Errno
	if errors.As(err, &en) {
		return int32(en)
	}
	return int32(unix.EIO)
}

// openHome opens the directory at path (absolute, clean) for use as a
// dirfd, refusing symbolic links in every component, and checks that it
// is a directory owned by uid. The caller closes the descriptor.
func (fs forwardFS) openHome(path string, uid int) (int, error) {
	if !filepath.IsAbs(path) || filepath.Clean(path) != path {
		return -1, &fsError{"open", path, fmt.Errorf("%w (home directory must be a clean absolute path)", unix.EINVAL)}
	}
	fd, err := fs.openDirNoFollow(path)
	if err != nil {
		if errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOTDIR) {
			err = fmt.Errorf("%w (a component is a symbolic link or not a directory)", err)
		}
		return -1, &fsError{"open", path, err}
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return -1, &fsError{"fstat", path, err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		unix.Close(fd)
		return -1, &fsError{"open", path, unix.ENOTDIR}
	}
	if int(st.Uid) != uid {
		unix.Close(fd)
		return -1, &fsError{"open", path, fmt.Errorf("%w (home directory is owned by uid %d, not %d)", unix.EPERM, st.Uid, uid)}
	}
	return fd, nil
}

// openDirNoFollow opens path with O_PATH, never following a symbolic link.
func (fs forwardFS) openDirNoFollow(path string) (int, error) {
	if !fs.noOpenat2 {
		fd, err := unix.Openat2(unix.AT_FDCWD, path, &unix.OpenHow{
			Flags:   unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC,
			Resolve: unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
		})
		// ENOSYS: kernel before 5.6; EPERM: a seccomp filter that does
		// not know openat2. Anything else is the answer.
		if err == nil || (err != unix.ENOSYS && err != unix.EPERM) {
			return fd, err
		}
	}
	// One component at a time, each with O_NOFOLLOW. With O_PATH a
	// symbolic link would be opened as itself, so O_DIRECTORY (ENOTDIR on
	// a link) and an fstat check guard each step.
	fd, err := unix.Open("/", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	for _, comp := range strings.Split(strings.TrimPrefix(path, "/"), "/") {
		if comp == "" {
			continue
		}
		if comp == "." || comp == ".." {
			unix.Close(fd)
			return -1, unix.EINVAL
		}
		next, err := unix.Openat(fd, comp, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err == unix.ENOTDIR {
			// Say ELOOP for a link, as openat2 does.
			var st unix.Stat_t
			if unix.Fstatat(fd, comp, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && st.Mode&unix.S_IFMT == unix.S_IFLNK {
				err = unix.ELOOP
			}
		}
		unix.Close(fd)
		if err != nil {
			return -1, err
		}
		var st unix.Stat_t
		if err := unix.Fstat(next, &st); err != nil {
			unix.Close(next)
			return -1, err
		}
		if st.Mode&unix.S_IFMT != unix.S_IFDIR {
			unix.Close(next)
			return -1, unix.ELOOP
		}
		fd = next
	}
	return fd, nil
}

// createExcl creates name in dir, failing if any entry (even a dangling
// link) has that name.
func (fs forwardFS) createExcl(dir int, name string, mode uint32) (int, error) {
	flags := unix.O_WRONLY | unix.O_CREAT | unix.O_EXCL | unix.O_NOFOLLOW | unix.O_CLOEXEC
	if !fs.noOpenat2 {
		fd, err := unix.Openat2(dir, name, &unix.OpenHow{
			Flags:   uint64(flags),
			Mode:    uint64(mode),
			Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
		})
		if err == nil || (err != unix.ENOSYS && err != unix.EPERM) {
			return fd, err
		}
	}
	return unix.Openat(dir, name, flags, mode)
}

// setForward replaces home/.forward with content, owned by uid:gid, mode
// 0644.
func (fs forwardFS) setForward(home string, uid, gid int, content []byte) error {
	dir, err := fs.openHome(home, uid)
	if err != nil {
		return err
	}
	defer unix.Close(dir)
	path := filepath.Join(home, forwardName)

	// Refuse a .forward directory before making anything. (The rename
	// below would fail on it anyway; this only gives a clearer message
	// and leaves no temporary file behind.)
	var st unix.Stat_t
	if err := unix.Fstatat(dir, forwardName, &st, unix.AT_SYMLINK_NOFOLLOW); err == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR {
		return &fsError{"replace", path, unix.EISDIR}
	}

	var tmp string
	var fd int
	for range 8 {
		var b [8]byte
		rand.Read(b[:])
		tmp = forwardName + ".ceod-" + hex.EncodeToString(b[:])
		// 0600 until it is the user's and complete.
		fd, err = fs.createExcl(dir, tmp, 0o600)
		if err != unix.EEXIST {
			break
		}
	}
	if err != nil {
		return &fsError{"create", filepath.Join(home, tmp), err}
	}
	committed := false
	defer func() {
		if !committed {
			unix.Unlinkat(dir, tmp, 0)
		}
	}()
	f := os.NewFile(uintptr(fd), filepath.Join(home, tmp))
	defer f.Close()
	if _, err := f.Write(content); err != nil {
		return &fsError{"write", f.Name(), err}
	}
	if err := unix.Fchown(fd, uid, gid); err != nil {
		return &fsError{"fchown", f.Name(), err}
	}
	if err := unix.Fchmod(fd, 0o644); err != nil {
		return &fsError{"fchmod", f.Name(), err}
	}
	if err := f.Sync(); err != nil {
		return &fsError{"fsync", f.Name(), err}
	}
	if err := f.Close(); err != nil {
		return &fsError{"close", f.Name(), err}
	}
	if err := unix.Renameat(dir, tmp, dir, forwardName); err != nil {
		return &fsError{"rename", path, err}
	}
	committed = true
	syncDir(dir)
	return nil
}

// clearForward removes home/.forward (a link is removed, not followed);
// a missing one is fine.
func (fs forwardFS) clearForward(home string, uid int) error {
	dir, err := fs.openHome(home, uid)
	if err != nil {
		return err
	}
	defer unix.Close(dir)
	if err := unix.Unlinkat(dir, forwardName, 0); err != nil && err != unix.ENOENT {
		return &fsError{"unlink", filepath.Join(home, forwardName), err}
	}
	syncDir(dir)
	return nil
}

// syncDir makes a rename or unlink in dir durable, best effort: the
// change is already visible, and a failure here has nothing to undo.
func syncDir(dir int) {
	fd, err := unix.Openat(dir, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return
	}
	unix.Fsync(fd)
	unix.Close(fd)
}
