package check

import (
	"context"
	"errors"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/csclub/ceo/ceod/builtin"
	"github.com/csclub/ceo/ops/config"
	"github.com/csclub/ceo/ops/directory"
	"github.com/csclub/ceo/ops/kadmin"
)

// serviceTimeout bounds reaching one service: long enough for a slow
// KDC round trip and a TLS handshake, short enough that a -check at a
// prompt answers.
const serviceTimeout = 15 * time.Second

// services reaches LDAP (as the ops bind), kadmind (as adduser runs
// kadmin) and each op's own service (MariaDB, PostgreSQL), logging in
// as ceod will.
func services(ctx context.Context, h Host, acc *config.Accounts, names []string) Report {
	var r Report
	add := func(what string, err error) {
		if err != nil {
			r = append(r, Problem{What: what, Err: err, Transient: Transient(err)})
		}
	}
	dctx, cancel := context.WithTimeout(ctx, serviceTimeout)
	dir, err := directory.DialAccounts(dctx, acc, directory.AccountsOptions{KRB5Config: h.KRB5Config})
	cancel()
	add("LDAP ("+acc.LDAPServerURL+")", err)
	if err != nil {
		// Every account op needs the directory: building them would
		// only repeat this.
		return r
	}
	dir.Close()
	for _, name := range names {
		if name == "adduser" {
			add("kadmind (krb5_admin_principal "+acc.KRB5AdminPrincipal+")", reachKadmind(ctx, h, acc))
		}
		if name == "adduser" || name == "mail" {
			continue // LDAP and kadmind only: reached above
		}
		bctx, cancel := context.WithTimeout(ctx, serviceTimeout)
		// Reaching its service only: the journal is the running ceod's.
		set, err := builtin.Build(bctx, builtin.Env{ConfigDir: h.ConfigDir, Ceod: h.Ceod, KRB5Config: h.KRB5Config, NoJournal: true}, []string{name})
		cancel()
		add(serviceOf[name], err)
		if err == nil {
			set.Close()
		}
	}
	return r
}

// serviceOf names what each op's Build reaches besides LDAP.
var serviceOf = map[string]string{
	"mysql":      "MariaDB (mysql.cf)",
	"postgresql": "PostgreSQL (postgresql.cf)",
	"mailman":    "Mailman (mailman.cf)",
}

// reachKadmind logs in to kadmind as krb5_admin_principal and looks up
// that principal, as adduser's kadmin runs do.
func reachKadmind(ctx context.Context, h Host, acc *config.Accounts) error {
	name, _, _ := strings.Cut(acc.KRB5AdminPrincipal, "@")
	c := &kadmin.Client{Principal: name, Keytab: acc.AdminKeytab, Realm: acc.KRB5Realm,
		Path: acc.KadminPath, KRB5Config: h.KRB5Config, Timeout: serviceTimeout}
	_, err := c.GetPrincipal(ctx, name)
	return err
}

// Transient reports whether err is one that may pass by itself: a
// name that does not resolve yet, a refused or timed-out connection, a
// KDC or admin server not answering.
func Transient(err error) bool {
	if err == nil {
		return false
	}
	var dnsErr *net.DNSError
	var opErr *net.OpError
	switch {
	case errors.As(err, &dnsErr), errors.As(err, &opErr),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH),
		errors.Is(err, context.DeadlineExceeded),
		ldap.IsErrorWithCode(err, ldap.ErrorNetwork), ldap.IsErrorWithCode(err, ldap.LDAPResultServerDown),
		ldap.IsErrorWithCode(err, ldap.LDAPResultUnavailable), ldap.IsErrorWithCode(err, ldap.LDAPResultBusy):
		return true
	}
	// kadmin and the GSSAPI bind report the KDC in words only.
	msg := err.Error()
	for _, s := range []string{"Cannot contact any KDC", "Communication failure with server", "Connection refused", "timed out", "connection refused", "no such host"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}
