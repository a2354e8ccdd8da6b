package kv

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseKV(t *testing.T) {
	in := `# a comment
   # an indented comment

member_min_id = 20001
member_shell=/bin/bash
quoted = "  spaces kept # not a comment  "
regex = "^[a-z][-a-z0-9]*$"
backslashes = "^\w+\.\"x\"\\$"
trailing = value # comment
hash_inside = a#b
empty =
empty_quoted = ""
quote_then_comment = "v" # fine
`
	kv, err := ParseKV(strings.NewReader(in))
	require.NoError(t, err)
	assert.Equal(t, map[string]string{
		"member_min_id":      "20001",
		"member_shell":       "/bin/bash",
		"quoted":             "  spaces kept # not a comment  ",
		"regex":              "^[a-z][-a-z0-9]*$",
		"backslashes":        `^\w+\."x"\$`,
		"trailing":           "value",
		"hash_inside":        "a#b",
		"empty":              "",
		"empty_quoted":       "",
		"quote_then_comment": "v",
	}, kv)
}

func TestParseKVErrors(t *testing.T) {
	for _, tc := range []struct {
		in   string
		line int
		msg  string
	}{
		{"a = 1\nno equals sign\n", 2, "expected"},
		{"\n\n= value\n", 3, "invalid name"},
		{"9lives = 1\n", 1, "invalid name"},
		{"a-b = 1\n", 1, "invalid name"},
		{"a = \"unterminated\n", 1, "missing closing"},
		{"a = \"x\" junk\n", 1, "after the closing quote"},
		{"a = 1\n# c\na = 2\n", 3, "already set on line 1"},
		{"a = " + strings.Repeat("x", MaxLine+10) + "\n", 1, "longer than"},
	} {
		_, err := ParseKV(strings.NewReader(tc.in))
		var se *SyntaxError
		require.True(t, errors.As(err, &se), "%q: %v", tc.in, err)
		assert.Equal(t, tc.line, se.Line, "%q", tc.in)
		assert.Contains(t, se.Error(), tc.msg)
		assert.Contains(t, se.Error(), "line ")
	}
}
