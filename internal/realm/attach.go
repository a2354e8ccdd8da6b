package realm

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Attach returns the Realm of a running realm started in dir (by `realm
// up`), read back from its env and passwords files, so that a separate
// process (`realm seed`) can work on it. The returned Realm does not own
// the daemons: Stop does nothing, and Remove must not be called.
func Attach(dir string) (*Realm, error) {
	env := map[string]string{}
	if err := eachLine(dir+"/env", func(l string) {
		if k, v, ok := strings.Cut(strings.TrimPrefix(l, "export "), "="); ok {
			env[k] = strings.ReplaceAll(strings.Trim(v, "'"), `'\''`, "'")
		}
	}); err != nil {
		return nil, err
	}
	port, err := strconv.Atoi(env["LDAP_PORT"])
	if err != nil || env["KRB5_REALM"] == "" {
		return nil, fmt.Errorf("realm: %s/env has no LDAP_PORT or KRB5_REALM", dir)
	}
	r := newRealm(env["KRB5_REALM"], dir, port-offLDAP)
	r.LDAPRootPassword = ""
	if err := eachLine(dir+"/passwords", func(l string) {
		if name, pw, ok := strings.Cut(l, " "); ok && name == "ldap:"+r.LDAPRootDN {
			r.LDAPRootPassword = pw
		}
	}); err != nil {
		return nil, err
	}
	if r.LDAPRootPassword == "" {
		return nil, fmt.Errorf("realm: %s/passwords has no password for %s", dir, r.LDAPRootDN)
	}
	r.stopped = true // not ours to stop
	return r, nil
}

func eachLine(path string, fn func(string)) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("realm: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fn(sc.Text())
	}
	return sc.Err()
}
