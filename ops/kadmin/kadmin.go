// Package kadmin administers Kerberos principals by running MIT's kadmin
// client, authenticated with a keytab. gokrb5 speaks no kadmin
// (RPCSEC_GSS) protocol, and linking libkadm5clnt would need cgo, so this
// is a careful exec wrapper:
//
//   - no shell: kadmin is exec'd directly, with a fixed argument list;
//   - principal names are validated before they go into the -q query,
//     which kadmin tokenizes itself (no blanks, quotes or leading '-');
//   - passwords go on stdin, never in argv (visible in
//     /proc/PID/cmdline), the environment or error messages;
//   - the environment is built from scratch (PATH, LANG=C so that the
//     messages parsed below are English, KRB5_CONFIG, and a private
//     MEMORY: KRB5CCNAME so that no user's credential cache is read or
//     written);
//   - kadmin exits 0 even when a query fails, so success is decided from
//     its output: the exact "Principal "NAME@REALM" created." line, and
//     any `^\w+: .* while ` line is an error.
//
// With Client.Session one kadmin stays logged in and takes the queries
// on stdin, one at a time (session.go); otherwise each query is a kadmin
// -q run of its own.
package kadmin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/csclub/ceo/ops/procrun"
)

// Sentinel errors, wrapped.
var (
	// ErrNotFound: the principal does not exist.
	ErrNotFound = errors.New("kadmin: principal does not exist")
	// ErrExists: the principal already exists.
	ErrExists = errors.New("kadmin: principal already exists")
	// ErrUnavailable: kadmin could not reach or log in to kadmind
	// (nothing was changed).
	ErrUnavailable = errors.New("kadmin: admin server unavailable")
)

// Error is a failed kadmin query. Output holds kadmin's error lines,
// which name the principal and the reason but never a password; it is
// safe to log and to show to an operator.
type Error struct {
	Query  string // "addprinc", "delprinc", ...
	Name   string // principal, with realm
	Output string
	Err    error // one of the sentinels, or nil
	// MaybeApplied: kadmin ran but was cut off, or died without saying
	// what happened, so kadmind may have applied the query (see
	// Ambiguous).
	MaybeApplied bool
}

