package server

import (
	"context"
	"log/slog"
	"time"

	"github.com/csclub/ceo/ops"
)

// auditAuth writes the audit record of an authentication: a success, or
// a valid ticket whose principal may not call ops.
func (c *conn) auditAuth(start time.Time, principal string, err error) {
	c.audit(c.srv.auditAuth, start, authOutcome(err), principal, "", err)
}

// auditOp writes the audit record of one op. Op audit lines are never
// aggregated or dropped.
func (c *conn) auditOp(start time.Time, op string, outcome ops.Outcome, err error) {
	c.audit(c.srv.auditOps, start, outcome, c.principal, op, err)
}

// audit writes an audit record to l, which carries the event already
// formatted: a successful op's record has five attributes, which a
// slog.Record holds without allocating. It is Logger.LogAttrs without
// the caller's program counter, which slog takes for every record (a
// stack walk) and no handler of ceod's uses.
func (c *conn) audit(l *slog.Logger, start time.Time, outcome ops.Outcome, principal, op string, err error) {
	ctx := context.Background()
	if !l.Enabled(ctx, slog.LevelInfo) {
		return
	}
	r := slog.NewRecord(time.Now(), slog.LevelInfo, "audit", 0)
	r.AddAttrs(
		slog.String("outcome", string(outcome)),
		slog.String("remote", c.remote),
		slog.String("principal", principal),
	)
	if op != "" {
		r.AddAttrs(slog.String("op", op))
	}
	r.AddAttrs(slog.Float64("duration", time.Since(start).Seconds()))
	if err != nil {
		r.AddAttrs(slog.String("err", err.Error()))
	}
	l.Handler().Handle(ctx, r)
}
