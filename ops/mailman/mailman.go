// Package mailman implements the "mailman" op (id 0x04): subscribe
// USER@list_domain to the members list, with the legacy plain-text
// request and replies (see README.md), through GNU Mailman 3's REST API.
package mailman

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strings"

	"github.com/csclub/ceo/ops"
	"github.com/csclub/ceo/ops/acl"
	"github.com/csclub/ceo/ops/authz"
)

// Disabled is the members_list value that turns the op off.
const Disabled = "none"

// DefaultNameRule is accounts.cf's username_regex default.
var DefaultNameRule = regexp.MustCompile(`^[a-z][-a-z0-9]*$`)

// Deps are the mailman op's inputs.
type Deps struct {
	// Dir answers the authorization questions. Required unless the op
	// is disabled.
	Dir authz.Directory
	// ACL authorizes each request (ceod.acl, op "mailman"), but for the
	// Trusted principals. Required unless the op is disabled.
	ACL *acl.ACL
	// Lists subscribes addresses (a *Client). Required unless the op is
	// disabled.
	Lists Subscriber
	// MembersList is mailman.cf's members_list: a list name ("members"),
	// a posting address ("members@lists.example.org") or a list id
	// ("members.lists.example.org"). "none" disables the op.
	MembersList string
	// ListDomain is mailman.cf's list_domain: the domain of the
	// subscribed addresses, USER@ListDomain. A bare list name lives at
	// this domain too, unless ListID says otherwise.
	ListDomain string
	// ListID, if set, is the Mailman 3 list id to subscribe to
	// (mailman_list_id), overriding what MembersList implies.
	ListID string
	// Trusted are principals (as ops.Caller.User names them: without the
	// realm) that may subscribe anyone: the service principals of the
	// ceods that run adduser (ceod.cf mailman_trusted_principals). Nothing
	// is trusted by address.
	Trusted []string
	// NameRule checks the requested username; nil means DefaultNameRule.
	NameRule *regexp.Regexp
	// Log receives one record per request. Nil means no logging.
	Log *slog.Logger
}

type handler struct {
	d      Deps
	listID string
	rule   *regexp.Regexp
	log    *slog.Logger
}

// New returns the mailman op's handler. It fails on a configuration
// that cannot work.
func New(d Deps) (ops.Handler, error) {
	h := &handler{d: d, rule: d.NameRule, log: d.Log}
	if h.rule == nil {
		h.rule = DefaultNameRule
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	h.log = h.log.With("op", "mailman")
	if d.MembersList == "" {
		return nil, errors.New("mailman: members_list is empty (set it, or \"none\" to disable the op)")
	}
	if d.MembersList == Disabled {
		return h, nil
	}
	switch {
	case d.Dir == nil || d.Lists == nil || d.ACL == nil:
		return nil, errors.New("mailman: Deps.Dir, Deps.ACL and Deps.Lists are required")
	case d.ListDomain == "":
		return nil, errors.New("mailman: list_domain is empty")
	}
	h.listID = ListID(d.MembersList, d.ListDomain)
	if d.ListID != "" {
		h.listID = d.ListID
	}
	return h, nil
}

// ListID returns the Mailman 3 list id that members_list names: a list
// id as is, a posting address with its "@" made a ".", a bare name at
// domain.
func ListID(membersList, domain string) string {
	switch {
	case strings.Contains(membersList, "@"):
		return strings.Replace(membersList, "@", ".", 1)
	case strings.Contains(membersList, "."):
		return membersList
	}
	return membersList + "." + domain
}

// Serve implements ops.Handler. The request is the username on one line;
// the reply is the text the legacy op printed. Only a failure of the list
// server itself is an error (the legacy program died then too).
func (h *handler) Serve(ctx context.Context, req ops.Request) (ops.Reply, error) {
	// Like Python's raw_input: the first line, without its newline.
	user, _, _ := bytes.Cut(req.Body, []byte("\n"))
	name := string(user)
	caller := req.Caller.User // ceod admitted and mapped the principal (ceod/server.Callers)
	reply, outcome, err := h.subscribe(ctx, req.Caller, name)
	if err != nil {
		outcome = ops.OutcomeError
	}
	h.log.LogAttrs(ctx, slog.LevelInfo, "subscribe",
		slog.String("caller", caller), slog.String("target", name),
		slog.String("list", h.listID), slog.String("outcome", string(outcome)))
	if err != nil {
		return ops.Reply{}, err
	}
	return ops.Reply{Body: []byte(reply), Outcome: outcome}, nil
}

func (h *handler) subscribe(ctx context.Context, caller ops.Caller, name string) (reply string, outcome ops.Outcome, err error) {
	if h.d.MembersList == Disabled {
		return fmt.Sprintf("Disabled: %s\n", ops.Sanitize(name)), ops.OutcomeOK, nil
	}
	if !slices.Contains(h.d.Trusted, caller.User) {
		d, err := authz.Authorizer{ACL: h.d.ACL, Dir: h.d.Dir}.Check(ctx, "mailman", caller, name, "")
		if err != nil {
			return "", ops.OutcomeError, fmt.Errorf("mailman: %w", err)
		}
		if !d.Allowed {
			// Legacy's first words, then which rule refused.
			return "Access denied: " + ops.Sanitize(d.Message) + "\n", ops.OutcomeDenied, nil
		}
	}
	if !h.rule.MatchString(name) {
		return fmt.Sprintf("Invalid username: %q\n", name), ops.OutcomeInvalid, nil
	}
	addr := name + "@" + h.d.ListDomain
	res, err := h.d.Lists.Subscribe(ctx, h.listID, addr)
	if err != nil {
		return "", ops.OutcomeError, fmt.Errorf("mailman: subscribing %s to %s: %w", addr, h.listID, err)
	}
	// The lines Mailman 2's add_members printed, then the op's own
	// newline (Python's print).
	var line string
	switch res {
	case Subscribed:
		line, outcome = "Subscribed: "+addr, ops.OutcomeOK
	case AlreadyMember:
		line, outcome = "Already a member: "+addr, ops.OutcomeOK
	case Pending:
		line, outcome = "Subscription pending: "+addr, ops.OutcomeOK
	case BadAddress:
		line, outcome = "Bad/Invalid email address: "+addr, ops.OutcomeInvalid
	case NoSuchList:
		line, outcome = "No such list: "+h.d.MembersList, ops.OutcomeError
	default:
		return "", ops.OutcomeError, fmt.Errorf("mailman: unknown result %d", res)
	}
	return line + "\n\n", outcome, nil
}
