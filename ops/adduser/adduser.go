// Package adduser is the adduser op (id 0x01): it creates a member, a
// club rep or a club account, complete or not at all.
//
// The steps, their rollback, the journal, the id allocation and the
// configuration keys are described in README.md. In short: ceod.acl
// must allow the caller to add the kind of account asked for (by
// default: office and syscom, read from LDAP); the request is
// validated on the server (reserved names refused); a journal record
// claims the name; the name must be free in LDAP, NSS, the home root and
// (members) Kerberos; then the uid is allocated, the LDAP user entry is
// added, the principal is created (not for clubs), the group and (for
// clubs) the sudo role are added, the home is made from the skeleton
// with .forward and (clubs) ACLs, and the quota is copied from a
// prototype, each step journaled before and after. If any step fails,
// the steps already done are undone in reverse order (package journal);
// what cannot be undone yet stays in the journal for recovery. The
// notify hook is told either way.
package adduser

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/csclub/ceo/ops"
	"github.com/csclub/ceo/ops/acl"
	"github.com/csclub/ceo/ops/authz"
	"github.com/csclub/ceo/ops/config"
	"github.com/csclub/ceo/ops/directory"
	"github.com/csclub/ceo/ops/home"
	"github.com/csclub/ceo/ops/journal"
	"github.com/csclub/ceo/ops/kadmin"
	"github.com/csclub/ceo/wire/ceopb"
)

// Status codes of the reply's StatusMessages: 0 and errno values; the
// legacy ceo codes (ops.ELDAP, ...) are package ops's.
const (
	StatusOK     int32 = 0
	StatusEPERM  int32 = int32(syscall.EPERM)  // 1
	StatusEEXIST int32 = int32(syscall.EEXIST) // 17
	StatusEINVAL int32 = int32(syscall.EINVAL) // 22

	// statusEIO reports a failed name service lookup.
	statusEIO = int32(syscall.EIO)
	// StatusEIOJournal reports that the journal could not be written.
	StatusEIOJournal = int32(syscall.EIO)
	// StatusEAGAIN: an earlier attempt at the name is still being
	// undone; the request may be sent again later.
	StatusEAGAIN = int32(syscall.EAGAIN)
)

// Directory is what adduser needs from LDAP; *directory.Client
// implements it.
type Directory interface {
	// InGroup and LookupUser answer ceod.acl's questions.
	InGroup(ctx context.Context, user, group string) (bool, error)
	LookupUser(ctx context.Context, name string) (*directory.User, error)
	UserExists(ctx context.Context, name string) (bool, error)
	GroupExists(ctx context.Context, name string) (bool, error)
	SudoRoleExists(ctx context.Context, cn string) (bool, error)
	AllocateID(ctx context.Context, rangeName string, lo, hi int, inUse directory.InUseFunc) (int, error)
	AddUser(ctx context.Context, u *directory.User) error
	DeleteUserWithID(ctx context.Context, name string, uid int) error
	AddGroup(ctx context.Context, g *directory.Group) error
	DeleteGroupWithID(ctx context.Context, name string, gid int) error
	AddSudoRole(ctx context.Context, r *directory.SudoRole) error
	DeleteSudoRole(ctx context.Context, cn string) error
}

// Kadmin is what adduser needs from Kerberos administration;
// *kadmin.Client implements it.
type Kadmin interface {
	AddPrincipal(ctx context.Context, name, password string) error
	DeletePrincipal(ctx context.Context, name string) error
	GetPrincipal(ctx context.Context, name string) (*kadmin.Principal, error)
}

var (
	_ Directory = (*directory.Client)(nil)
	_ Kadmin    = (*kadmin.Client)(nil)
)

// Deps are the handler's configuration and clients.
type Deps struct {
	// Config is accounts.cf with its extension fields. Required.
	Config *config.Accounts
	// Directory is the LDAP client, bound as ldap_admin_principal.
	// Required.
	Directory Directory
	// Kadmin creates principals as krb5_admin_principal. Required.
	Kadmin Kadmin
	// ACL authorizes each request (ceod.acl, op "adduser"). Required.
	ACL *acl.ACL
	// NSS checks names and ids outside LDAP; nil means SystemNSS.
	NSS NSS
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Log receives one record per request (never a password) and
	// rollback details; nil discards.
	Log *slog.Logger
	// Journal makes each request's steps durable; nil means none (each
	// request still rolls itself back, but a crash leaves what it made).
	Journal *journal.Journal
	// Recoverer undoes failed requests and settles unfinished ones for
	// a new request for the same name; New registers the handler as the
	// undoer of OpName with it. Nil means a private one over Journal.
	Recoverer *journal.Recoverer
	// UndoBudget bounds each undo step of a failed request (and the
	// getprinc that settles an ambiguous addprinc), apart from the
	// failed step's own time. Zero means journal.DefaultUndoBudget.
	UndoBudget time.Duration
	// ProgramTimeout bounds the notify hook and setquota. Zero means 30s.
	ProgramTimeout time.Duration
}

