package wire_test

import (
	"bytes"
	"fmt"

	"github.com/csclub/ceo/wire"
)

func ExampleWriteFrame() {
	var conn bytes.Buffer // a net.Conn in real use
	if err := wire.WriteFrame(&conn, wire.MsgMail, []byte("sealed request")); err != nil {
		panic(err)
	}
	fmt.Printf("% x\n", conn.Bytes()[:8])

	t, body, err := wire.ReadFrame(&conn, 0)
	fmt.Println(t, string(body), err)

	_, _, err = wire.ReadFrame(&conn, 0)
	fmt.Println(err)
	// Output:
	// 00 00 00 0e 00 00 00 02
	// mail sealed request <nil>
	// EOF
}
