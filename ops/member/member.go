// Package member implements ceod's member ops: renew (0x06), group
// (0x07), positions (0x08), shell (0x09), passwd (0x0a), deluser
// (0x0b) and program (0x0c). Each request is authorized by the ACL file (ops/acl) against
// its target, validated, then applied all-or-nothing with ceod's own
// credentials, and audited with one log record.
package member

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"syscall"

	"github.com/go-ldap/ldap/v3"
	"google.golang.org/protobuf/proto"

	"github.com/csclub/ceo/ops"
	"github.com/csclub/ceo/ops/acl"
	"github.com/csclub/ceo/ops/authz"
	"github.com/csclub/ceo/ops/directory"
	"github.com/csclub/ceo/ops/groups"
	"github.com/csclub/ceo/ops/journal"
	"github.com/csclub/ceo/wire/ceopb"
)

// Writer makes the ops' directory changes. *directory.Client is one.
type Writer interface {
	Modify(ctx context.Context, req *ldap.ModifyRequest) error
	Delete(ctx context.Context, dn string) error
	Restore(ctx context.Context, e *ldap.Entry) error
}

// Writers is the one seam of the LDAP write path: it gives the Writer
// that applies one caller's request. ldap_writes = service (today's only
// mode) is Service; a delegated mode, binding as the caller with their
// forwarded credentials, plugs in here.
type Writers interface {
	For(ctx context.Context, caller ops.Caller) (Writer, error)
}

// Service writes every request with ceod's own credentials
// (ldap_writes = service), after the ACL allowed it.
type Service struct{ W Writer }

// For returns s.W.
func (s Service) For(context.Context, ops.Caller) (Writer, error) { return s.W, nil }

// Kadmin changes principals; *kadmin.Client is one.
type Kadmin interface {
	ChangePassword(ctx context.Context, name, password string) error
	RequireChange(ctx context.Context, name string) error
	DeletePrincipal(ctx context.Context, name string) error
}

// Deps are the ops' inputs.
type Deps struct {
	// Dir reads the directory (and answers the ACL's questions).
	Dir *directory.Client
	// Writers writes it; nil means Service{Dir}.
	Writers Writers
	// ACL authorizes every request. Required.
	ACL *acl.ACL
	// Kadmin serves passwd and deluser; nil leaves them out.
	Kadmin Kadmin
	// Realm is krb5_realm.
	Realm string
	// Cascades are the group cascades; nil means groups.Default().
	Cascades groups.Cascades
	// ShellsFile lists the allowed login shells (shells_file).
	ShellsFile string
	// HomeRoots are the directories homes live in (member_home,
	// club_home): deluser removes only a home directly in one of them.
	HomeRoots []string
	// Log receives one record per request; nil discards.
	Log *slog.Logger
	// Journal makes deluser's steps durable (package journal); nil means
	// none (a crash then leaves what was done). Recoverer, if set, is the
	// daemon's, which completes unfinished deletions; nil means a
	// private one over Journal.
	Journal   *journal.Journal
	Recoverer *journal.Recoverer
}

type server struct{ Deps }

