// Package session establishes who is using ceo and connects as them:
//
//   - Kerberos: the TGT in the user's FILE credentials cache
//     ($KRB5CCNAME). Without a valid one, Login asks for the password (the
//     caller supplies the no-echo prompt), gets a TGT from the KDC and
//     stores it in that cache, so the user never needs kinit and every
//     later step (LDAP, ceoc) finds it where MIT tools would.
//   - LDAP: a connection bound with SASL GSSAPI as that user, so that the
//     directory's own access rules decide what they may change.
//
// Every network step has a deadline and honours its context, so a slow
// server cannot hang the front end.
package session

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/user"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"
	"github.com/jcmturner/gokrb5/v8/client"
	krbconfig "github.com/jcmturner/gokrb5/v8/config"
	"github.com/jcmturner/gokrb5/v8/messages"

	"github.com/csclub/ceo/ops/directory"
	"github.com/csclub/ceo/wire/krb5"
)

// PasswordFunc asks the person at the terminal for a password without
// echoing it. It returns an error if they give up (end of input).
type PasswordFunc func(ctx context.Context, prompt string) (string, error)

// Options tune Login. The zero value logs in from $KRB5CCNAME with no
// password prompt.
type Options struct {
	// CCName is the credentials cache ("FILE:path" or a path); "" means
	// $KRB5CCNAME or FILE:/tmp/krb5cc_<uid>.
	CCName string
	// Principal is whom to log in as when there is no valid ticket; ""
	// means the cache's principal if the cache is readable, else the login
	// name.
	Principal string
	// Password is called for the password when there is no valid ticket;
	// nil means fail with ErrNoTicket instead.
	Password PasswordFunc
	// Tries bounds the password attempts; 0 means 3.
	Tries int
	// Timeout bounds one KDC exchange; 0 means 30s.
	Timeout time.Duration
	// Notify, if set, is told about a wrong password before the next try.
	Notify func(msg string)
}

// ErrNoTicket means there is no valid TGT and no way to ask for a password.
var ErrNoTicket = errors.New("no valid Kerberos ticket (run kinit, or start ceo at a terminal to type your password)")

// Session is an authenticated user.
type Session struct {
	KrbConfig *krbconfig.Config
	Krb       *client.Client
	CCache    string // path of the FILE credentials cache holding the TGT
	User      string // the principal without its realm, e.g. "alice"
	Realm     string
}

// Login returns a session for the user of the credentials cache, asking
// for a password (through opts.Password) when the cache holds no valid
// TGT; the new TGT is written to the cache.
func Login(ctx context.Context, opts Options) (*Session, error) {
	cfg, err := krb5.LoadConfig()
	if err != nil {
		return nil, fmt.Errorf("session: %w", err)
	}
	ccname := opts.CCName
	if ccname == "" {
		ccname = krb5.DefaultCCacheName()
	}
	path := strings.TrimPrefix(ccname, "FILE:")
	if cl, err := krb5.ClientFromCCache(cfg, ccname); err == nil {
		return newSession(cfg, cl, path), nil
	} else if opts.Password == nil {
		return nil, fmt.Errorf("session: %w: %v", ErrNoTicket, err)
	}
	if i := strings.IndexByte(ccname, ':'); i > 0 && !strings.HasPrefix(ccname, "FILE:") && !strings.Contains(ccname[:i], "/") {
		return nil, fmt.Errorf("session: credentials cache %q: only FILE: caches are supported", ccname)
	}
	principal := opts.Principal
	if principal == "" {
		principal = cachePrincipal(path)
	}
	if principal == "" {
		if u, err := user.Current(); err == nil {
			principal = u.Username
		}
	}
	if principal == "" {
		return nil, errors.New("session: cannot tell whom to log in as (give --principal)")
	}
	name, realm, _ := strings.Cut(principal, "@")
	if realm == "" {
		realm = cfg.LibDefaults.DefaultRealm
	}
	tries := opts.Tries
	if tries <= 0 {
		tries = 3
	}
	for try := 1; ; try++ {
		pw, err := opts.Password(ctx, fmt.Sprintf("Password for %s@%s: ", name, realm))
		if err != nil {
			return nil, fmt.Errorf("session: no password given: %w", err)
		}
		err = GetTicket(ctx, cfg, name+"@"+realm, pw, path, opts.Timeout)
		if err == nil {
			break
		}
		if !errors.Is(err, ErrBadPassword) || try >= tries {
			return nil, err
		}
		if opts.Notify != nil {
			opts.Notify("Password incorrect, try again.")
		}
	}
	cl, err := krb5.ClientFromCCache(cfg, "FILE:"+path)
	if err != nil {
		return nil, fmt.Errorf("session: reading the new ticket: %w", err)
	}
	return newSession(cfg, cl, path), nil
}

