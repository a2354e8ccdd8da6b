//go:build !linux

package mail

import (
	"errors"
	"syscall"
)

// The safe writer needs Linux's *at calls and openat2; elsewhere the op
// refuses to write.

var errUnsupported = errors.New("mail: writing .forward safely needs Linux")

type forwardFS struct {
	noOpenat2 bool
}

func (forwardFS) setForward(home string, uid, gid int, content []byte) error { return errUnsupported }
func (forwardFS) clearForward(home string, uid int) error                    { return errUnsupported }
func errno(err error) int32                                                  { return int32(syscall.ENOSYS) }
