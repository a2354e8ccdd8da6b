// Package check finds what ceod needs at run time and is missing, so
// that "ceod -check" and ceod's own start name every problem at once
// instead of failing one request at a time later.
//
// A Problem is fatal (the configuration or the host must change: a
// missing keytab, binary, directory or op program) or transient (it
// may pass by itself: DNS or a service not up yet). ceod refuses to
// start on either, with a different exit status for each, so that
// systemd retries only the transient ones.
package check

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"

	"github.com/jcmturner/gokrb5/v8/keytab"

	"github.com/csclub/ceo/ceoc/opsfile"
	"github.com/csclub/ceo/ceod/builtin"
	ceodconfig "github.com/csclub/ceo/ceod/config"
	"github.com/csclub/ceo/ceod/registry"
	"github.com/csclub/ceo/ops/config"
)

// DefaultKRB5Config is the Kerberos configuration used when
// $KRB5_CONFIG is unset, as by the MIT library and gokrb5's callers.
const DefaultKRB5Config = "/etc/krb5.conf"

// Problem is one thing ceod needs and lacks.
type Problem struct {
	// What names the missing piece as the administrator knows it: a
	// file, a setting, a program, a service.
	What string
	// Err says what is wrong with it.
	Err error
	// Transient problems may pass without a change (DNS, a service
	// still starting); the others need the administrator.
	Transient bool
}

func (p Problem) Error() string { return p.What + ": " + p.Err.Error() }

// Report is the outcome of the checks, in the order they ran.
type Report []Problem

// Fatal reports whether some problem needs the administrator.
func (r Report) Fatal() bool {
	for _, p := range r {
		if !p.Transient {
			return true
		}
	}
	return false
}

// Host is what the checks read: the resolved configuration of this
// ceod.
type Host struct {
	// ConfigDir holds ceod.cf, accounts.cf and the other ops' files.
	ConfigDir string
	// Ceod is ceod.cf with Hostname, ServicePrincipal (without realm),
	// Keytab and LibDir filled in.
	Ceod *ceodconfig.Ceod
	// KRB5Config is $KRB5_CONFIG ("" means DefaultKRB5Config); it may
	// list several files separated by colons.
	KRB5Config string
	// Local are the ops this host owns; Unresolved the errors of the
	// op hosts whose names did not resolve.
	Local      []opsfile.Op
	Unresolved []error
}

// Run checks everything ceod needs for h: the service keytab, the krb5
// configuration, the op programs and their users, and for the account
// ops their files, programs, directories, keytab and services.
func Run(ctx context.Context, h Host) Report {
	var r Report
	add := func(what string, err error, transient bool) {
		if err != nil {
			r = append(r, Problem{What: what, Err: err, Transient: transient})
		}
	}
	if len(h.Local) == 0 {
		err := fmt.Errorf("no op in the ops files (%s) is owned by %s", filepath.Join(h.ConfigDir, "ops"), h.Ceod.Hostname)
		if len(h.Unresolved) > 0 {
			err = fmt.Errorf("%w, and some op hosts do not resolve (DNS not up yet?): %w", err, errors.Join(h.Unresolved...))
		}
		// DNS may be late at boot; a host that will never own an op
		// does not need ceod configured (no ceod.cf).
		add("ops", err, true)
		return r
	}
	_, err := ServiceKeytab(h.Ceod.Keytab, h.Ceod.ServicePrincipal)
	add("service keytab", err, false)

	var account []string // built-in ops that use accounts.cf
	needKerberos := false
	for _, op := range h.Local {
		if op.Name == "ping" {
			continue
		}
		needKerberos = true
		if builtin.Has(op.Name) {
			account = append(account, op.Name)
			continue
		}
		path := registry.ProgramPath(h.Ceod.LibDir, op.Name)
		add("op "+op.Name+": program "+path, Executable(path), false)
		if _, err := user.Lookup(op.User); err != nil {
			add("op "+op.Name+": user "+op.User, err, false)
		}
	}
	if !needKerberos {
		return r
	}
	if len(account) > 0 {
		_, err := builtin.LoadACL(h.ConfigDir, account)
		add("ACL", err, false)
	}
	var acc *config.Accounts
	if len(account) > 0 {
		if acc, err = builtin.LoadAccounts(h.ConfigDir, h.Ceod); err != nil {
			add(config.AccountsFile, err, false)
		}
	}
	add("krb5 config", krb5Config(h.KRB5Config, acc), false)
	if acc == nil {
		return r
	}
	for _, name := range account {
		if name == "adduser" {
			r = append(r, adduser(acc)...)
		}
	}
	if r.Fatal() {
		// Reaching services with a configuration known to be wrong
		// would only add noise.
		return r
	}
	return append(r, services(ctx, h, acc, account)...)
}

