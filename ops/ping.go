package ops

import (
	"context"
	"fmt"

	"github.com/csclub/ceo/wire/ceopb"
	"google.golang.org/protobuf/proto"
)

// Ping is the built-in "ping" op (id 0x10). It ignores the request body
// and answers with a ceopb.PingResponse naming the authenticated
// principal, which lets monitoring and benchmarks check the whole path:
// connection, authentication, wrap and unwrap.
var Ping Handler = HandlerFunc(ping)

func ping(ctx context.Context, req Request) (Reply, error) {
	b, err := proto.Marshal(&ceopb.PingResponse{Principal: proto.String(req.Caller.Principal)})
	if err != nil {
		return Reply{}, fmt.Errorf("ping: encoding reply: %w", err)
	}
	return Reply{Body: b}, nil
}
