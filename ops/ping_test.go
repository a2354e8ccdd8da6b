package ops

import (
	"context"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/csclub/ceo/wire/ceopb"
)

func TestPing(t *testing.T) {
	for _, body := range [][]byte{nil, {0}, []byte("ignored")} {
		reply, err := Ping.Serve(context.Background(), Request{Caller: Caller{User: "alice/admin", Principal: "alice/admin@CSCLUB"}, Body: body})
		if err != nil {
			t.Fatalf("Serve(%q): %v", body, err)
		}
		var pr ceopb.PingResponse
		if err := proto.Unmarshal(reply.Body, &pr); err != nil {
			t.Fatalf("reply does not decode: %v", err)
		}
		if got := pr.GetPrincipal(); got != "alice/admin@CSCLUB" {
			t.Errorf("principal %q, want alice/admin@CSCLUB", got)
		}
	}
}
