package adduser

import (
	"errors"
	"os/user"
	"strconv"
)

// NSS answers whether a name or number is taken according to the name
// service switch (local files, and whatever else nsswitch.conf lists),
// which may know accounts that are not in LDAP.
type NSS interface {
	UserExists(name string) (bool, error)
	GroupExists(name string) (bool, error)
	// IDInUse reports whether id is a uid or a gid.
	IDInUse(id int) (bool, error)
}

// SystemNSS is NSS through package os/user (getpwnam and friends with
// cgo, /etc/passwd and /etc/group without).
type SystemNSS struct{}

// UserExists implements NSS.
func (SystemNSS) UserExists(name string) (bool, error) {
	_, err := user.Lookup(name)
	return found(err, user.UnknownUserError(name))
}

// GroupExists implements NSS.
func (SystemNSS) GroupExists(name string) (bool, error) {
	_, err := user.LookupGroup(name)
	return found(err, user.UnknownGroupError(name))
}

// IDInUse implements NSS.
func (SystemNSS) IDInUse(id int) (bool, error) {
	s := strconv.Itoa(id)
	_, err := user.LookupId(s)
	if ok, err := found(err, user.UnknownUserIdError(id)); ok || err != nil {
		return ok, err
	}
	_, err = user.LookupGroupId(s)
	return found(err, user.UnknownGroupIdError(s))
}

// found maps a lookup error to (exists, error): the "unknown" error of
// the lookup's kind means no.
func found[E error](err error, _ E) (bool, error) {
	if err == nil {
		return true, nil
	}
	var unknown E
	if errors.As(err, &unknown) {
		return false, nil
	}
	return false, err
}
