// Package home creates and removes account home directories the way a
// root daemon must: without ever following a symbolic link that someone
// else could have planted.
//
// Every step works relative to open directory descriptors (mkdirat,
// openat with O_NOFOLLOW, fchown, fchmod, fsetxattr, unlinkat), so a
// link in the skeleton or in a home being removed is treated as a link,
// never as what it points to. Only the configured root (e.g. /users) and
// skeleton paths are resolved normally: they come from the administrator.
//
// A new home is made mode 0700 and owned by root while it is filled, and
// is handed to the user (chown, chmod, ACLs) only at the end, so nobody
// else can get into it half-built.
package home

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// maxDepth bounds skeleton copies: deeper skeletons are refused rather
// than recursed into without limit.
const maxDepth = 64

// maxRemoveDepth bounds removals, which hold one descriptor per level.
// It is larger than maxDepth because a home may have grown after it was
// handed over.
const maxRemoveDepth = 1024

// Error is a failed file system step.
type Error struct {
	Op   string // "mkdir", "copy", "chown", "setfacl", ...
	Path string
	Err  error
}

func (e *Error) Error() string { return "home: " + e.Op + " " + e.Path + ": " + e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Spec describes a home directory to create.
type Spec struct {
	// Root is the directory homes are made in, e.g. /users. It must
	// exist.
	Root string
	// Name is the new directory's name inside Root: one path component.
	Name string
	// Skel is copied into the new home ("" for none). Entries not owned
	// by root are skipped (as the legacy adduser did), so a user who
	// can write to the skeleton cannot seed other homes. Regular files
	// and directories are copied; symbolic links are recreated as links
	// with the same target, never followed; other file types are
	// skipped.
	Skel string
	// UID and GID own everything created.
	UID, GID int
	// Mode of the home itself (permission bits); 0 means 0755.
	Mode os.FileMode
	// Forward, if not empty, is written to .forward (one line).
	Forward string
	// ACL, if not nil, is set on the home as access and default ACL.
	// The home's group permission bits then show the ACL mask.
	ACL ACL
}

// Path returns Root/Name.
func (s *Spec) Path() string { return filepath.Join(s.Root, s.Name) }

// ValidName reports whether name can be a home directory's name: one
// non-empty path component other than "." and "..", without NUL.
func ValidName(name string) bool {
	return name != "" && name != "." && name != ".." && !strings.ContainsAny(name, "/\x00") && len(name) <= 255
}

// Create makes the home directory described by s. It fails if the
// directory (or anything else of that name) exists. On failure it
// removes whatever it created, and the error says which step failed.
func Create(s Spec) (err error) {
	if !ValidName(s.Name) {
		return &Error{Op: "create", Path: s.Path(), Err: errors.New("invalid directory name")}
	}
	if s.UID < 0 || s.GID < 0 {
		return &Error{Op: "create", Path: s.Path(), Err: errors.New("negative uid or gid")}
	}
	mode := uint32(s.Mode.Perm())
	if mode == 0 {
		mode = 0o755
	}
	var aclBytes []byte
	if s.ACL != nil {
		if aclBytes, err = s.ACL.xattr(); err != nil {
			return &Error{Op: "setfacl", Path: s.Path(), Err: err}
		}
	}
	if strings.ContainsAny(s.Forward, "\n\r\x00") {
		return &Error{Op: "write .forward", Path: s.Path(), Err: errors.New("forward contains a line break or NUL")}
	}

	rootFD, err := unix.Open(s.Root, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return &Error{Op: "open home root", Path: s.Root, Err: err}
	}
	defer unix.Close(rootFD)
	if err := unix.Mkdirat(rootFD, s.Name, 0o700); err != nil {
		return &Error{Op: "mkdir", Path: s.Path(), Err: err}
	}
	defer func() {
		if err != nil {
			// Ours alone so far (mode 0700, root's), unless the
			// failure came after the final chown; either way removal
			// does not follow links.
			if rmErr := removeAt(rootFD, s.Name, s.Path()); rmErr != nil {
				err = errors.Join(err, fmt.Errorf("home: cleaning up %s: %w", s.Path(), rmErr))
			}
		}
	}()
	dirFD, err := unix.Openat(rootFD, s.Name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return &Error{Op: "open", Path: s.Path(), Err: err}
	}
	defer unix.Close(dirFD)

	if s.Skel != "" {
		skelFD, err := unix.Open(s.Skel, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return &Error{Op: "open skeleton", Path: s.Skel, Err: err}
		}
		defer unix.Close(skelFD)
		c := copier{uid: s.UID, gid: s.GID}
		if err := c.copyDir(skelFD, dirFD, s.Skel, s.Path(), 0); err != nil {
			return err
		}
	}
	if s.Forward != "" {
		if err := writeForward(dirFD, s.Path(), s.Forward, s.UID, s.GID); err != nil {
			return err
		}
	}
	// Hand the home over: owner, mode, then the ACL (a chmod after the
	// ACL would narrow its mask).
	if err := unix.Fchown(dirFD, s.UID, s.GID); err != nil {
		return &Error{Op: "chown", Path: s.Path(), Err: err}
	}
	if err := unix.Fchmod(dirFD, mode); err != nil {
		return &Error{Op: "chmod", Path: s.Path(), Err: err}
	}
	if aclBytes != nil {
		for _, name := range []string{"system.posix_acl_access", "system.posix_acl_default"} {
			if err := unix.Fsetxattr(dirFD, name, aclBytes, 0); err != nil {
				if errors.Is(err, unix.EOPNOTSUPP) {
					err = fmt.Errorf("%w (the file system of %s does not support POSIX ACLs)", err, s.Root)
				}
				return &Error{Op: "setfacl " + name, Path: s.Path(), Err: err}
			}
		}
	}
	return nil
}

func writeForward(dirFD int, dir, forward string, uid, gid int) error {
	path := filepath.Join(dir, ".forward")
	// A skeleton may ship a .forward; the member's address wins.
	if err := unix.Unlinkat(dirFD, ".forward", 0); err != nil && !errors.Is(err, unix.ENOENT) {
		return &Error{Op: "write .forward", Path: path, Err: err}
	}
	fd, err := unix.Openat(dirFD, ".forward", unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return &Error{Op: "write .forward", Path: path, Err: err}
	}
	f := os.NewFile(uintptr(fd), path)
	defer f.Close()
	if _, err := f.WriteString(forward + "\n"); err != nil {
		return &Error{Op: "write .forward", Path: path, Err: err}
	}
	if err := f.Chown(uid, gid); err != nil {
		return &Error{Op: "chown", Path: path, Err: err}
	}
	if err := f.Chmod(0o644); err != nil { // not subject to the umask
		return &Error{Op: "chmod", Path: path, Err: err}
	}
	return f.Close()
}

type copier struct{ uid, gid int }

// copyDir copies the entries of directory src into dst.
func (c copier) copyDir(src, dst int, srcPath, dstPath string, depth int) error {
	if depth >= maxDepth {
		return &Error{Op: "copy", Path: srcPath, Err: fmt.Errorf("skeleton deeper than %d levels", maxDepth)}
	}
	names, err := readDirNames(src, srcPath)
	if err != nil {
		return &Error{Op: "read skeleton", Path: srcPath, Err: err}
	}
	for _, name := range names {
		sp, dp := filepath.Join(srcPath, name), filepath.Join(dstPath, name)
		var st unix.Stat_t
		if err := unix.Fstatat(src, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return &Error{Op: "stat", Path: sp, Err: err}
		}
		if st.Uid != 0 {
			continue // not root's: skipped, as legacy
		}
		perm := st.Mode & 0o777
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFREG:
			if err := c.copyFile(src, dst, name, sp, dp, perm, st); err != nil {
				return err
			}
		case unix.S_IFDIR:
			if err := c.copySubdir(src, dst, name, sp, dp, perm, depth); err != nil {
				return err
			}
		case unix.S_IFLNK:
			target, err := readlinkat(src, name)
			if err != nil {
				return &Error{Op: "readlink", Path: sp, Err: err}
			}
			if err := unix.Symlinkat(target, dst, name); err != nil {
				return &Error{Op: "symlink", Path: dp, Err: err}
			}
			if err := unix.Fchownat(dst, name, c.uid, c.gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
				return &Error{Op: "chown", Path: dp, Err: err}
			}
		default:
			// Devices, fifos and sockets have no place in a home skeleton.
		}
	}
	return nil
}

