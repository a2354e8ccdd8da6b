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
	attrs := []slog.Attr{
		slog.String("outcome", string(authOutcome(err))),
		slog.String("remote", c.remote),
		slog.String("principal", principal),
		slog.Float64("duration", time.Since(start).Seconds()),
	}
	if err != nil {
		attrs = append(attrs, slog.String("err", err.Error()))
	}
	audit(c.srv.auditAuth, attrs)
}

// auditOp writes the audit record of one op. Op audit lines are never
// aggregated or dropped. The logger carries event=op already formatted,
// and a successful op's record has five attributes, which a slog.Record
// holds without allocating.
func (c *conn) auditOp(start time.Time, op string, outcome ops.Outcome, err error) {
	attrs := []slog.Attr{
		slog.String("outcome", string(outcome)),
		slog.String("remote", c.remote),
		slog.String("principal", c.principal),
		slog.String("op", op),
		slog.Float64("duration", time.Since(start).Seconds()),
	}
	if err != nil {
		attrs = append(attrs, slog.String("err", err.Error()))
	}
	audit(c.srv.auditOps, attrs)
}

// audit writes an audit record. It is Logger.LogAttrs without the
// caller's program counter, which slog takes for every record (a stack
// walk) and no handler of ceod's uses.
func audit(l *slog.Logger, attrs []slog.Attr) {
	ctx := context.Background()
	if !l.Enabled(ctx, slog.LevelInfo) {
		return
	}
	r := slog.NewRecord(time.Now(), slog.LevelInfo, "audit", 0)
	r.AddAttrs(attrs...)
	l.Handler().Handle(ctx, r)
}
