package registry

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/csclub/ceo/ceoc/opsfile"
	"github.com/csclub/ceo/ops"
	"github.com/csclub/ceo/wire"
)

func TestLocal(t *testing.T) {
	all := []opsfile.Op{
		{Host: "localhost", Name: "ping", ID: 0x10},
		{Host: "LOCALHOST.", Name: "mail", ID: 2},
		{Host: "alias", Name: "adduser", ID: 1},
		{Host: "alias", Name: "mysql2", ID: 7},
		{Host: "other", Name: "mysql", ID: 3},
		{Host: "broken", Name: "mailman", ID: 4, Source: "ops/ceo:5"},
	}
	calls := map[string]int{}
	canon := func(_ context.Context, h string) (string, error) {
		calls[h]++
		switch h {
		case "alias":
			return "LocalHost.", nil
		case "other":
			return "other.example.org", nil
		}
		return "", errors.New("no such host")
	}
	local, skipped := Local(context.Background(), all, "localhost", canon)
	var names []string
	for _, op := range local {
		names = append(names, op.Name)
	}
	assert.Equal(t, []string{"ping", "mail", "adduser", "mysql2"}, names)
	require.Len(t, skipped, 1)
	assert.EqualError(t, skipped[0], "ops/ceo:5: op mailman: no such host")
	assert.Equal(t, map[string]int{"alias": 1, "other": 1, "broken": 1}, calls, "each host looked up once, none for literal matches")
}

func TestTable(t *testing.T) {
	local := []opsfile.Op{
		{Host: "h", Name: "ping", User: "root", ID: 0x10},
		{Host: "h", Name: "mailman", User: "list", ID: 4},
	}
	var made []string
	table, err := Table(local, builtins, func(op opsfile.Op) ops.Handler {
		made = append(made, op.Name+" as "+op.User)
		return ops.HandlerFunc(func(context.Context, ops.Request) (ops.Reply, error) { return ops.Reply{Body: []byte("prog")}, nil })
	})
	require.NoError(t, err)
	assert.Equal(t, []string{"mailman as list"}, made, "a program only for ops without a built-in")
	require.Len(t, table, 2)
	assert.Equal(t, "ping", table[0x10].Name)
	assert.Equal(t, "mailman", table[wire.MsgMailman].Name)
	reply, err := table[wire.MsgMailman].Handler.Serve(context.Background(), ops.Request{})
	require.NoError(t, err)
	assert.Equal(t, "prog", string(reply.Body))

	assert.Equal(t, []string{"mailman=0x4(program)", "ping=0x10(builtin)"}, Describe(table, builtins))

	_, err = Table(local, builtins, nil)
	assert.EqualError(t, err, "registry: : op mailman has no built-in handler")
}

func TestProgramPath(t *testing.T) {
	assert.Equal(t, "/usr/lib/ceod/op-mail", ProgramPath("/usr/lib/ceod", "mail"))
}

func TestCanonicalLocalhost(t *testing.T) {
	c, err := Canonical(context.Background(), "localhost")
	require.NoError(t, err)
	assert.Equal(t, "localhost", c)
}

// builtins stands for the daemon's built-in handlers.
var builtins = map[string]ops.Handler{"ping": ops.Ping}