func (c copier) copyFile(src, dst int, name, sp, dp string, perm uint32, st unix.Stat_t) error {
	in, err := unix.Openat(src, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return &Error{Op: "open", Path: sp, Err: err}
	}
	inF := os.NewFile(uintptr(in), sp)
	defer inF.Close()
	// The entry may have been swapped since the stat: copy only the
	// regular file that was checked.
	var st2 unix.Stat_t
	if err := unix.Fstat(in, &st2); err != nil {
		return &Error{Op: "stat", Path: sp, Err: err}
	}
	if st2.Ino != st.Ino || st2.Dev != st.Dev || st2.Mode&unix.S_IFMT != unix.S_IFREG || st2.Uid != 0 {
		return &Error{Op: "copy", Path: sp, Err: errors.New("skeleton file changed while being copied")}
	}
	out, err := unix.Openat(dst, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return &Error{Op: "create", Path: dp, Err: err}
	}
	outF := os.NewFile(uintptr(out), dp)
	defer outF.Close()
	if _, err := io.Copy(outF, inF); err != nil {
		return &Error{Op: "copy", Path: dp, Err: err}
	}
	if err := unix.Fchown(out, c.uid, c.gid); err != nil {
		return &Error{Op: "chown", Path: dp, Err: err}
	}
	if err := unix.Fchmod(out, perm); err != nil {
		return &Error{Op: "chmod", Path: dp, Err: err}
	}
	if err := outF.Close(); err != nil {
		return &Error{Op: "copy", Path: dp, Err: err}
	}
	return nil
}

