package ceoc_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/csclub/ceo/ceoc"
	"github.com/csclub/ceo/wire/ceopb"
)

// Call takes everything from the environment, like the legacy ceoc.
func ExampleCall() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	reply, err := ceoc.Call(ctx, "ping", nil)
	switch {
	case errors.Is(err, ceoc.ErrNoTicket):
		log.Fatal(err) // the message says: run kinit
	case err != nil:
		log.Fatal(err)
	}
	var pr ceopb.PingResponse
	if err := proto.Unmarshal(reply, &pr); err != nil {
		log.Fatal(err)
	}
	fmt.Println("ceod knows me as", pr.GetPrincipal())
}

// A script authenticating with a keytab, sending several ops on one
// connection.
func ExampleClient_Dial() {
	c := &ceoc.Client{
		ConfigDir:   "/etc/csc",
		Credentials: ceoc.Keytab("ceod/admin", "/etc/csc/ceod-admin.keytab"),
	}
	ctx := context.Background()
	conn, err := c.Dial(ctx, "ping")
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	for range 3 {
		if _, err := conn.Call(ctx, "ping", nil); err != nil {
			log.Fatal(err)
		}
	}
}