// adduser checks what the adduser op runs and writes besides its
// services.
func adduser(acc *config.Accounts) Report {
	var r Report
	add := func(what string, err error) {
		if err != nil {
			r = append(r, Problem{What: what, Err: err})
		}
	}
	add("admin keytab (admin_keytab in ceod.cf)", adminKeytab(acc))
	add("kadmin (kadmin_path; package krb5-user)", program(acc.KadminPath))
	quota := false
	for _, p := range []struct{ key, user string }{
		{"quota_prototype", acc.QuotaPrototype},
		{"member_quota_prototype", acc.MemberQuotaPrototype},
		{"clubrep_quota_prototype", acc.ClubRepQuotaPrototype},
		{"club_quota_prototype", acc.ClubQuotaPrototype},
	} {
		if p.user == "" {
			continue
		}
		quota = true
		if _, err := user.Lookup(p.user); err != nil {
			add("quota prototype ("+p.key+" in ceod.cf)", err)
		}
	}
	if quota {
		add("setquota (setquota_path; package quota)", program(acc.SetquotaPath))
	}
	add("home root (member_home)", Dir(acc.MemberHome))
	add("home root (club_home)", Dir(acc.ClubHome))
	if acc.MemberHomeSkel != "" {
		add("skeleton (member_home_skel)", Dir(acc.MemberHomeSkel))
	}
	if acc.ClubHomeSkel != "" {
		add("skeleton (club_home_skel)", Dir(acc.ClubHomeSkel))
	}
	if acc.NotifyHook != "" {
		add("hook (notify_hook)", Executable(acc.NotifyHook))
	}
	return r
}

// ServiceKeytab loads the service keytab and checks that it has a key
// for principal (without realm).
func ServiceKeytab(path, principal string) (*keytab.Keytab, error) {
	kt, err := keytab.Load(path)
	if err != nil {
		return nil, fmt.Errorf("loading %s: %w (create it with kadmin: ktadd -k %s %s)", path, err, path, principal)
	}
	if !HasKey(kt, principal) {
		return nil, fmt.Errorf("%s has no key for %s (add one with kadmin: ktadd -k %s %s, or set keytab/service_principal in ceod.cf)", path, principal, path, principal)
	}
	return kt, nil
}

// adminKeytab checks admin_keytab: set, readable, root-only, and with
// keys for both admin principals.
func adminKeytab(acc *config.Accounts) error {
	if acc.AdminKeytab == "" {
		return errors.New("not set: the adduser op needs the keys of ldap_admin_principal and krb5_admin_principal")
	}
	fi, err := os.Stat(acc.AdminKeytab)
	if err != nil {
		return err
	}
	if fi.Mode().Perm()&0o004 != 0 {
		return fmt.Errorf("%s is readable by everyone (chmod 600 %s)", acc.AdminKeytab, acc.AdminKeytab)
	}
	kt, err := keytab.Load(acc.AdminKeytab)
	if err != nil {
		return fmt.Errorf("loading %s: %w", acc.AdminKeytab, err)
	}
	var missing []string
	for _, p := range []string{acc.LDAPAdminPrincipal, acc.KRB5AdminPrincipal} {
		name, _, _ := strings.Cut(p, "@")
		if !HasKey(kt, name) && !strings.Contains(strings.Join(missing, " "), name) {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%s has no key for %s (kadmin: ktadd -k %s %s)", acc.AdminKeytab,
			strings.Join(missing, ", "), acc.AdminKeytab, strings.Join(missing, " "))
	}
	return nil
}

// HasKey reports whether kt has a key for principal (without realm).
func HasKey(kt *keytab.Keytab, principal string) bool {
	for _, e := range kt.Entries {
		if strings.Join(e.Principal.Components, "/") == principal {
			return true
		}
	}
	return false
}

// krb5Config checks that each Kerberos configuration file is readable
// and, when the realm is known, that one of them names it.
func krb5Config(env string, acc *config.Accounts) error {
	if env == "" {
		env = DefaultKRB5Config
	}
	var all strings.Builder
	for _, path := range filepath.SplitList(env) {
		b, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("%w (install krb5-user or krb5-config and list your realm's KDC and admin_server in it)", err)
		}
		all.Write(b)
	}
	if acc != nil && acc.KRB5Realm != "" && !strings.Contains(all.String(), acc.KRB5Realm) {
		return fmt.Errorf("%s does not mention the realm %s of accounts.cf (default_realm, and its kdc and admin_server under [realms])", env, acc.KRB5Realm)
	}
	return nil
}

// program checks that name (a path, or a command looked up in PATH) is
// an executable file.
func program(name string) error {
	if _, err := exec.LookPath(name); err != nil {
		return err
	}
	return nil
}

// Executable checks that path is a regular file someone may execute.
func Executable(path string) error {
	fi, err := os.Stat(path)
	switch {
	case err != nil:
		return err
	case !fi.Mode().IsRegular():
		return fmt.Errorf("%s is not a regular file", path)
	case fi.Mode().Perm()&0o111 == 0:
		return fmt.Errorf("%s is not executable", path)
	}
	return nil
}

// Dir checks that path is a directory.
func Dir(path string) error {
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%s does not exist (create it: mkdir -p %s)", path, path)
	case err != nil:
		return err
	case !fi.IsDir():
		return fmt.Errorf("%s is not a directory", path)
	}
	return nil
}
