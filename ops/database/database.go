// Package database implements the database ops: "mysql" (id 0x03)
// creates a MariaDB database NAME and account NAME@localhost, and
// "postgresql" (id 0x05, not in the legacy system) a PostgreSQL role
// NAME and a database NAME owned by it; both with a fresh random
// password, or reset that password on a re-run (see README.md).
//
// The admission steps (required name, authorization, the name rule,
// reserved names) and the reply texts are the legacy op-mysql's and are
// shared; an Engine (MariaDB or PostgreSQL) does the server's part.
package database

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"syscall"

	"google.golang.org/protobuf/proto"

	"github.com/csclub/ceo/ops"
	"github.com/csclub/ceo/ops/acl"
	"github.com/csclub/ceo/ops/authz"
	"github.com/csclub/ceo/ops/journal"
	"github.com/csclub/ceo/wire/ceopb"
)

// Engine is a database server the op creates accounts on: *MariaDB or
// *PostgreSQL.
type Engine interface {
	// check reports a configuration that cannot work.
	check() error
	// rules are the engine's names and limits.
	rules() rules
	// secret turns a new password into what the server stores (a hash or
	// a verifier), so that the password itself never reaches the server.
	// The op checks it against rules.secretShape before use.
	secret(pw string, rand io.Reader) (string, error)
	// apply creates or resets the account and database name with
	// secret, all or nothing. reset reports that only a password was
	// reset. A *refusal is a decision made from the server's state.
	// Before creating an object it calls st.begin with the object's
	// step name (stepDatabase, stepAccount), and st.done after.
	apply(ctx context.Context, log *slog.Logger, name, secret string, st stepper) (reset bool, err error)
	// ident is name quoted as an identifier; account is the account
	// name makes, quoted.
	ident(name string) string
	account(name string) string
	// exec runs a statement on the admin connection.
	exec(ctx context.Context, stmt string) error
	// serverError is the client's view of the server's own error, if err
	// holds one.
	serverError(err error) (string, bool)
	// handler wraps the op in the engine's request and reply messages.
	handler(o *op) ops.Handler
}

// rules are what distinguishes one engine's admission.
type rules struct {
	op       string   // the op name: reply prefix and log
	maxName  int      // the server's identifier limit in bytes
	reserved []string // names refused whoever asks (lower case)
	prefix   string   // a reserved name prefix, "" for none
	admin    string   // the admin account, also refused
	account  string   // what the server calls an account: USER, ROLE
	// secretShape is the only shape a secret may have: it is put in a
	// string literal of a statement (DDL takes no parameters).
	secretShape *regexp.Regexp
}

// Deps are the inputs both database ops share.
type Deps struct {
	// Dir answers the authorization questions. Required.
	Dir authz.Directory
	// ACL authorizes each request (ceod.acl, the op's name). Required.
	ACL *acl.ACL
	// Rand is the entropy for passwords and salts; nil means crypto/rand.
	Rand io.Reader
	// Log receives one record per request; never a password. Nil means
	// no logging.
	Log *slog.Logger
	// Reserved, if set, reports further names refused whoever asks
	// (config.Accounts.Reserved: the service names and reserved_names).
	Reserved func(name string) bool
	// Journal records each created object before it is made, so that a
	// crash mid-request is rolled back (package journal); nil means
	// none. Recoverer, if set, is the daemon's; nil means a private one.
	Journal   *journal.Journal
	Recoverer *journal.Recoverer
}

// op is the engine-independent part of a database op.
type op struct {
	d   Deps
	e   Engine
	r   rules
	log *slog.Logger
	rc  *journal.Recoverer
	mu  sync.Mutex // one create at a time: the statements are not atomic
}

// New returns the op's handler for engine e.
func New(d Deps, e Engine) (ops.Handler, error) {
	if d.Dir == nil || d.ACL == nil || e == nil {
		return nil, errors.New("database: Deps.Dir, Deps.ACL and an engine are required")
	}
	if err := e.check(); err != nil {
		return nil, err
	}
	o := &op{d: d, e: e, r: e.rules(), log: d.Log}
	if o.log == nil {
		o.log = slog.New(slog.DiscardHandler)
	}
	o.log = o.log.With("op", o.r.op)
	o.rc = d.Recoverer
	if o.rc == nil {
		o.rc = &journal.Recoverer{J: d.Journal, Log: o.log}
	}
	o.rc.Register(o.r.op, o)
	return e.handler(o), nil
}

