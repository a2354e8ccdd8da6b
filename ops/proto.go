package ops

import (
	"context"
	"fmt"
	"log/slog"

	"google.golang.org/protobuf/proto"
)

// Proto is the Handler of an op whose request and reply are protobuf
// messages: it decodes the request, calls Do, writes the op's one log
// record and encodes the reply.
type Proto[Req, Resp proto.Message] struct {
	// Op names the op in errors ("mysql").
	Op string
	// Event is the log record's message ("add mysql user").
	Event string
	// Log receives the record; nil means no logging.
	Log *slog.Logger
	// Do serves a decoded request. It returns the reply, its outcome and
	// attributes for the log record (never a secret), or an error that
	// drops the connection without a reply.
	Do func(ctx context.Context, caller Caller, in Req) (Resp, Outcome, []slog.Attr, error)
	// Malformed, if set, answers a request that does not decode; nil
	// makes that an error, as the legacy op programs died on it. Missing
	// required fields are not malformed: Do sees them unset.
	Malformed func(ctx context.Context, caller Caller, err error) (Resp, Outcome, []slog.Attr, error)
}

// Serve implements Handler.
func (p *Proto[Req, Resp]) Serve(ctx context.Context, req Request) (Reply, error) {
	var zero Req
	in := zero.ProtoReflect().New().Interface().(Req)
	var (
		out     Resp
		outcome Outcome
		attrs   []slog.Attr
		err     error
	)
	if uerr := (proto.UnmarshalOptions{AllowPartial: true}).Unmarshal(req.Body, in); uerr != nil {
		if p.Malformed == nil {
			err = fmt.Errorf("%s: malformed %s request: %w", p.Op, in.ProtoReflect().Descriptor().Name(), uerr)
		} else {
			out, outcome, attrs, err = p.Malformed(ctx, req.Caller, uerr)
		}
	} else {
		out, outcome, attrs, err = p.Do(ctx, req.Caller, in)
	}
	if err != nil {
		outcome = OutcomeError
	}
	if p.Log != nil {
		attrs = append(attrs, slog.String("outcome", string(outcome.OrOK())))
		if err != nil {
			attrs = append(attrs, slog.String("err", err.Error()))
		}
		p.Log.LogAttrs(ctx, slog.LevelInfo, p.Event, attrs...)
	}
	if err != nil {
		return Reply{}, err
	}
	b, err := proto.Marshal(out)
	if err != nil {
		return Reply{}, fmt.Errorf("%s: encoding reply: %w", p.Op, err)
	}
	return Reply{Body: b, Outcome: outcome}, nil
}