// Handler serves the adduser op. It is safe for concurrent use.
type Handler struct {
	cfg         *config.Accounts
	dir         Directory
	acl         *acl.ACL
	kadm        Kadmin
	nss         NSS
	now         func() time.Time
	log         *slog.Logger
	journal     *journal.Journal
	recoverer   *journal.Recoverer
	undoBudget  time.Duration
	progTimeout time.Duration
	closers     []func() error
	subscribe   Subscriber // nil: new members are not subscribed (SetSubscriber)
}

var _ ops.Handler = (*Handler)(nil)

// New checks d and returns the handler.
func New(d Deps) (*Handler, error) {
	switch {
	case d.Config == nil:
		return nil, errors.New("adduser: no accounts configuration")
	case d.Config.UsernameRegex == nil:
		return nil, errors.New("adduser: configuration has no username_regex (use config.LoadAccounts)")
	case d.Directory == nil:
		return nil, errors.New("adduser: no directory client")
	case d.Kadmin == nil:
		return nil, errors.New("adduser: no kadmin client")
	case d.ACL == nil:
		return nil, errors.New("adduser: no ACL (ceod.acl)")
	}
	h := &Handler{
		cfg: d.Config, dir: d.Directory, acl: d.ACL, kadm: d.Kadmin, nss: d.NSS, now: d.Now, log: d.Log,
		journal: d.Journal, recoverer: d.Recoverer, undoBudget: d.UndoBudget, progTimeout: d.ProgramTimeout,
	}
	if h.nss == nil {
		h.nss = SystemNSS{}
	}
	if h.now == nil {
		h.now = time.Now
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.undoBudget <= 0 {
		h.undoBudget = journal.DefaultUndoBudget
	}
	if h.recoverer == nil {
		h.recoverer = &journal.Recoverer{J: d.Journal, Log: h.log, UndoBudget: h.undoBudget}
	}
	h.recoverer.Register(OpName, h)
	if h.progTimeout <= 0 {
		h.progTimeout = 30 * time.Second
	}
	return h, nil
}

// Close releases what Setup opened (the directory connections). A
// handler built with New owns nothing and Close does nothing.
func (h *Handler) Close() error {
	var errs []error
	for _, c := range h.closers {
		errs = append(errs, c())
	}
	return errors.Join(errs...)
}

// Serve handles one AddUser request. Refusals (EPERM, EINVAL, EEXIST)
// and failed steps are reported in the AddUserResponse, never as an
// error; the error is only for a reply that cannot be encoded.
func (h *Handler) Serve(ctx context.Context, req ops.Request) (ops.Reply, error) {
	p := ops.Proto[*ceopb.AddUser, *ceopb.AddUserResponse]{Op: "adduser", Event: "adduser", Log: h.log,
		Do: h.serve, Malformed: h.malformed}
	return p.Serve(ctx, req)
}

// status is ops.Status, short for the many messages here.
var status = ops.Status

// refuse is a one-message reply and its log attributes.
func refuse(outcome ops.Outcome, code int32, format string, args ...any) (*ceopb.AddUserResponse, ops.Outcome, []slog.Attr) {
	m := status(code, format, args...)
	return &ceopb.AddUserResponse{Messages: []*ceopb.StatusMessage{m}}, outcome, []slog.Attr{slog.String("reason", m.GetMessage())}
}

// admit asks ceod.acl whether the caller may add the account m asks
// for (nil for a request that does not decode: no target, no kind); a
// refusal is returned as a reply. Authorization comes first: an outsider
// learns nothing about names or the request format.
func (h *Handler) admit(ctx context.Context, c ops.Caller, m *ceopb.AddUser) (*ceopb.AddUserResponse, ops.Outcome, []slog.Attr) {
	d, err := authz.Authorizer{ACL: h.acl, Dir: h.dir}.Check(ctx, OpName, c, m.GetUsername(), kindOf(m))
	if err != nil {
		h.log.Error("adduser: authorization check failed", "caller", c.User, "err", err)
		return refuse(ops.OutcomeError, d.Status, "%s", d.Message)
	}
	if !d.Allowed {
		return refuse(ops.OutcomeDenied, d.Status, "%s", d.Message)
	}
	return nil, "", nil
}

// kindOf is the ACL's name of the kind of account m asks for; "" if m is
// nil or names no kind this version knows.
func kindOf(m *ceopb.AddUser) string {
	switch m.GetType() {
	case ceopb.AddUser_MEMBER:
		return acl.KindMember
	case ceopb.AddUser_CLUB_REP:
		return acl.KindClubRep
	case ceopb.AddUser_CLUB:
		return acl.KindClub
	}
	return ""
}

// malformed answers a request that does not decode.
func (h *Handler) malformed(ctx context.Context, c ops.Caller, _ error) (*ceopb.AddUserResponse, ops.Outcome, []slog.Attr, error) {
	t0 := h.now()
	out, outcome, rec := h.admit(ctx, c, nil)
	if out == nil {
		out, outcome, rec = refuse(ops.OutcomeInvalid, StatusEINVAL, "malformed AddUser request")
	}
	return out, outcome, append(rec, slog.String("caller", c.User), slog.Duration("duration", h.now().Sub(t0))), nil
}

// serve answers a decoded request.
func (h *Handler) serve(ctx context.Context, c ops.Caller, m *ceopb.AddUser) (*ceopb.AddUserResponse, ops.Outcome, []slog.Attr, error) {
	t0 := h.now()
	out, outcome, rec := h.create(ctx, c, m)
	return out, outcome, append(rec, slog.String("caller", c.User), slog.Duration("duration", h.now().Sub(t0))), nil
}

// create returns the reply, its outcome and the attributes of the log record.
func (h *Handler) create(ctx context.Context, caller ops.Caller, m *ceopb.AddUser) (*ceopb.AddUserResponse, ops.Outcome, []slog.Attr) {
	sw := newStopwatch(h.now)
	if out, outcome, rec := h.admit(ctx, caller, m); out != nil {
		return out, outcome, rec
	}
	r, problems := validate(m, h.cfg)
	if len(problems) > 0 {
		return refuse(ops.OutcomeInvalid, StatusEINVAL, "%s", strings.Join(problems, "; "))
	}
	sw.mark("authorize")
	defer func() {
		h.log.LogAttrs(ctx, slog.LevelDebug, "adduser: step timings", append([]slog.Attr{slog.String("user", r.name)}, sw.laps...)...)
	}()
	rec := []slog.Attr{slog.String("user", r.name), slog.String("type", r.typ.String())}

	// The journal record claims the name before anything else happens.
	jr, code, why := h.begin(ctx, r, caller.User)
	if why != "" {
		if code == StatusEEXIST {
			out, outcome, attrs := refuse(ops.OutcomeInvalid, code, "%s", why)
			return out, outcome, append(rec, slog.String("result", "exists"), attrs[0])
		}
		out, outcome, attrs := refuse(ops.OutcomeError, code, "%s", why)
		return out, outcome, append(rec, attrs...)
	}
	rec = append(rec, slog.String("journal_id", jr.ID))
	sw.mark("journal_begin")
	if code, why, err := h.checkFree(ctx, r); err != nil {
		h.journal.Finish(jr)
		h.log.Error("adduser: existence check failed", "user", r.name, "err", err)
		out, outcome, attrs := refuse(ops.OutcomeError, code, "cannot check whether %s is free: %s", r.name, why)
		return out, outcome, append(rec, attrs...)
	} else if why != "" {
		h.journal.Finish(jr)
		out, outcome, attrs := refuse(ops.OutcomeInvalid, StatusEEXIST, "%s", why)
		return out, outcome, append(rec, slog.String("result", "exists"), attrs[0])
	}

	sw.mark("check_free")
	c := &creation{h: h, r: r, caller: caller.User, rec: jr, sw: sw}
	ok := c.run(ctx)
	rec = append(rec, slog.Int("uid", c.uid), slog.String("result", c.outcome))
	if c.failure != nil {
		rec = append(rec, slog.String("err", c.failure.Error()))
	}
	lines := make([]string, len(c.msgs))
	for i, m := range c.msgs {
		lines[i] = m.GetMessage()
	}
	// The hook runs even if the client has gone: the account exists (or
	// is gone) either way, and the membership list must hear of it.
	hookCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), h.progTimeout)
	defer cancel()
	if ok {
		c.subscribeList(hookCtx)
		lines = lines[:0]
		for _, m := range c.msgs {
			lines = append(lines, m.GetMessage())
		}
	}
	h.notify(hookCtx, r, caller.User, ok, lines)
	sw.mark("notify")
	outcome := ops.OutcomeOK
	switch {
	case c.outcome == "exists": // taken while we were at it
		outcome = ops.OutcomeInvalid
	case !ok:
		outcome = ops.OutcomeError
	}
	return &ceopb.AddUserResponse{Messages: c.msgs}, outcome, rec
}