// request is what the engines' request messages have in common.
type request interface {
	proto.Message
	GetUsername() string
}

// protoHandler is the op in the messages Req and Resp; reply builds Resp.
func protoHandler[Req request, Resp proto.Message](o *op, reply func([]*ceopb.StatusMessage, *string) Resp) ops.Handler {
	return &ops.Proto[Req, Resp]{Op: o.r.op, Event: "add " + o.r.op + " user", Log: o.log,
		Do: func(ctx context.Context, c ops.Caller, in Req) (Resp, ops.Outcome, []slog.Attr, error) {
			// ceod admitted and mapped the principal (ceod/server.Callers)
			msgs, pw, outcome := o.create(ctx, c, in.GetUsername())
			return reply(msgs, pw), outcome, []slog.Attr{slog.String("caller", c.User), slog.String("target", in.GetUsername())}, nil
		}}
}

// create runs the admission steps and the engine, and returns the reply's
// messages, the password (nil unless created) and the outcome.
func (o *op) create(ctx context.Context, c ops.Caller, name string) ([]*ceopb.StatusMessage, *string, ops.Outcome) {
	caller := c.User
	var msgs []*ceopb.StatusMessage
	add := func(status int32, format string, args ...any) {
		msgs = append(msgs, ops.Status(status, format, args...))
	}
	if name == "" {
		add(int32(syscall.EINVAL), "missing required argument: username")
		return msgs, nil, ops.OutcomeInvalid
	}
	add(0, "%s create db=%s by %s", o.r.op, name, caller)
	if o.d.Reserved != nil && o.d.Reserved(name) {
		// A service's name, whoever asks and whether or not an account
		// of that name exists.
		add(int32(syscall.EINVAL), "username %s is reserved: it names a service or system account", name)
		return msgs, nil, ops.OutcomeInvalid
	}
	d, err := authz.Authorizer{ACL: o.d.ACL, Dir: o.d.Dir}.Check(ctx, o.r.op, c, name, "")
	if err != nil {
		o.log.Error("authorization failed", "caller", caller, "target", name, "err", err)
		add(d.Status, "%s", d.Message)
		return msgs, nil, ops.OutcomeError
	}
	add(d.Status, "%s", d.Message)
	if !d.Allowed {
		return msgs, nil, ops.OutcomeDenied
	}
	if !ValidName(name, o.r.maxName) {
		add(int32(syscall.EINVAL), "invalid characters in username %s", name)
		return msgs, nil, ops.OutcomeInvalid
	}
	if o.reserved(name) {
		add(int32(syscall.EINVAL), "username %s is reserved", name)
		return msgs, nil, ops.OutcomeInvalid
	}
	// Legacy looked the name up (getpwnam) and made nothing for nobody.
	switch _, err := o.d.Dir.LookupUser(ctx, name); {
	case errors.Is(err, authz.ErrNoSuchUser):
		add(int32(syscall.ENOENT), "user %s does not exist", name)
		return msgs, nil, ops.OutcomeInvalid
	case err != nil:
		o.log.Error("user lookup failed", "target", name, "err", err)
		add(ops.ELDAP, "unable to look up %s: directory error", name)
		return msgs, nil, ops.OutcomeError
	}
	pw, err := RandomPassword(o.d.Rand)
	var secret string
	if err == nil {
		secret, err = o.e.secret(pw, o.d.Rand)
	}
	if err == nil && !o.r.secretShape.MatchString(secret) {
		err = errors.New("internal error: secret of an unexpected shape")
	}
	if err != nil {
		o.log.Error("password generation failed", "err", err)
		add(int32(syscall.EIO), "exception occured creating database: no entropy")
		return msgs, nil, ops.OutcomeError
	}

	o.mu.Lock()
	defer o.mu.Unlock()
	rec := &journal.Record{Op: o.r.op, Caller: caller, Targets: []string{o.r.op + ":" + name}}
	if err := o.rc.Begin(ctx, rec); err != nil {
		o.log.Warn("journal refused the request", "target", name, "err", err)
		add(int32(syscall.EAGAIN), "exception occured creating database: an earlier attempt for %s is not undone yet; try again later", name)
		return msgs, nil, ops.OutcomeError
	}
	st := &steps{j: o.d.Journal, r: rec, name: name}
	reset, err := o.e.apply(ctx, o.log, name, secret, st)
	if err == nil && st.err != nil {
		err = &ops.StepError{Step: "writing the journal", Err: st.err}
	}
	if err != nil {
		// The engine undid what it could; the journal's undo makes sure,
		// with retries, and keeps what it cannot undo for recovery.
		o.rc.Recover(context.WithoutCancel(ctx), rec, "rollback")
	} else if ferr := o.d.Journal.Finish(rec); ferr != nil {
		o.log.Error("journal: cannot finish", "target", name, "err", ferr)
	}
	var refused *refusal
	switch {
	case errors.As(err, &refused):
		add(int32(refused.status), "%s", refused.msg)
		return msgs, nil, ops.OutcomeDenied
	case err != nil:
		o.log.Error("creating database failed", "target", name, "err", err)
		add(1, "exception occured creating database: %s", o.describe(err))
		return msgs, nil, ops.OutcomeError
	}
	if reset {
		add(0, "successfully reset password for %s", name)
	} else {
		add(0, "successfully created database %s", name)
	}
	return msgs, proto.String(pw), ops.OutcomeOK
}