func (e *Error) Error() string {
	msg := "kadmin: " + e.Query + " " + e.Name + " failed"
	if e.Output != "" {
		msg += ": " + e.Output
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// Defaults of Client's zero values.
const (
	DefaultPath    = "kadmin"
	DefaultPolicy  = "default"
	DefaultTimeout = 30 * time.Second
)

// maxOutput bounds what is kept of kadmin's stdout and stderr: its
// answers (getprinc is the longest) are a few hundred bytes.
const maxOutput = 64 << 10

// MaxPasswordLen is the longest password accepted; MIT's prompt reader
// truncates long input silently, so longer ones are refused.
const MaxPasswordLen = 512

// Client runs kadmin as Principal with the keys in Keytab. Set the
// fields before first use; the zero values of the optional ones are
// documented defaults. A Client is safe for concurrent use: each call is
// its own kadmin process, or, with Session, one query at a time in one
// long-lived kadmin.
type Client struct {
	// Principal to authenticate as, e.g. "ceod/admin". Required.
	Principal string
	// Keytab holding Principal's keys. Required.
	Keytab string
	// Realm of the principals administered (kadmin -r). Required: names
	// are qualified with it and the success lines mention it.
	Realm string
	// Path of kadmin; "" means DefaultPath looked up in PATH.
	Path string
	// KRB5Config is the krb5.conf to use; "" inherits $KRB5_CONFIG.
	KRB5Config string
	// Policy given to new principals; "" means DefaultPolicy.
	Policy string
	// Timeout bounds one kadmin run; zero means DefaultTimeout.
	Timeout time.Duration
	// Log receives one debug record per run (query and duration, never
	// a password); nil discards.
	Log *slog.Logger
	// Session keeps one kadmin running, logged in, for all queries
	// (started at first use, restarted when it fails or ages; see
	// session.go) instead of a kadmin per query. Close ends it.
	Session bool

	mu      sync.Mutex    // guards sem
	sem     chan struct{} // held by the query using sess
	sess    *session
	lastUse time.Time
}

// component is what a principal name component may be. Stricter than
// Kerberos: it keeps kadmin's query tokenizer and option parser out of
// play (no blanks, quotes, '@', backslashes, or leading '-').
var component = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]*$`)

// ValidName reports whether name ("user" or "service/host", without a
// realm) is safe to pass to kadmin.
func ValidName(name string) bool {
	if name == "" || len(name) > 256 {
		return false
	}
	for _, c := range strings.Split(name, "/") {
		if !component.MatchString(c) {
			return false
		}
	}
	return true
}

func validPassword(pw string) error {
	switch {
	case pw == "":
		return errors.New("kadmin: empty password")
	case len(pw) > MaxPasswordLen:
		return fmt.Errorf("kadmin: password longer than %d bytes", MaxPasswordLen)
	case strings.ContainsAny(pw, "\n\r\x00"):
		return errors.New("kadmin: password contains a line break or NUL")
	}
	return nil
}

// AddPrincipal creates name@Realm with password and the policy. It fails
// with ErrExists if the principal exists.
func (c *Client) AddPrincipal(ctx context.Context, name, password string) error {
	if err := validPassword(password); err != nil {
		return err
	}
	policy := c.Policy
	if policy == "" {
		policy = DefaultPolicy
	}
	if !component.MatchString(policy) {
		return fmt.Errorf("kadmin: invalid policy name %q", policy)
	}
	return c.runConfirmed(ctx, "addprinc", name, "addprinc -policy "+policy+" "+name, `Principal "%s" created.`, password, password)
}

// ChangePassword sets a new password on name@Realm.
func (c *Client) ChangePassword(ctx context.Context, name, password string) error {
	if err := validPassword(password); err != nil {
		return err
	}
	return c.runConfirmed(ctx, "cpw", name, "cpw "+name, `Password for "%s" changed.`, password, password)
}

// DeletePrincipal deletes name@Realm. It fails with ErrNotFound if there
// is no such principal.
func (c *Client) DeletePrincipal(ctx context.Context, name string) error {
	return c.runConfirmed(ctx, "delprinc", name, "delprinc -force "+name, `Principal "%s" deleted.`)
}

// RequireChange makes name@Realm change its password at next login
// (modprinc +needchange).
func (c *Client) RequireChange(ctx context.Context, name string) error {
	return c.runConfirmed(ctx, "modprinc", name, "modprinc +needchange "+name, `Principal "%s" modified.`)
}

// runConfirmed runs query q (see run) and checks that kadmin printed
// confirm, a format with %s for name@Realm.
func (c *Client) runConfirmed(ctx context.Context, query, name, q, confirm string, passwords ...string) error {
	full := c.full(name)
	out, err := c.run(ctx, query, name, q, passwords...)
	if err != nil {
		return err
	}
	if !strings.Contains(out, fmt.Sprintf(confirm, full)) {
		return &Error{Query: query, Name: full, Output: "no confirmation in kadmin's output"}
	}
	return nil
}

// Principal is what GetPrincipal reports.
type Principal struct {
	Name   string // with realm
	Policy string // "" for none
}

// GetPrincipal returns name@Realm, or an error wrapping ErrNotFound.
func (c *Client) GetPrincipal(ctx context.Context, name string) (*Principal, error) {
	full := c.full(name)
	out, err := c.run(ctx, "getprinc", name, "getprinc "+name)
	if err != nil {
		return nil, err
	}
	p := &Principal{}
	for _, line := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(line, "Principal: "); ok {
			p.Name = strings.TrimSpace(v)
		}
		if v, ok := strings.CutPrefix(line, "Policy: "); ok {
			p.Policy = strings.TrimSpace(v)
			if p.Policy == "[none]" {
				p.Policy = ""
			}
		}
	}
	if p.Name != full {
		return nil, &Error{Query: "getprinc", Name: full, Output: "no principal in kadmin's output"}
	}
	return p, nil
}

// Ambiguous reports whether a failed write may nevertheless have been
// applied by kadmind: the run timed out or was cancelled, or kadmin died
// without saying what happened (a lost reply). Settle such a result by
// asking kadmind (GetPrincipal) before deciding anything.
func Ambiguous(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.MaybeApplied
}

func (c *Client) full(name string) string { return name + "@" + c.Realm }

// errorLine matches kadmin's error messages, e.g.
// `add_principal: Principal or policy already exists while creating "x@R".`
// and `kadmin: Cannot contact any KDC ... while initializing kadmin interface`.
var errorLine = regexp.MustCompile(`(?m)^\w+: .* while .*$`)

// run executes one query and returns kadmin's output, or an *Error.
// passwords answer kadmin's password prompts, in order.
func (c *Client) run(ctx context.Context, query, name, q string, passwords ...string) (string, error) {
	if !ValidName(name) {
		return "", fmt.Errorf("kadmin: invalid principal name %q", name)
	}
	if c.Principal == "" || c.Keytab == "" || c.Realm == "" {
		return "", errors.New("kadmin: Client needs Principal, Keytab and Realm")
	}
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	t0 := time.Now()
	var out string
	var err error
	if c.Session {
		out, err = c.runSession(ctx, query, name, q, passwords)
	} else {
		out, err = c.runOnce(ctx, query, name, q, passwords)
	}
	if c.Log != nil {
		c.Log.Debug("kadmin", "query", query, "principal", name, "duration", time.Since(t0), "session", c.Session, "err", err)
	}
	return out, err
}

// runOnce runs one kadmin program for the query.
func (c *Client) runOnce(ctx context.Context, query, name, q string, passwords []string) (string, error) {
	// No controlling terminal (NewSession): kadmin must read the
	// password from stdin, never prompt on a tty ceod might have
	// inherited. KillWithParent: a kadmin outliving a killed ceod could
	// apply a change after recovery has looked.
	var stdin strings.Builder
	for _, pw := range passwords {
		stdin.WriteString(pw + "\n")
	}
	res, runErr := procrun.Run(ctx, procrun.Cmd{
		Path:           c.path(),
		Args:           []string{"-k", "-t", c.Keytab, "-p", c.Principal, "-r", c.Realm, "-q", q},
		Env:            c.env(),
		Stdin:          strings.NewReader(stdin.String()),
		StdoutMax:      maxOutput,
		StdoutTruncate: true,
		StderrMax:      maxOutput,
		NewSession:     true,
		KillWithParent: true,
	})
	if ctx.Err() != nil {
		return "", &Error{Query: query, Name: c.full(name), Output: "timed out or cancelled", Err: ctx.Err(), MaybeApplied: res.Started}
	}
	stdout, stderr := string(res.Stdout), string(res.Stderr)
	if err := c.check(query, name, stderr+"\n"+stdout, lastLine(stderr), runErr, res.Started); err != nil {
		return "", err
	}
	return stdout, nil
}

// check turns kadmin's output (combined: stdout and stderr) into an
// *Error if it reports a failure, or the program failed (runErr).
// last is the line to report when no error line says more.
func (c *Client) check(query, name, combined, last string, runErr error, started bool) error {
	lines := errorLine.FindAllString(combined, -1)
	if runErr == nil && len(lines) == 0 {
		return nil
	}
	e := &Error{Query: query, Name: c.full(name), Output: strings.Join(lines, "; ")}
	if e.Output == "" {
		e.Output = last
	}
	if runErr != nil && e.Output == "" {
		e.Output = runErr.Error()
	}
	switch {
	case strings.Contains(e.Output, "does not exist"):
		e.Err = ErrNotFound
	case strings.Contains(e.Output, "already exists"):
		e.Err = ErrExists
	case strings.Contains(e.Output, "while initializing kadmin interface"):
		e.Err = ErrUnavailable
	case replyLost(e.Output):
		// The query went out; its answer did not come back.
		e.Err = ErrUnavailable
		e.MaybeApplied = started
	case runErr != nil:
		// No "while ..." line of kadmin's own: it may have died
		// after sending the query.
		e.Err = ErrUnavailable
		e.MaybeApplied = started && len(lines) == 0
	}
	return e
}

// replyLost reports whether kadmin's error says the query's RPC failed
// in a way that may have come after kadmind applied it: the reply
// never came (libgssrpc's clnt_sperrno texts), or kadm5's
// KADM5_RPC_ERROR, which does not say whether the request went out.
func replyLost(out string) bool {
	return strings.Contains(out, "RPC: Unable to receive") || strings.Contains(out, "RPC: Timed out") ||
		strings.Contains(out, "Communication failure with server while")
}

func (c *Client) path() string {
	if c.Path == "" {
		return DefaultPath
	}
	return c.Path
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return s
}

// env is kadmin's whole environment: nothing of ceod's own is passed on.
func (c *Client) env() []string {
	env := []string{
		"PATH=/usr/sbin:/usr/bin:/sbin:/bin",
		"LANG=C",
		"LC_ALL=C",
		// A private in-memory cache: kadmin -k gets its kadmin/admin
		// ticket straight from the keytab and must not touch any
		// user's or ceod's own ccache.
		"KRB5CCNAME=MEMORY:ceod-kadmin",
	}
	if c.KRB5Config != "" {
		env = append(env, "KRB5_CONFIG="+c.KRB5Config)
	} else if v := os.Getenv("KRB5_CONFIG"); v != "" {
		env = append(env, "KRB5_CONFIG="+v)
	}
	for _, k := range []string{"KRB5RCACHEDIR", "KRB5RCACHETYPE"} {
		if v := os.Getenv(k); v != "" {
			env = append(env, k+"="+v)
		}
	}
	return env
}
