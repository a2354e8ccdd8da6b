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
	if outcome == ops.OutcomeOK && err == nil {
		c.auditOpOK(start, op)
		return
	}
	c.audit(c.srv.auditOps, start, outcome, c.principal, op, err)
}

// auditOpOK writes the record of a successful op through a logger that
// has the connection's fixed attributes (outcome=ok, remote, principal)
// formatted once: most records are these, and formatting them again
// was a tenth of ceod's CPU per op. The line is the same as audit's.
// A connection's first op goes through audit: building that logger
// costs more than one record (4% of ceod's CPU for a connection that
// makes one op, as `ceoc OP` does), so it is built for the second.
func (c *conn) auditOpOK(start time.Time, op string) {
	ctx := context.Background()
	if !c.srv.auditOps.Enabled(ctx, slog.LevelInfo) {
		return
	}
	if c.auditOK == nil {
		if c.nops < 2 {
			c.audit(c.srv.auditOps, start, ops.OutcomeOK, c.principal, op, nil)
			return
		}
		c.auditOK = c.srv.auditOps.With(
			slog.String("outcome", string(ops.OutcomeOK)),
			slog.String("remote", c.remote),
			slog.String("principal", c.principal),
		)
	}
	r := slog.NewRecord(time.Now(), slog.LevelInfo, "audit", 0)
	r.AddAttrs(slog.String("op", op), slog.Float64("duration", time.Since(start).Seconds()))
	c.auditOK.Handler().Handle(ctx, r)
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
