package krb5

import (
	"strings"

	"github.com/jcmturner/gokrb5/v8/iana/nametype"
	"github.com/jcmturner/gokrb5/v8/types"
)

// SplitPrincipal splits "name/inst@REALM" into its name (components split
// on "/", name type NT-PRINCIPAL) and realm. The realm is the text after
// the last "@" and is "" if there is none. Backslash escapes are not
// interpreted: CSC principals never contain "/" or "@" inside a component.
func SplitPrincipal(p string) (name types.PrincipalName, realm string) {
	if i := strings.LastIndexByte(p, '@'); i >= 0 {
		p, realm = p[:i], p[i+1:]
	}
	return types.PrincipalName{
		NameType:   nametype.KRB_NT_PRINCIPAL,
		NameString: strings.Split(p, "/"),
	}, realm
}

// principalFor splits p and fills in the default realm of cfg when p has
// none.
func principalFor(p, defaultRealm string) (name types.PrincipalName, realm string, ok bool) {
	name, realm = SplitPrincipal(p)
	if realm == "" {
		realm = defaultRealm
	}
	for _, c := range name.NameString {
		if c == "" {
			return name, realm, false
		}
	}
	return name, realm, realm != ""
}
