// Package ceoc is the client side of the ceod protocol: it finds the
// host that owns an op in the legacy ops files, connects to its ceod,
// authenticates with the caller's Kerberos credentials, and sends the
// op's request sealed with the resulting GSS-API context.
//
// Most callers need only Call, which takes everything from the
// environment like the legacy ceoc program ($CEO_CONFIG_DIR, $KRB5_CONFIG,
// $KRB5CCNAME). Scripts that hold a keytab or a password use a Client
// with Credentials set; benchmarks and monitors that send many ops keep a
// Conn open.
//
// Errors say what to do about them; they wrap one of ErrNoTicket,
// ErrUnknownOp, ErrUnreachable, ErrAuth, ErrRefused or ErrProtocol.
package ceoc

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	krbconfig "github.com/jcmturner/gokrb5/v8/config"

	"github.com/csclub/ceo/ceoc/opsfile"
	"github.com/csclub/ceo/wire/krb5"
	"github.com/csclub/ceo/wire/krb5/gss"
)

// DefaultTimeout bounds connecting and authenticating when the context
// has no deadline.
const DefaultTimeout = 30 * time.Second

// Kinds of failure, for errors.Is.
var (
	// ErrNoTicket: no usable Kerberos credentials (run kinit).
	ErrNoTicket = errors.New("no Kerberos ticket")
	// ErrUnknownOp: the op is not in the ops files.
	ErrUnknownOp = errors.New("unknown op")
	// ErrUnreachable: the owning host's ceod could not be reached.
	ErrUnreachable = errors.New("ceod unreachable")
	// ErrAuth: authentication failed (no service ticket, or ceod
	// refused it).
	ErrAuth = errors.New("authentication failed")
	// ErrRefused: ceod closed the connection instead of replying to the
	// op (a refused or failed op; the reason is in ceod's log).
	ErrRefused = errors.New("op refused")
	// ErrProtocol: ceod sent something the protocol does not allow.
	ErrProtocol = errors.New("protocol error")
)

// Error is the error type returned by this package.
type Error struct {
	Kind error  // one of the Err* values above
	Op   string // the op, if known
	Addr string // host:port of the ceod, if known
	Err  error  // the underlying error, or nil
	Hint string // what to do about it, if anything
}

