package directory

import (
	"errors"
	"fmt"
	"net/url"

	"github.com/go-ldap/ldap/v3"
	"github.com/jcmturner/gokrb5/v8/config"

	"github.com/csclub/ceo/wire/krb5"
	"github.com/csclub/ceo/wire/krb5/gss"
	"github.com/csclub/ceo/wire/krb5/ldapgss"
)

// GSSAPIBind returns a BindFunc that binds with SASL GSSAPI as principal
// (e.g. "ceod/admin"), whose keys are in keytab, to the service principal
// spn (e.g. "ldap/localhost"). krb5Config is the krb5.conf to read; ""
// means $KRB5_CONFIG, else /etc/krb5.conf. One Kerberos client is shared
// by all binds, so the TGT and the LDAP service ticket are fetched once
// and renewed as they expire.
//
// This file is the only part of ops that imports the wire layer's
// Kerberos packages.
func GSSAPIBind(krb5Config, principal, keytab, spn string) (BindFunc, error) {
	if spn == "" {
		return nil, errors.New("directory: GSSAPI bind needs the LDAP service principal")
	}
	cfg, err := loadKRB5(krb5Config)
	if err != nil {
		return nil, fmt.Errorf("directory: %w", err)
	}
	cl, err := krb5.ClientFromKeytab(cfg, principal, keytab)
	if err != nil {
		return nil, fmt.Errorf("directory: %w", err)
	}
	return func(conn *ldap.Conn) error {
		if err := cl.AffirmLogin(); err != nil {
			return fmt.Errorf("kerberos login as %s: %w", principal, err)
		}
		if err := conn.GSSAPIBind(ldapgss.NewClient(cl), spn, ""); err != nil {
			return fmt.Errorf("SASL GSSAPI bind as %s to %s: %w", principal, spn, err)
		}
		return nil
	}, nil
}

func loadKRB5(path string) (*config.Config, error) {
	if path == "" {
		return krb5.LoadConfig()
	}
	return krb5.LoadConfigFile(path)
}

// ServicePrincipal is the conventional LDAP service principal for an
// ldap:// or ldaps:// URL: "ldap/<host>".
func ServicePrincipal(serverURL string) (string, error) {
	u, err := url.Parse(serverURL)
	if err != nil || u.Hostname() == "" || (u.Scheme != "ldap" && u.Scheme != "ldaps") {
		return "", fmt.Errorf("directory: cannot derive an LDAP service principal from %q", serverURL)
	}
	return "ldap/" + u.Hostname(), nil
}

// DelegatedBind returns a BindFunc that binds with SASL GSSAPI to spn as
// the owner of the forwarded TGT cred, held in memory only (no ccache
// file), and a release func that destroys the Kerberos client; the caller
// still wipes cred.
func DelegatedBind(krb5Config, spn string, cred *gss.Delegated) (BindFunc, func(), error) {
	if spn == "" || cred == nil {
		return nil, nil, errors.New("directory: delegated bind needs the LDAP service principal and a credential")
	}
	cfg, err := loadKRB5(krb5Config)
	if err != nil {
		return nil, nil, fmt.Errorf("directory: %w", err)
	}
	c, err := krb5.CredentialFromKrbCred(cred.Ticket, cred.Info)
	if err != nil {
		return nil, nil, fmt.Errorf("directory: %w", err)
	}
	cl, err := krb5.ClientFromCredential(cfg, c)
	if err != nil {
		return nil, nil, fmt.Errorf("directory: %w", err)
	}
	who := cred.Client()
	return func(conn *ldap.Conn) error {
		if err := conn.GSSAPIBind(ldapgss.NewClient(cl), spn, ""); err != nil {
			return fmt.Errorf("SASL GSSAPI bind as %s (delegated) to %s: %w", who, spn, err)
		}
		return nil
	}, cl.Destroy, nil
}
