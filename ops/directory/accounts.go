package directory

import (
	"context"
	"log/slog"

	"github.com/csclub/ceo/ops/config"
)

// AccountsOptions are DialAccounts' inputs besides accounts.cf.
type AccountsOptions struct {
	// KRB5Config is the krb5.conf for the GSSAPI bind; "" means
	// $KRB5_CONFIG, else /etc/krb5.conf.
	KRB5Config string
	// ServicePrincipal is the LDAP server's principal; "" derives
	// "ldap/<host>" from ldap_server_url.
	ServicePrincipal string
	// Log, as in Config.
	Log *slog.Logger
}

// DialAccounts connects to the directory accounts.cf describes: bound
// with SASL GSSAPI as ldap_admin_principal with the keys in
// a.AdminKeytab (ceod.cf admin_keytab) when that is set, anonymously
// otherwise. Like Dial, it connects once to check the URL and
// credentials.
func DialAccounts(ctx context.Context, a *config.Accounts, o AccountsOptions) (*Client, error) {
	var bind BindFunc
	if a.AdminKeytab != "" {
		spn := o.ServicePrincipal
		if spn == "" {
			var err error
			if spn, err = ServicePrincipal(a.LDAPServerURL); err != nil {
				return nil, err
			}
		}
		var err error
		if bind, err = GSSAPIBind(o.KRB5Config, a.LDAPAdminPrincipal, a.AdminKeytab, spn); err != nil {
			return nil, err
		}
	}
	cfg := FromAccounts(a, bind)
	cfg.Log = o.Log
	return Dial(ctx, cfg)
}
