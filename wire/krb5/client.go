package krb5

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/jcmturner/gokrb5/v8/client"
	"github.com/jcmturner/gokrb5/v8/config"
	"github.com/jcmturner/gokrb5/v8/credentials"
	"github.com/jcmturner/gokrb5/v8/iana/nametype"
	"github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/jcmturner/gokrb5/v8/types"
)

// DefaultCCacheName returns $KRB5CCNAME, or Debian's default
// FILE:/tmp/krb5cc_<uid> when it is unset.
func DefaultCCacheName() string {
	if env := os.Getenv("KRB5CCNAME"); env != "" {
		return env
	}
	return fmt.Sprintf("FILE:/tmp/krb5cc_%d", os.Getuid())
}

// ccachePath turns a ccache name into a file path: FILE:path or a bare
// path. Other types (KEYRING:, KCM:, DIR:, MEMORY:, ...) are refused
// because gokrb5 reads only FILE caches.
func ccachePath(name string) (string, error) {
	if rest, ok := strings.CutPrefix(name, "FILE:"); ok {
		name = rest
	} else if i := strings.IndexByte(name, ':'); i > 0 && !strings.Contains(name[:i], "/") {
		return "", fmt.Errorf("krb5: credentials cache %q: only FILE: caches are supported", name)
	}
	if name == "" {
		return "", errors.New("krb5: empty credentials cache name")
	}
	return name, nil
}

// ClientFromCCache returns a client using the TGT in the FILE credentials
// cache ccname ("" means DefaultCCacheName()). A "FILE:" prefix is
// stripped. The error says "run kinit" when the cache is missing, holds no
// TGT for its default principal's realm, or that TGT has expired. gokrb5
// does not renew ccache-based TGTs.
func ClientFromCCache(cfg *config.Config, ccname string) (*client.Client, error) {
	cl, _, _, err := clientFromCCache(cfg, ccname)
	return cl, err
}

// TicketsFromCCache is ClientFromCCache with the service-ticket source for
// the client (NewTickets), which looks its first ticket up in the cache
// as read here: one read of the cache for a call whose ticket is cached.
func TicketsFromCCache(cfg *config.Config, ccname string) (*Tickets, error) {
	cl, path, cc, err := clientFromCCache(cfg, ccname)
	if err != nil {
		return nil, err
	}
	t := NewTickets(cl, path)
	t.read = cc
	return t, nil
}

func clientFromCCache(cfg *config.Config, ccname string) (*client.Client, string, *credentials.CCache, error) {
	if cfg == nil {
		return nil, "", nil, errors.New("krb5: nil config")
	}
	if ccname == "" {
		ccname = DefaultCCacheName()
	}
	path, err := ccachePath(ccname)
	if err != nil {
		return nil, "", nil, err
	}
	cc, err := ReadCCache(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, "", nil, fmt.Errorf("krb5: no credentials cache at %s (run kinit)", path)
		}
		return nil, "", nil, fmt.Errorf("krb5: reading credentials cache %s: %w", path, err)
	}
	realm := cc.DefaultPrincipal.Realm
	tgt, ok := cc.GetEntry(types.PrincipalName{
		NameType:   nametype.KRB_NT_SRV_INST,
		NameString: []string{"krbtgt", realm},
	})
	if !ok {
		return nil, "", nil, fmt.Errorf("krb5: credentials cache %s holds no ticket-granting ticket for %s (run kinit)", path, realm)
	}
	if !time.Now().Before(tgt.EndTime) {
		return nil, "", nil, fmt.Errorf("krb5: ticket-granting ticket in %s expired at %s (run kinit)", path, tgt.EndTime.UTC().Format(time.RFC3339))
	}
	cl, err := client.NewFromCCache(cc, cfg)
	if err != nil {
		return nil, "", nil, fmt.Errorf("krb5: using credentials cache %s: %w", path, err)
	}
	return cl, path, cc, nil
}

// ClientFromKeytab returns a client that logs in as principal ("name/inst"
// or "name/inst@REALM"; without a realm, the config's default_realm) with
// the keys in the keytab file. It checks offline that the keytab holds a
// key for the principal of an enctype in default_tkt_enctypes.
func ClientFromKeytab(cfg *config.Config, principal, keytabPath string) (*client.Client, error) {
	name, realm, err := clientPrincipal(cfg, principal)
	if err != nil {
		return nil, err
	}
	kt, err := keytab.Load(keytabPath)
	if err != nil {
		return nil, fmt.Errorf("krb5: loading keytab %s: %w", keytabPath, err)
	}
	if !hasUsableKey(kt, name, realm, cfg.LibDefaults.DefaultTktEnctypeIDs) {
		return nil, fmt.Errorf("krb5: keytab %s has no key for %s@%s with an enctype in default_tkt_enctypes %v", keytabPath, name.PrincipalNameString(), realm, cfg.LibDefaults.DefaultTktEnctypeIDs)
	}
	return checked(client.NewWithKeytab(name.PrincipalNameString(), realm, kt, cfg))
}

func hasUsableKey(kt *keytab.Keytab, name types.PrincipalName, realm string, etypes []int32) bool {
	for _, et := range etypes {
		if _, _, err := kt.GetEncryptionKey(name, realm, 0, et); err == nil {
			return true
		}
	}
	return false
}

// ClientFromPassword returns a client that logs in as principal (as for
// ClientFromKeytab) with password. The password is not checked until the
// first login; call Login to check it now.
func ClientFromPassword(cfg *config.Config, principal, password string) (*client.Client, error) {
	name, realm, err := clientPrincipal(cfg, principal)
	if err != nil {
		return nil, err
	}
	if password == "" {
		return nil, fmt.Errorf("krb5: empty password for %s@%s", name.PrincipalNameString(), realm)
	}
	return checked(client.NewWithPassword(name.PrincipalNameString(), realm, password, cfg))
}

// clientPrincipal is principal's name and realm for a client with
// configuration cfg (whose default_realm it may take).
func clientPrincipal(cfg *config.Config, principal string) (types.PrincipalName, string, error) {
	if cfg == nil {
		return types.PrincipalName{}, "", errors.New("krb5: nil config")
	}
	name, realm, ok := principalFor(principal, cfg.LibDefaults.DefaultRealm)
	if !ok {
		return types.PrincipalName{}, "", fmt.Errorf("krb5: bad principal %q (want name[/instance][@REALM], and a default_realm if the realm is omitted)", principal)
	}
	return name, realm, nil
}

// checked runs gokrb5's own configuration check and also requires a KDC
// for the client's realm (gokrb5 only checks realms that are listed), so
// that a typo in a realm fails here rather than at first use.
func checked(cl *client.Client) (*client.Client, error) {
	who := cl.Credentials.CName().PrincipalNameString() + "@" + cl.Credentials.Domain()
	if ok, err := cl.IsConfigured(); !ok {
		return nil, fmt.Errorf("krb5: client for %s: %w", who, err)
	}
	if cl.Config.LibDefaults.DNSLookupKDC {
		return cl, nil
	}
	for _, r := range cl.Config.Realms {
		if r.Realm == cl.Credentials.Domain() && len(r.KDC) > 0 {
			return cl, nil
		}
	}
	return nil, fmt.Errorf("krb5: client for %s: krb5.conf lists no kdc for realm %s", who, cl.Credentials.Domain())
}