// New returns the handlers by op name.
func New(d Deps) (map[string]ops.Handler, error) {
	if d.Dir == nil || d.ACL == nil {
		return nil, errors.New("member: Deps needs Dir and ACL")
	}
	if d.Writers == nil {
		d.Writers = Service{W: d.Dir}
	}
	if d.Cascades == nil {
		d.Cascades = groups.Default()
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if d.Recoverer == nil {
		d.Recoverer = &journal.Recoverer{J: d.Journal, Log: d.Log}
	}
	s := &server{d}
	h := map[string]ops.Handler{
		"renew":     handler(s, "renew", "renew member", (*server).renew),
		"group":     handler(s, "group", "change group members", (*server).group),
		"positions": handler(s, "positions", "set position holders", (*server).positions),
		"shell":     handler(s, "shell", "change login shell", (*server).shell),
		"program":   handler(s, "program", "set program of study", (*server).program),
	}
	if d.Kadmin != nil {
		h["passwd"] = handler(s, "passwd", "reset password", (*server).passwd)
		h["deluser"] = handler(s, "deluser", "delete account", (*server).deluser)
		d.Recoverer.RegisterCompleter("deluser", s)
	}
	return h, nil
}

// Ops are the names of the member ops.
var Ops = []string{"renew", "group", "positions", "shell", "passwd", "deluser", "program"}

// req is one request being served.
type req struct {
	ctx    context.Context
	caller ops.Caller
	name   string // the caller as the ACL knows them
	out    *ceopb.MemberResponse
	attrs  []slog.Attr
}

func (r *req) say(status int32, format string, args ...any) {
	r.out.Messages = append(r.out.Messages, ops.Status(status, format, args...))
}

// fail says why and returns the outcome that goes with status.
func (r *req) fail(status int32, format string, args ...any) ops.Outcome {
	r.say(status, format, args...)
	switch status {
	case int32(syscall.EPERM):
		return ops.OutcomeDenied
	case int32(syscall.EINVAL), int32(syscall.ENOENT), int32(syscall.EEXIST):
		return ops.OutcomeInvalid
	}
	return ops.OutcomeError
}

func handler[Req proto.Message](s *server, op, event string, do func(*server, *req, Req) ops.Outcome) ops.Handler {
	log := s.Log.With("op", op)
	return &ops.Proto[Req, *ceopb.MemberResponse]{Op: op, Event: event, Log: log,
		Do: func(ctx context.Context, c ops.Caller, in Req) (*ceopb.MemberResponse, ops.Outcome, []slog.Attr, error) {
			r := &req{ctx: ctx, caller: c, name: c.User /* ceod admitted and mapped the principal (ceod/server.Callers) */, out: &ceopb.MemberResponse{}}
			r.attrs = []slog.Attr{slog.String("caller", r.name)}
			outcome := do(s, r, in)
			if err := ctx.Err(); err != nil && outcome != ops.OutcomeOK {
				return nil, "", r.attrs, fmt.Errorf("%s: %w", op, err)
			}
			return r.out, outcome, r.attrs, nil
		}}
}

// allow checks the ACL for op on target; false means it answered.
func (s *server) allow(r *req, op, target string) (bool, ops.Outcome) {
	r.attrs = append(r.attrs, slog.String("target", target))
	d, err := authz.Authorizer{ACL: s.ACL, Dir: s.Dir}.Check(r.ctx, op, r.caller, target, "")
	if err != nil {
		s.Log.Error("authorization failed", "op", op, "caller", r.name, "target", target, "err", err)
		return false, r.fail(d.Status, "%s", d.Message)
	}
	r.attrs = append(r.attrs, slog.String("rule", d.Rule))
	if !d.Allowed {
		return false, r.fail(d.Status, "%s", d.Message)
	}
	return true, ""
}

// writer returns the request's Writer.
func (s *server) writer(r *req) (Writer, ops.Outcome) {
	w, err := s.Writers.For(r.ctx, r.caller)
	if err != nil {
		s.Log.Error("no directory writer", "caller", r.name, "err", err)
		return nil, r.fail(ops.ELDAP, "unable to write to the directory: %v", err)
	}
	return w, ""
}

// userName is what an account name may be here: it keeps LDAP DNs,
// filters and kadmin queries out of play.
var userName = regexp.MustCompile(`^[a-z][-a-z0-9_]{0,31}$`)

// lookup returns name's account, or answers ENOENT or ELDAP.
func (s *server) lookup(r *req, name string) (*directory.User, ops.Outcome) {
	if !userName.MatchString(name) {
		return nil, r.fail(int32(syscall.EINVAL), "invalid user name %q", name)
	}
	u, err := s.Dir.LookupUser(r.ctx, name)
	switch {
	case errors.Is(err, directory.ErrNotFound):
		return nil, r.fail(int32(syscall.ENOENT), "no such user: %s", name)
	case err != nil:
		s.Log.Error("user lookup failed", "target", name, "err", err)
		return nil, r.fail(ops.ELDAP, "unable to look up %s: directory error", name)
	}
	return u, ""
}

// modify applies reqs in order; if one fails the ones applied are
// undone with undo[i], newest first, so that nothing is left changed.
func (s *server) modify(r *req, w Writer, what string, reqs, undo []*ldap.ModifyRequest) ops.Outcome {
	for i, m := range reqs {
		if err := w.Modify(r.ctx, m); err != nil {
			for j := i - 1; j >= 0; j-- {
				if uerr := w.Modify(context.WithoutCancel(r.ctx), undo[j]); uerr != nil {
					s.Log.Error("undo failed", "dn", undo[j].DN, "err", uerr)
				}
			}
			s.Log.Error(what+" failed", "dn", m.DN, "err", err)
			return r.fail(ops.ELDAP, "%s: directory error: %s", what, ldapReason(err))
		}
	}
	return ops.OutcomeOK
}

// ldapReason is the server's diagnostic without the request.
func ldapReason(err error) string {
	var le *ldap.Error
	if errors.As(err, &le) {
		return ldap.LDAPResultCodeMap[le.ResultCode]
	}
	return "no answer"
}
