package server

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/csclub/ceo/ops"
)

// Callers is the one mapping from an authenticated Kerberos principal to
// the caller the ops see: ops never parse principals themselves.
//
// A principal is accepted only from a listed realm (by default the
// local realm, the service principal's). A principal of one component
// ("alice@REALM") is the user of that name. A principal with an
// instance ("alice/admin@REALM", also host and service principals) is
// refused unless Instances maps it to a user: an instance is a separate
// credential, often more powerful, and acting as plain "alice" with it
// must be a decision, not an accident.
type Callers struct {
	// Realms are the realms whose principals may call ops. Empty means
	// the local realm only.
	Realms []string
	// Instances maps a principal with an instance, written without its
	// realm ("alice/admin"), to the user it acts as ("alice").
	Instances map[string]string
}

// errCallerRefused marks a valid ticket whose principal may not call
// ops.
var errCallerRefused = errors.New("principal may not call ops")

// caller returns the caller principal acts as, or an error wrapping
// errCallerRefused. localRealm is used when c.Realms is empty.
func (c Callers) caller(principal, localRealm string) (ops.Caller, error) {
	name, realm, ok := cutRealm(principal)
	if !ok || name == "" || realm == "" || strings.Contains(name, "@") {
		return ops.Caller{}, fmt.Errorf("%w: malformed principal %q", errCallerRefused, principal)
	}
	realms := c.Realms
	if len(realms) == 0 {
		realms = []string{localRealm}
	}
	if !slices.Contains(realms, realm) {
		return ops.Caller{}, fmt.Errorf("%w: realm %s is not accepted (accepted: %s; ceod.cf caller_realms)",
			errCallerRefused, realm, strings.Join(realms, " "))
	}
	user, ok := name, !strings.Contains(name, "/")
	if !ok {
		user, ok = c.Instances[name]
	}
	if ok {
		return ops.Caller{User: user, Principal: principal, Realm: realm}, nil
	}
	return ops.Caller{}, fmt.Errorf("%w: %s has an instance and no rule maps it (ceod.cf caller_instances)",
		errCallerRefused, name)
}

// cutRealm splits "name@REALM" at its last "@".
func cutRealm(principal string) (name, realm string, ok bool) {
	i := strings.LastIndexByte(principal, '@')
	if i < 0 {
		return principal, "", false
	}
	return principal[:i], principal[i+1:], true
}