func newSession(cfg *krbconfig.Config, cl *client.Client, path string) *Session {
	return &Session{
		KrbConfig: cfg,
		Krb:       cl,
		CCache:    path,
		User:      cl.Credentials.CName().PrincipalNameString(),
		Realm:     cl.Credentials.Domain(),
	}
}

// cachePrincipal is the default principal of the cache at path, or "".
func cachePrincipal(path string) string {
	cc, err := krb5.ReadCCache(path)
	if err != nil || len(cc.DefaultPrincipal.PrincipalName.NameString) == 0 {
		return ""
	}
	return cc.DefaultPrincipal.PrincipalName.PrincipalNameString() + "@" + cc.DefaultPrincipal.Realm
}

// Login errors that callers show differently.
var (
	ErrBadPassword      = errors.New("password incorrect")
	ErrUnknownPrincipal = errors.New("no such Kerberos user")
	ErrPasswordExpired  = errors.New("password has expired (change it with kpasswd)")
	ErrKDCUnreachable   = errors.New("cannot reach the Kerberos server")
)

// GetTicket logs principal in with password (an AS exchange with the
// KDC, bounded by timeout and ctx) and stores the TGT in the FILE ccache
// at path, replacing what was there.
func GetTicket(ctx context.Context, cfg *krbconfig.Config, principal, password, path string, timeout time.Duration) error {
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	cl, err := krb5.ClientFromPassword(cfg, principal, password)
	if err != nil {
		return fmt.Errorf("session: %w", err)
	}
	defer cl.Destroy()
	type result struct {
		rep messages.ASRep
		err error
	}
	done := make(chan result, 1)
	go func() {
		req, err := messages.NewASReqForTGT(cl.Credentials.Domain(), cl.Config, cl.Credentials.CName())
		if err != nil {
			done <- result{err: err}
			return
		}
		rep, err := cl.ASExchange(cl.Credentials.Domain(), req, 0)
		done <- result{rep, err}
	}()
	var res result
	select {
	case res = <-done:
	case <-time.After(timeout):
		return fmt.Errorf("session: getting a ticket for %s: %w (no answer in %v)", principal, ErrKDCUnreachable, timeout)
	case <-ctx.Done():
		return fmt.Errorf("session: getting a ticket for %s: %w", principal, ctx.Err())
	}
	if res.err != nil {
		return fmt.Errorf("session: getting a ticket for %s: %w", principal, classifyKrbError(res.err))
	}
	cred, err := krb5.CredentialFromKDCRep(res.rep.CRealm, res.rep.CName, res.rep.Ticket, res.rep.DecryptedEncPart)
	if err != nil {
		return fmt.Errorf("session: %w", err)
	}
	if err := krb5.WriteCCache(path, cred); err != nil {
		return fmt.Errorf("session: %w", err)
	}
	return nil
}

// classifyKrbError turns gokrb5's flattened error strings into our
// sentinels (gokrb5 errors do not unwrap).
func classifyKrbError(err error) error {
	s := err.Error()
	switch {
	case strings.Contains(s, "KDC_ERR_PREAUTH_FAILED"),
		strings.Contains(s, "client password/keytab incorrect"),
		strings.Contains(s, "Decrypting_Error"):
		return ErrBadPassword
	case strings.Contains(s, "KDC_ERR_C_PRINCIPAL_UNKNOWN"):
		return ErrUnknownPrincipal
	case strings.Contains(s, "KDC_ERR_KEY_EXPIRED"):
		return ErrPasswordExpired
	case strings.Contains(s, "Networking_Error"):
		return fmt.Errorf("%w (%v)", ErrKDCUnreachable, err)
	}
	return err
}

