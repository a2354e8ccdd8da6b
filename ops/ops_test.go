package ops

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/csclub/ceo/wire/ceopb"
)

func TestCallerOf(t *testing.T) {
	for in, want := range map[string]Caller{
		"alice@CSCLUB":       {"alice", "alice@CSCLUB", "CSCLUB"},
		"alice/admin@CSCLUB": {"alice/admin", "alice/admin@CSCLUB", "CSCLUB"},
		"noreal":             {"noreal", "noreal", ""},
		"a@b@C":              {"a@b", "a@b@C", "C"},
	} {
		if got := CallerOf(in); got != want {
			t.Errorf("CallerOf(%q) = %+v, want %+v", in, got, want)
		}
	}
}

func TestSanitize(t *testing.T) {
	for in, want := range map[string]string{
		"alice":           "alice",
		"émile":           "émile",
		"a\nb":            `a\nb`,
		"a\r\n\x1b[2Jb":   `a\r\n\x1b[2Jb`,
		"bad\xffbyte\x00": `bad\xffbyte\x00`,
		"\u0085next":      `\u0085next`,
	} {
		if got := Sanitize(in); got != want {
			t.Errorf("Sanitize(%q) = %q, want %q", in, got, want)
		}
	}
}

// A name with a line break, taken from a request, reaches the reply
// escaped: through Status, and through the Proto adapter's reply.
func TestReplyNeverEchoesControlCharacters(t *testing.T) {
	const evil = "alice\nceo: successfully created database root\x1b[2J"
	if m := Status(0, "created %s", evil).GetMessage(); strings.ContainsAny(m, "\n\x1b") {
		t.Errorf("Status message %q holds a control character", m)
	}
	p := &Proto[*ceopb.UpdateMail, *ceopb.UpdateMailResponse]{Op: "test", Event: "test",
		Do: func(ctx context.Context, c Caller, in *ceopb.UpdateMail) (*ceopb.UpdateMailResponse, Outcome, []slog.Attr, error) {
			return &ceopb.UpdateMailResponse{Messages: []*ceopb.StatusMessage{
				Status(22, "invalid characters in username %s", in.GetUsername()),
			}}, OutcomeInvalid, nil, nil
		}}
	body, _ := proto.Marshal(&ceopb.UpdateMail{Username: proto.String(evil)})
	rep, err := p.Serve(context.Background(), Request{Body: body})
	if err != nil {
		t.Fatal(err)
	}
	var out ceopb.UpdateMailResponse
	if err := proto.Unmarshal(rep.Body, &out); err != nil {
		t.Fatal(err)
	}
	m := out.GetMessages()[0].GetMessage()
	if strings.ContainsAny(m, "\n\x1b") || !strings.Contains(m, `alice\nceo`) {
		t.Errorf("reply %q: want the name escaped", m)
	}
	if rep.Outcome != OutcomeInvalid {
		t.Errorf("outcome %q, want invalid", rep.Outcome)
	}
}

func TestProtoMalformed(t *testing.T) {
	var logs strings.Builder
	p := &Proto[*ceopb.UpdateMail, *ceopb.UpdateMailResponse]{Op: "mail", Event: "update mail",
		Log: slog.New(slog.NewTextHandler(&logs, nil)),
		Do: func(ctx context.Context, c Caller, in *ceopb.UpdateMail) (*ceopb.UpdateMailResponse, Outcome, []slog.Attr, error) {
			t.Error("Do called for a malformed request")
			return nil, "", nil, nil
		}}
	_, err := p.Serve(context.Background(), Request{Body: []byte{0xff, 0xff}})
	if err == nil || !strings.Contains(err.Error(), "malformed UpdateMail request") {
		t.Errorf("error %v, want a malformed UpdateMail request", err)
	}
	if !strings.Contains(logs.String(), "outcome=error") {
		t.Errorf("log %q: want one record with outcome=error", logs.String())
	}
}

func TestProtoOutcomeAndLog(t *testing.T) {
	var logs strings.Builder
	p := &Proto[*ceopb.UpdateMail, *ceopb.UpdateMailResponse]{Op: "mail", Event: "update mail",
		Log: slog.New(slog.NewTextHandler(&logs, nil)),
		Do: func(ctx context.Context, c Caller, in *ceopb.UpdateMail) (*ceopb.UpdateMailResponse, Outcome, []slog.Attr, error) {
			return &ceopb.UpdateMailResponse{}, "", []slog.Attr{slog.String("caller", c.User)}, nil
		}}
	rep, err := p.Serve(context.Background(), Request{Caller: CallerOf("bob@R")})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Outcome.OrOK() != OutcomeOK {
		t.Errorf("outcome %q, want ok", rep.Outcome)
	}
	if got := logs.String(); strings.Count(got, "\n") != 1 || !strings.Contains(got, `msg="update mail" caller=bob outcome=ok`) {
		t.Errorf("log %q: want one update mail record", got)
	}
}