func (e *Error) Error() string {
	s := "ceoc: "
	if e.Op != "" {
		s += e.Op + ": "
	}
	s += e.Kind.Error()
	if e.Addr != "" {
		s += " (ceod at " + e.Addr + ")"
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	if e.Hint != "" {
		s += " (" + e.Hint + ")"
	}
	return s
}

// Unwrap returns the kind and the underlying error, so errors.Is works
// with both.
func (e *Error) Unwrap() []error {
	if e.Err == nil {
		return []error{e.Kind}
	}
	return []error{e.Kind, e.Err}
}

// Credentials say how a Client logs in to Kerberos.
type Credentials interface {
	// login returns the source of service tickets: for a FILE ccache,
	// the cache, where they are looked up and stored.
	login(cfg *krbconfig.Config) (*krb5.Tickets, error)
}

type ccacheCreds struct{ name string }

func (c ccacheCreds) login(cfg *krbconfig.Config) (*krb5.Tickets, error) {
	t, err := krb5.TicketsFromCCache(cfg, c.name)
	if err != nil {
		return nil, &Error{Kind: ErrNoTicket, Err: err, Hint: "run kinit"}
	}
	return t, nil
}

// CCache uses the tickets in a FILE credentials cache; name "" means
// $KRB5CCNAME or the system default. This is the default.
func CCache(name string) Credentials { return ccacheCreds{name} }

type keytabCreds struct{ principal, path string }

func (k keytabCreds) login(cfg *krbconfig.Config) (*krb5.Tickets, error) {
	cl, err := krb5.ClientFromKeytab(cfg, k.principal, k.path)
	if err != nil {
		return nil, &Error{Kind: ErrAuth, Err: err, Hint: "check the keytab and principal"}
	}
	return krb5.NewTickets(cl, ""), nil
}

// Keytab logs in as principal with the keys in the keytab file at path.
func Keytab(principal, path string) Credentials { return keytabCreds{principal, path} }

type passwordCreds struct{ principal, password string }

func (p passwordCreds) login(cfg *krbconfig.Config) (*krb5.Tickets, error) {
	cl, err := krb5.ClientFromPassword(cfg, p.principal, p.password)
	if err != nil {
		return nil, &Error{Kind: ErrAuth, Err: err}
	}
	return krb5.NewTickets(cl, ""), nil
}

// Password logs in as principal with password.
func Password(principal, password string) Credentials { return passwordCreds{principal, password} }

// A Client sends ops to the ceods that own them. Its fields must not be
// changed after first use; a Client is safe for concurrent use and
// caches its Kerberos tickets, the ops files and ceod.cf.
type Client struct {
	// ConfigDir is the ceo configuration directory holding ops/ and
	// ceod.cf. Empty means opsfile.DefaultDir (/etc/csc).
	ConfigDir string
	// Credentials to authenticate with. Nil means CCache("").
	Credentials Credentials
	// KRB5Config is the path of krb5.conf. Empty means $KRB5_CONFIG or
	// /etc/krb5.conf.
	KRB5Config string
	// Port is ceod's TCP port. Zero means the port in ceod.cf, or 9987.
	Port int
	// Timeout bounds connecting and authenticating when the context has
	// no deadline. Zero means DefaultTimeout.
	Timeout time.Duration
	// GSS configures the GSS-API initiator (clock, entropy).
	GSS gss.Config
	// Canon returns the canonical name of an ops-file host word, as legacy
	// ceoc's gethostbyname(host)->h_name: ceoc connects to it and asks for
	// ceod/<canonical name>. Nil means the system's resolver
	// (opsfile.Canonical); a name it cannot canonicalize is used as
	// written.
	Canon func(ctx context.Context, host string) (string, error)

	stamps gss.Stamps // authenticator times of this Client's handshakes

	mu     sync.Mutex // the configuration below
	loaded bool
	ready  atomic.Bool // loaded, read without mu: every Call looks its op up
	ops    []opsfile.Op
	deleg  map[string]bool // ops to forward the caller's TGT for (delegate_ops)
	port   int

	krbMu sync.Mutex // krb, apart from mu: Dial loads both at once
	krb   *krb5.Tickets
}

// FromEnv returns a Client configured from the environment like the
// legacy ceoc: $CEO_CONFIG_DIR, and the Kerberos defaults ($KRB5_CONFIG,
// $KRB5CCNAME).
func FromEnv() *Client {
	return &Client{ConfigDir: os.Getenv("CEO_CONFIG_DIR")}
}

// Call sends op with request to the ceod that owns it, using FromEnv,
// and returns the reply. See Client.Call.
func Call(ctx context.Context, op string, request []byte) ([]byte, error) {
	return FromEnv().Call(ctx, op, request)
}

// Call connects to the ceod owning op, authenticates, sends request
// (which may be empty), and returns the unwrapped reply. The connection
// is closed afterwards.
func (c *Client) Call(ctx context.Context, op string, request []byte) ([]byte, error) {
	conn, err := c.Dial(ctx, op)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	return conn.Call(ctx, op, request)
}

func (c *Client) configDir() string {
	if c.ConfigDir == "" {
		return opsfile.DefaultDir
	}
	return c.ConfigDir
}

func (c *Client) timeout() time.Duration {
	if c.Timeout <= 0 {
		return DefaultTimeout
	}
	return c.Timeout
}

// load reads the ops files and ceod.cf once.
func (c *Client) load() error {
	if c.ready.Load() {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.loaded {
		return nil
	}
	dir := c.configDir()
	ops, err := opsfile.ReadOps(dir)
	if err != nil {
		return fmt.Errorf("ceoc: %w (set CEO_CONFIG_DIR?)", err)
	}
	cf, err := opsfile.ReadClient(dir)
	if err != nil {
		return fmt.Errorf("ceoc: %w", err)
	}
	port := c.Port
	if port == 0 {
		port = cf.Port
	}
	c.ops, c.deleg, c.port, c.loaded = ops, cf.DelegateOps, port, true
	c.ready.Store(true)
	return nil
}

// lookup returns the op called name.
func (c *Client) lookup(name string) (opsfile.Op, error) {
	if err := c.load(); err != nil {
		return opsfile.Op{}, err
	}
	op, ok := opsfile.FindOp(c.ops, name)
	if !ok {
		return opsfile.Op{}, &Error{Kind: ErrUnknownOp, Op: name, Hint: "not in " + c.configDir() + "/" + opsfile.OpsDir}
	}
	return op, nil
}

// tickets returns the service-ticket source, logging in on first use. A
// failed login is not cached, so a later kinit helps.
func (c *Client) tickets() (*krb5.Tickets, error) {
	c.krbMu.Lock()
	defer c.krbMu.Unlock()
	if c.krb != nil {
		return c.krb, nil
	}
	var (
		cfg *krbconfig.Config
		err error
	)
	if c.KRB5Config != "" {
		cfg, err = krb5.LoadConfigFile(c.KRB5Config)
	} else {
		cfg, err = krb5.LoadConfig()
	}
	if err != nil {
		return nil, fmt.Errorf("ceoc: %w", err)
	}
	creds := c.Credentials
	if creds == nil {
		creds = CCache("")
	}
	t, err := creds.login(cfg)
	if err != nil {
		return nil, err
	}
	c.krb = t
	return c.krb, nil
}

// TicketStats says how many service tickets this Client got from the KDC
// and how many it reused (from memory or the credentials cache).
func (c *Client) TicketStats() (fromKDC, reused int64) {
	c.krbMu.Lock()
	t := c.krb
	c.krbMu.Unlock()
	if t == nil {
		return 0, 0
	}
	return t.Stats()
}

// delegates reports whether op is listed in ceod.cf's delegate_ops.
func (c *Client) delegates(op string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.deleg[op]
}

// initiate starts the GSS handshake with spn on a service ticket from the
// cache or the KDC. With delegate, it forwards the caller's TGT too (a
// fresh forwarded TGT from the KDC, wiped here once sent).
func (c *Client) initiate(spn string, delegate bool) (*gss.Initiator, []byte, error) {
	t, err := c.tickets()
	if err != nil {
		return nil, nil, err
	}
	st, err := t.Get(spn)
	if err != nil {
		return nil, nil, err
	}
	cfg := c.GSS
	if cfg.Stamps == nil {
		// Distinct authenticator times within the process, for acceptors
		// whose replay cache keys on them (gokrb5's).
		cfg.Stamps = &c.stamps
	}
	if !delegate {
		return gss.NewInitiatorWithTicket(st.Client, st.ClientRealm, st.Ticket, st.Key, cfg)
	}
	cl, tgt, err := t.TGT()
	if err != nil {
		return nil, nil, err
	}
	fwd, err := gss.ForwardTGT(cl, tgt.CName, tgt.CRealm, tgt.Ticket, tgt.Key)
	if err != nil {
		return nil, nil, err
	}
	defer fwd.Wipe()
	return gss.NewInitiatorDelegating(st.Client, st.ClientRealm, st.Ticket, st.Key, fwd, cfg)
}