// checkFree returns why the name is taken ("" if it is free), or an
// error with the status to report and a short reason.
func (h *Handler) checkFree(ctx context.Context, r *request) (int32, string, error) {
	ldapChecks := []struct {
		fn   func(context.Context, string) (bool, error)
		arg  string
		what string
	}{
		{h.dir.UserExists, r.name, "user %s already exists"},
		{h.dir.GroupExists, r.name, "group %s already exists"},
	}
	if r.kind == config.KindClub {
		ldapChecks = append(ldapChecks, struct {
			fn   func(context.Context, string) (bool, error)
			arg  string
			what string
		}{h.dir.SudoRoleExists, "%" + r.name, "sudo role %%%s already exists"})
	}
	for _, c := range ldapChecks {
		taken, err := c.fn(ctx, c.arg)
		if err != nil {
			return ops.ELDAP, "the directory is unavailable", err
		}
		if taken {
			return 0, fmt.Sprintf(c.what, r.name), nil
		}
	}
	if taken, err := h.nss.UserExists(r.name); err != nil {
		return statusEIO, "name service lookup failed", err
	} else if taken {
		return 0, fmt.Sprintf("user %s already exists (name service)", r.name), nil
	}
	if taken, err := h.nss.GroupExists(r.name); err != nil {
		return statusEIO, "name service lookup failed", err
	} else if taken {
		return 0, fmt.Sprintf("group %s already exists (name service)", r.name), nil
	}
	root, _, _ := h.cfg.Home(r.kind)
	if taken, err := home.Exists(root, r.name); err != nil {
		return ops.EHOME, "cannot check the home directory", err
	} else if taken {
		return 0, fmt.Sprintf("home directory %s already exists", filepath.Join(root, r.name)), nil
	}
	if r.kind == config.KindClub {
		return 0, "", nil // a club has no principal; one of its name is not ours to judge
	}
	// No takeover: a principal that no journal record says we made is
	// someone's (a service's, or a stale one an administrator must
	// judge), whatever LDAP says. It is left untouched.
	switch _, err := h.kadm.GetPrincipal(ctx, r.name); {
	case err == nil:
		return 0, fmt.Sprintf("principal %s@%s already exists without an account (made outside ceod; delete it by hand if it is stale)", r.name, h.cfg.KRB5Realm), nil
	case !errors.Is(err, kadmin.ErrNotFound):
		return ops.EKERB, "cannot reach kadmind", err
	}
	return 0, "", nil
}

