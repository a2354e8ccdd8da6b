package directory

import (
	"errors"
	"strings"
	"testing"

	"github.com/go-ldap/ldap/v3"
)

// TestLimitError: each of slapd's limit result codes becomes an error
// naming the limit and its setting; other errors pass through.
func TestLimitError(t *testing.T) {
	for code, want := range map[uint16][]string{
		ldap.LDAPResultSizeLimitExceeded:  {"size limit", "size.prtotal", "sizelimit"},
		ldap.LDAPResultAdminLimitExceeded: {"administrative limit", "size.unchecked"},
		ldap.LDAPResultTimeLimitExceeded:  {"time limit", "timelimit"},
	} {
		err := limitError(ldap.NewError(code, errors.New("x")), "ou=People,dc=x", 500)
		if !errors.Is(err, ErrLimit) || !ldap.IsErrorWithCode(err, code) {
			t.Errorf("code %d: %v is not ErrLimit with the code", code, err)
		}
		msg := err.Error()
		for _, w := range append(want, "after 500 entries", "ou=People,dc=x") {
			if !strings.Contains(msg, w) {
				t.Errorf("code %d: %q lacks %q", code, msg, w)
			}
		}
		if strings.Contains(msg, "Result Code") {
			t.Errorf("code %d: %q shows the bare result code", code, msg)
		}
	}
	other := ldap.NewError(ldap.LDAPResultNoSuchObject, errors.New("x"))
	if err := limitError(other, "b", 0); err != other {
		t.Errorf("limitError changed %v into %v", other, err)
	}
}