func (o *op) reserved(name string) bool {
	lower := strings.ToLower(name)
	if o.r.prefix != "" && strings.HasPrefix(lower, o.r.prefix) {
		return true
	}
	for _, r := range o.r.reserved {
		if lower == r {
			return true
		}
	}
	return o.r.admin != "" && strings.EqualFold(name, o.r.admin)
}

// Journal step names of the database ops.
const (
	stepDatabase = "database"
	stepAccount  = "account" // MariaDB user or PostgreSQL role
)

// drop is the statement that removes what the step named made for name
// on e, if it is there, or "" for an unknown step: the undo of a failed
// or unfinished request.
func drop(e Engine, step, name string) string {
	switch step {
	case stepDatabase:
		return "DROP DATABASE IF EXISTS " + e.ident(name)
	case stepAccount:
		return "DROP " + e.rules().account + " IF EXISTS " + e.account(name)
	}
	return ""
}

// stepper is how an engine journals the objects it creates.
type stepper interface {
	// begin records that the step is about to create its object; an
	// error means the journal cannot be written and the step must not
	// run.
	begin(step string) error
	done(step string)
}

// steps journals one request's steps.
type steps struct {
	j    *journal.Journal
	r    *journal.Record
	name string
	err  error
}

func (s *steps) begin(step string) error {
	s.err = s.j.Mark(s.r, step, journal.Begun, map[string]string{"name": s.name})
	return s.err
}

func (s *steps) done(step string) { s.j.Mark(s.r, step, journal.Done, nil) }

// UndoStep undoes one step of an unfinished request (journal.Undoer).
func (o *op) UndoStep(ctx context.Context, _ *journal.Record, s *journal.Step) error {
	name := s.Undo["name"]
	if !ValidName(name, o.r.maxName) {
		return fmt.Errorf("database: journal step %s has an invalid name %q", s.Name, name)
	}
	stmt := drop(o.e, s.Name, name)
	if stmt == "" {
		return fmt.Errorf("database: unknown journal step %q", s.Name)
	}
	if err := o.e.exec(ctx, stmt); err != nil {
		return fmt.Errorf("database: undoing %s %s: %w", s.Name, name, err)
	}
	return nil
}

// refusal is a decision made from the server's state.
type refusal struct {
	status syscall.Errno
	msg    string
}

func (r *refusal) Error() string { return r.msg }

// describe is the client's view of a failure: the step and the server's
// error, never a statement.
func (o *op) describe(err error) string {
	var se *ops.StepError
	step := "database error"
	if errors.As(err, &se) {
		step = se.Step
	}
	if s, ok := o.e.serverError(err); ok {
		return step + ": " + s
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return step + ": timed out"
	}
	return step + ": server unavailable"
}

// redactServer hides secret should a server message quote a statement:
// in a copy of the server's error E, the text fields that fields names,
// or else in the error's text.
func redactServer[E any, P interface {
	*E
	error
}](err error, secret string, fields func(*E) []*string) error {
	var se P
	if errors.As(err, &se) {
		c := *se
		for _, f := range fields(&c) {
			*f = strings.ReplaceAll(*f, secret, "REDACTED")
		}
		return P(&c)
	}
	return redactText(err, secret)
}

// redactText hides secret in an error's text.
func redactText(err error, secret string) error {
	if strings.Contains(err.Error(), secret) {
		return errors.New(strings.ReplaceAll(err.Error(), secret, "REDACTED"))
	}
	return err
}