func (c copier) copySubdir(src, dst int, name, sp, dp string, perm uint32, depth int) error {
	sfd, err := unix.Openat(src, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return &Error{Op: "open", Path: sp, Err: err}
	}
	defer unix.Close(sfd)
	if err := unix.Mkdirat(dst, name, 0o700); err != nil {
		return &Error{Op: "mkdir", Path: dp, Err: err}
	}
	dfd, err := unix.Openat(dst, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return &Error{Op: "open", Path: dp, Err: err}
	}
	defer unix.Close(dfd)
	if err := c.copyDir(sfd, dfd, sp, dp, depth+1); err != nil {
		return err
	}
	if err := unix.Fchown(dfd, c.uid, c.gid); err != nil {
		return &Error{Op: "chown", Path: dp, Err: err}
	}
	if err := unix.Fchmod(dfd, perm); err != nil {
		return &Error{Op: "chmod", Path: dp, Err: err}
	}
	return nil
}

// Exists reports whether root/name exists (as anything, links included).
func Exists(root, name string) (bool, error) {
	if !ValidName(name) {
		return false, &Error{Op: "stat", Path: filepath.Join(root, name), Err: errors.New("invalid directory name")}
	}
	_, err := os.Lstat(filepath.Join(root, name))
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	default:
		return false, &Error{Op: "stat", Path: filepath.Join(root, name), Err: err}
	}
}

// Remove deletes root/name and everything in it without following any
// link: a link is removed, not what it points to. A missing directory is
// not an error.
func Remove(root, name string) error {
	path := filepath.Join(root, name)
	if !ValidName(name) {
		return &Error{Op: "remove", Path: path, Err: errors.New("invalid directory name")}
	}
	rootFD, err := unix.Open(root, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return &Error{Op: "open home root", Path: root, Err: err}
	}
	defer unix.Close(rootFD)
	return removeAt(rootFD, name, path)
}

// removeAt removes the entry name of directory parent, recursively.
func removeAt(parent int, name, path string) error {
	return removeEntry(parent, name, path, 0)
}

func removeEntry(parent int, name, path string, depth int) error {
	if depth >= maxRemoveDepth {
		return &Error{Op: "remove", Path: path, Err: fmt.Errorf("deeper than %d levels", maxRemoveDepth)}
	}
	fd, err := unix.Openat(parent, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	switch {
	case errors.Is(err, unix.ENOENT):
		return nil
	case errors.Is(err, unix.ENOTDIR), errors.Is(err, unix.ELOOP):
		// A file or a link: unlink the entry itself.
		if err := unix.Unlinkat(parent, name, 0); err != nil && !errors.Is(err, unix.ENOENT) {
			return &Error{Op: "remove", Path: path, Err: err}
		}
		return nil
	case err != nil:
		return &Error{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(fd)
	// Entries may keep appearing if someone writes into the directory
	// while it is being removed; a few passes settle that.
	for pass := 0; ; pass++ {
		names, err := readDirNames(fd, path)
		if err != nil {
			return &Error{Op: "read", Path: path, Err: err}
		}
		for _, n := range names {
			if err := removeEntry(fd, n, filepath.Join(path, n), depth+1); err != nil {
				return err
			}
		}
		err = unix.Unlinkat(parent, name, unix.AT_REMOVEDIR)
		if err == nil || errors.Is(err, unix.ENOENT) {
			return nil
		}
		if !errors.Is(err, unix.ENOTEMPTY) || pass >= 3 {
			return &Error{Op: "rmdir", Path: path, Err: err}
		}
	}
}

// readDirNames lists the directory open as fd (without consuming fd).
func readDirNames(fd int, path string) ([]string, error) {
	dup, err := unix.Dup(fd)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(dup), path)
	defer f.Close()
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	return f.Readdirnames(-1)
}

func readlinkat(dirfd int, name string) (string, error) {
	for size := 256; size <= 1<<16; size *= 2 {
		buf := make([]byte, size)
		n, err := unix.Readlinkat(dirfd, name, buf)
		if err != nil {
			return "", err
		}
		if n < size {
			return string(buf[:n]), nil
		}
	}
	return "", errors.New("link target too long")
}
