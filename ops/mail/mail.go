// Package mail implements the "mail" op (id 0x02): set or clear a
// member's mail forward, ~USER/.forward, with the legacy rules and
// replies (see README.md). The file is written by the root daemon
// without ever following a link the user controls.
package mail

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"syscall"
	"unicode"

	"github.com/csclub/ceo/ops"
	"github.com/csclub/ceo/ops/acl"
	"github.com/csclub/ceo/ops/authz"
	"github.com/csclub/ceo/wire/ceopb"
)

// MaxForward bounds the length of a forward address in bytes.
const MaxForward = 1024

// Deps are the mail op's inputs.
type Deps struct {
	// Dir answers group membership and gives the target's uid, gid and
	// home directory. Required.
	Dir authz.Directory
	// ACL authorizes each request (ceod.acl, op "mail"). Required.
	ACL *acl.ACL
	// Resolver checks that a forward's mail host exists (legacy: "Invalid
	// host"). Nil means the system's resolver.
	Resolver Resolver
	// Log receives one record per request (never the forward itself).
	// Nil means no logging.
	Log *slog.Logger

	fs forwardFS // tests choose the fallback writer
}

type handler struct {
	auth authz.Authorizer
	dir  authz.Directory
	res  Resolver
	fs   forwardFS
	log  *slog.Logger
}

// New returns the mail op's handler.
func New(d Deps) (ops.Handler, error) {
	if d.Dir == nil || d.ACL == nil {
		return nil, errors.New("mail: Deps.Dir and Deps.ACL are required")
	}
	log := d.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	res := d.Resolver
	if res == nil {
		res = net.DefaultResolver
	}
	h := &handler{auth: authz.Authorizer{ACL: d.ACL, Dir: d.Dir}, dir: d.Dir, res: res, fs: d.fs, log: log.With("op", "mail")}
	return &ops.Proto[*ceopb.UpdateMail, *ceopb.UpdateMailResponse]{Op: "mail", Event: "update mail", Log: h.log, Do: h.serve}, nil
}

// reply collects the legacy status messages.
type reply struct{ ceopb.UpdateMailResponse }

func (r *reply) add(status int32, format string, args ...any) int32 {
	r.Messages = append(r.Messages, ops.Status(status, format, args...))
	return status
}

// serve answers one decoded request. A malformed request is an error
// (the legacy program died on it); every other outcome is a reply.
func (h *handler) serve(ctx context.Context, c ops.Caller, in *ceopb.UpdateMail) (*ceopb.UpdateMailResponse, ops.Outcome, []slog.Attr, error) {
	var out reply
	caller := c.User // ceod admitted and mapped the principal (ceod/server.Callers)
	outcome, err := h.update(ctx, c, in, &out)
	attrs := []slog.Attr{slog.String("caller", caller), slog.String("target", in.GetUsername()),
		slog.Bool("set", in.Forward != nil && in.GetForward() != ""),
		slog.Bool("clear", in.Forward != nil && in.GetForward() == "")}
	return &out.UpdateMailResponse, outcome, attrs, err
}

func (h *handler) update(ctx context.Context, caller ops.Caller, in *ceopb.UpdateMail, out *reply) (ops.Outcome, error) {
	if in.Username == nil || in.GetUsername() == "" {
		out.add(int32(syscall.EINVAL), "missing required argument: username")
		return ops.OutcomeInvalid, nil
	}
	target := in.GetUsername()
	d, err := h.auth.Check(ctx, "mail", caller, target, "")
	if err != nil {
		h.log.Error("authorization failed", "caller", caller.User, "target", target, "err", err)
		out.add(d.Status, "%s", d.Message)
		return ops.OutcomeError, nil
	}
	if !d.Allowed {
		out.add(d.Status, "%s", d.Message)
		return ops.OutcomeDenied, nil
	}
	if in.Forward != nil {
		if bad, ok := invalidChar(in.GetForward()); ok {
			out.add(int32(syscall.EINVAL), "invalid character in forward: %c", bad)
			return ops.OutcomeInvalid, nil
		}
		if len(in.GetForward()) > MaxForward {
			out.add(int32(syscall.EINVAL), "forward is longer than %d bytes", MaxForward)
			return ops.OutcomeInvalid, nil
		}
		if status, msg := checkHost(ctx, h.res, in.GetForward()); status != 0 {
			out.add(status, "%s", msg)
			if status == int32(syscall.EINVAL) {
				return ops.OutcomeInvalid, nil
			}
			return ops.OutcomeError, nil
		}
	}
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("mail: %w", err)
	}

	if in.Forward != nil {
		u, err := h.dir.LookupUser(ctx, target)
		switch {
		case errors.Is(err, authz.ErrNoSuchUser):
			out.add(int32(syscall.ENOENT), "getpwnam: %s: no such user", target)
			return ops.OutcomeInvalid, nil
		case err != nil:
			h.log.Error("user lookup failed", "target", target, "err", err)
			out.add(ops.ELDAP, "unable to look up %s: directory error", target)
			return ops.OutcomeError, nil
		}
		if fwd := in.GetForward(); fwd != "" {
			if err := h.fs.setForward(u.Home, u.UID, u.GID, []byte(fwd+"\n")); err != nil {
				h.log.Warn("writing forward failed", "target", target, "err", err)
				out.add(errno(err), "%v", err)
				return ops.OutcomeError, nil
			}
			out.add(0, "successfully updated forward for %s", target)
		} else {
			if err := h.fs.clearForward(u.Home, u.UID); err != nil {
				h.log.Warn("clearing forward failed", "target", target, "err", err)
				out.add(errno(err), "%v", err)
				return ops.OutcomeError, nil
			}
			out.add(0, "successfully cleared forward for %s", target)
		}
	}
	out.add(0, "finished updating mail for %s", target)
	return ops.OutcomeOK, nil
}

// invalidChar returns the first character of fwd that the legacy rules
// forbid: " ' , | $ / # : and white space (a pipe or a path in a
// .forward runs a program or writes a file as the user). Control
// characters are refused as well.
func invalidChar(fwd string) (rune, bool) {
	for _, c := range fwd {
		switch c {
		case '"', '\'', ',', '|', '$', '/', '#', ':':
			return c, true
		}
		if unicode.IsSpace(c) || unicode.IsControl(c) || c == unicode.ReplacementChar {
			return c, true
		}
	}
	return 0, false
}