// begin writes the request's journal record, claiming the name. An
// unfinished record of an earlier attempt at the name is recovered
// first; one still running gets EEXIST. It returns the record, or the
// status and reason of a refusal.
func (h *Handler) begin(ctx context.Context, r *request, caller string) (*journal.Record, int32, string) {
	jr := &journal.Record{Op: OpName, Caller: caller, Targets: []string{r.name}}
	err := h.recoverer.Begin(ctx, jr)
	var ce *journal.ClaimedError
	switch {
	case err == nil:
		return jr, 0, ""
	case errors.As(err, &ce):
		return nil, StatusEEXIST, fmt.Sprintf("user %s already exists (another request for it is running)", r.name)
	case errors.Is(err, journal.ErrUnsettled):
		return nil, StatusEAGAIN, fmt.Sprintf("an earlier attempt at %s left changes that are not undone yet (ceod -journal shows them); ceod retries; send the request again later", r.name)
	}
	h.log.Error("adduser: cannot write the journal", "user", r.name, "err", err)
	return nil, StatusEIOJournal, "cannot write the journal; nothing was changed"
}

// UndoStep undoes one step of an adduser journal record (journal.Undoer).
func (h *Handler) UndoStep(ctx context.Context, _ *journal.Record, s *journal.Step) error {
	name := s.Undo["name"]
	id, _ := strconv.Atoi(s.Undo["id"])
	switch s.Name {
	case stepLDAPUser:
		return gone(h.dir.DeleteUserWithID(ctx, name, id))
	case stepGroup:
		return gone(h.dir.DeleteGroupWithID(ctx, name, id))
	case stepSudoRole:
		return gone(h.dir.DeleteSudoRole(ctx, s.Undo["cn"]))
	case stepHome:
		return home.Remove(s.Undo["root"], name)
	case stepPrincipal:
		err := h.kadm.DeletePrincipal(ctx, name)
		if errors.Is(err, kadmin.ErrNotFound) {
			if s.State == journal.Begun {
				// An addprinc cut off may still be applied by a slow
				// kadmind: the recoverer looks again before believing it.
				return journal.ErrAbsent
			}
			return nil
		}
		return err
	}
	return fmt.Errorf("adduser: unknown journal step %q", s.Name)
}

// gone treats "already absent" as a successful undo.
func gone(err error) error {
	if errors.Is(err, directory.ErrNotFound) {
		return nil
	}
	return err
}