// LDAPOptions tune ConnectLDAP.
type LDAPOptions struct {
	Timeout time.Duration // dial and per-request timeout; 0 means 30s
}

// LDAPBind returns the bind of a connection to rawURL as the session's
// user: SASL GSSAPI with a ticket for ldap/<host of the URL>.
func (s *Session) LDAPBind(rawURL string) (directory.BindFunc, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Hostname() == "" {
		return nil, fmt.Errorf("session: ldap_server_url %q is not a URL with a host", rawURL)
	}
	spn := "ldap/" + u.Hostname()
	return func(conn *ldap.Conn) error {
		if err := conn.GSSAPIBind(gssapiClient(s.Krb), spn, ""); err != nil {
			return fmt.Errorf("logging in to the directory at %s as %s: %w", rawURL, s.User, ldapProblem(err))
		}
		return nil
	}, nil
}

// ConnectLDAP dials rawURL and binds with SASL GSSAPI as the session's
// user, asking for a ticket to ldap/<host of the URL>.
func (s *Session) ConnectLDAP(ctx context.Context, rawURL string, opts LDAPOptions) (*ldap.Conn, error) {
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	bind, err := s.LDAPBind(rawURL)
	if err != nil {
		return nil, err
	}
	type result struct {
		conn *ldap.Conn
		err  error
	}
	done := make(chan result, 1)
	go func() {
		d := &net.Dialer{Timeout: timeout}
		conn, err := ldap.DialURL(rawURL, ldap.DialWithDialer(d))
		if err != nil {
			done <- result{err: fmt.Errorf("%w at %s: %v", ErrDirectoryUnreachable, rawURL, err)}
			return
		}
		conn.SetTimeout(timeout)
		if err := bind(conn); err != nil {
			conn.Close()
			done <- result{err: err}
			return
		}
		done <- result{conn: conn}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			return nil, fmt.Errorf("session: %w", r.err)
		}
		return r.conn, nil
	case <-ctx.Done():
		go func() {
			if r := <-done; r.conn != nil {
				r.conn.Close()
			}
		}()
		return nil, fmt.Errorf("session: connecting to %s: %w", rawURL, ctx.Err())
	}
}

// ErrDirectoryUnreachable: the LDAP server could not be reached or did not
// answer in time.
var ErrDirectoryUnreachable = errors.New("cannot reach the directory")

// ldapProblem rewords go-ldap's "LDAP Result Code 200 ..." errors.
func ldapProblem(err error) error {
	var le *ldap.Error
	if !errors.As(err, &le) {
		return err
	}
	if le.ResultCode == ldap.ErrorNetwork {
		if le.Err != nil && strings.Contains(le.Err.Error(), "timed out") {
			return fmt.Errorf("%w: the server did not answer in time", ErrDirectoryUnreachable)
		}
		return fmt.Errorf("%w: %v", ErrDirectoryUnreachable, le.Err)
	}
	name := ldap.LDAPResultCodeMap[le.ResultCode]
	if name == "" {
		name = fmt.Sprintf("LDAP error %d", le.ResultCode)
	}
	if le.Err != nil {
		return fmt.Errorf("%s: %w", name, le.Err)
	}
	return errors.New(name)
}

// Close stops the Kerberos client.
func (s *Session) Close() {
	if s != nil && s.Krb != nil {
		s.Krb.Destroy()
	}
}

// SetEnv points this process's $KRB5CCNAME at the session's cache, so
// that libraries and child processes that read the variable (ceoc) use
// the ticket Login found or made. Only main should call it.
func (s *Session) SetEnv() error {
	return os.Setenv("KRB5CCNAME", "FILE:"+s.CCache)
}
