package adduser

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/csclub/ceo/ops/acl"
	"github.com/csclub/ceo/ops/config"
	"github.com/csclub/ceo/ops/directory"
	"github.com/csclub/ceo/ops/journal"
	"github.com/csclub/ceo/ops/kadmin"
)

// ErrNoAdminKeytab is Setup's error when ceod.cf names no admin_keytab.
var ErrNoAdminKeytab = errors.New("adduser: no admin keytab (set admin_keytab in ceod.cf)")

// Options are what Setup needs besides accounts.cf.
type Options struct {
	// KRB5Config is the krb5.conf for the LDAP bind and kadmin; "" means
	// $KRB5_CONFIG, else /etc/krb5.conf.
	KRB5Config string
	// LDAPServicePrincipal is the LDAP server's principal; "" derives
	// "ldap/<host>" from ldap_server_url.
	LDAPServicePrincipal string
	// Directory, if set, is a client from directory.DialAccounts with
	// the same configuration, shared with the caller, who closes it;
	// nil makes Setup dial its own.
	Directory *directory.Client
	// Kadmin, if set, is the caller's kadmin client (from NewKadmin),
	// shared and closed by the caller; nil makes Setup make its own.
	Kadmin *kadmin.Client
	// ACL, Log, Journal and Recoverer, as in Deps.
	ACL       *acl.ACL
	Log       *slog.Logger
	Journal   *journal.Journal
	Recoverer *journal.Recoverer
}

// Setup builds the adduser handler from the configuration, as ceod does:
// a directory client that binds with SASL GSSAPI as ldap_admin_principal
// and a kadmin client running as krb5_admin_principal, both with the keys
// in cfg.AdminKeytab (ceod.cf admin_keytab). It connects to LDAP once to
// check the URL and credentials. Close the handler to release the LDAP
// connections and the kadmin session it opened.
func Setup(ctx context.Context, cfg *config.Accounts, opts Options) (*Handler, error) {
	if cfg == nil {
		return nil, errors.New("adduser: no accounts configuration")
	}
	if cfg.AdminKeytab == "" {
		return nil, ErrNoAdminKeytab
	}
	dir := opts.Directory
	if dir == nil {
		o := directory.AccountsOptions{KRB5Config: opts.KRB5Config, ServicePrincipal: opts.LDAPServicePrincipal}
		if opts.Log != nil {
			o.Log = opts.Log.WithGroup("directory")
		}
		dialCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		var err error
		if dir, err = directory.DialAccounts(dialCtx, cfg, o); err != nil {
			return nil, fmt.Errorf("adduser: %w", err)
		}
	}
	kadm := opts.Kadmin
	if kadm == nil {
		kadm = NewKadmin(cfg, opts.KRB5Config, opts.Log)
	}
	h, err := New(Deps{Config: cfg, Directory: dir, Kadmin: kadm, ACL: opts.ACL, Log: opts.Log, Journal: opts.Journal, Recoverer: opts.Recoverer})
	owned := opts.Directory == nil
	if err != nil {
		if owned {
			dir.Close()
		}
		return nil, err
	}
	if owned {
		h.closers = append(h.closers, dir.Close)
	}
	if opts.Kadmin == nil {
		h.closers = append(h.closers, kadm.Close)
	}
	return h, nil
}

// NewKadmin is the kadmin client of ceod's account ops: it runs as
// krb5_admin_principal with admin_keytab, in one long-lived session
// (kadmin.Client.Session: a query costs an RPC, not a login). Close it
// when done.
func NewKadmin(cfg *config.Accounts, krb5Config string, log *slog.Logger) *kadmin.Client {
	return &kadmin.Client{
		Principal:  cfg.KRB5AdminPrincipal,
		Keytab:     cfg.AdminKeytab,
		Realm:      cfg.KRB5Realm,
		Path:       cfg.KadminPath,
		Timeout:    cfg.KadminTimeout,
		KRB5Config: krb5Config,
		Log:        log,
		Session:    true,
	}
}
