package adduser

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/csclub/ceo/ops/config"
	"github.com/csclub/ceo/ops/directory"
	"github.com/csclub/ceo/ops/kadmin"
)

// Options are what Setup needs besides accounts.cf.
type Options struct {
	// KRB5Config is the krb5.conf for the LDAP bind and kadmin; "" means
	// $KRB5_CONFIG, else /etc/krb5.conf.
	KRB5Config string
	// LDAPServicePrincipal is the LDAP server's principal; "" derives
	// "ldap/<host>" from ldap_server_url.
	LDAPServicePrincipal string
	// Log, as in Deps.
	Log *slog.Logger
}

// Setup builds the adduser handler from the configuration, as ceod does:
// a directory client that binds with SASL GSSAPI as ldap_admin_principal
// and a kadmin client running as krb5_admin_principal, both with the keys
// in cfg.AdminKeytab (ceod.cf admin_keytab). It connects to LDAP once to
// check the URL and credentials. Close the handler to release the LDAP
// connections.
func Setup(ctx context.Context, cfg *config.Accounts, opts Options) (*Handler, error) {
	if cfg == nil {
		return nil, errors.New("adduser: no accounts configuration")
	}
	if cfg.AdminKeytab == "" {
		return nil, errors.New("adduser: no admin keytab (set admin_keytab in ceod.cf)")
	}
	spn := opts.LDAPServicePrincipal
	if spn == "" {
		var err error
		if spn, err = directory.ServicePrincipal(cfg.LDAPServerURL); err != nil {
			return nil, fmt.Errorf("adduser: %w", err)
		}
	}
	bind, err := directory.GSSAPIBind(opts.KRB5Config, cfg.LDAPAdminPrincipal, cfg.AdminKeytab, spn)
	if err != nil {
		return nil, fmt.Errorf("adduser: %w", err)
	}
	dcfg := directory.FromAccounts(cfg, bind)
	if opts.Log != nil {
		dcfg.Log = opts.Log.WithGroup("directory")
	}
	dialCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	dir, err := directory.Dial(dialCtx, dcfg)
	if err != nil {
		return nil, fmt.Errorf("adduser: %w", err)
	}
	kadm := &kadmin.Client{
		Principal:  cfg.KRB5AdminPrincipal,
		Keytab:     cfg.AdminKeytab,
		Realm:      cfg.KRB5Realm,
		Path:       cfg.KadminPath,
		KRB5Config: opts.KRB5Config,
		Log:        opts.Log,
	}
	h, err := New(Deps{Config: cfg, Directory: dir, Kadmin: kadm, Log: opts.Log})
	if err != nil {
		dir.Close()
		return nil, err
	}
	h.closers = append(h.closers, dir.Close)
	return h, nil
}
