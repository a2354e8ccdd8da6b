package opsfile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/csclub/ceo/internal/testreq"
)

func TestParseID(t *testing.T) {
	for in, want := range map[string]uint32{
		"0x10": 16, "0X1f": 31, "16": 16, "020": 16, "0": 0, "00": 0,
		"0xffffffff": 0xffffffff, "4294967295": 0xffffffff, "037777777777": 0xffffffff,
	} {
		got, err := ParseID(in)
		if assert.NoError(t, err, in) {
			assert.Equal(t, want, got, in)
		}
	}
	for _, in := range []string{"", "0x", "x10", "08", "1a", "0x1g", "-1", "+1", "1_0", "0o7", "0b1", "0x100000000", "99999999999", " 1"} {
		_, err := ParseID(in)
		assert.Error(t, err, "%q", in)
	}
}

func TestParseOps(t *testing.T) {
	in := `# HOST OPNAME USER ID
aspartame adduser root 0x01

aspartame	mail	root	2
caffeine mysql mysql 03
mail mailman list 0x04
   # indented comment
localhost ping root 0x10
`
	got, err := ParseOps(strings.NewReader(in), "ops/ceo")
	require.NoError(t, err)
	assert.Equal(t, []Op{
		{"aspartame", "adduser", "root", 1, "ops/ceo:2"},
		{"aspartame", "mail", "root", 2, "ops/ceo:4"},
		{"caffeine", "mysql", "mysql", 3, "ops/ceo:5"},
		{"mail", "mailman", "list", 4, "ops/ceo:6"},
		{"localhost", "ping", "root", 16, "ops/ceo:8"},
	}, got)
}

func TestParseOpsErrors(t *testing.T) {
	for in, want := range map[string]string{
		"host op user":             "ops/x:1: want \"HOST OPNAME USER ID\", got 3 words",
		"host op user 1 extra":     "ops/x:1: want \"HOST OPNAME USER ID\", got 5 words",
		"host op user 0xzz":        `ops/x:1: invalid op id "0xzz"`,
		"host op user 0":           "ops/x:1: op id 0 is reserved",
		"host op user 0x08000000":  "ops/x:1: op id 0x08000000 is reserved",
		"host op user 134217729":   "ops/x:1: op id 134217729 is reserved",
		"host ../../bin/sh root 5": `ops/x:1: invalid op name "../../bin/sh" (letters, digits, '_' and '-' only)`,
		"host op/x root 5":         `ops/x:1: invalid op name "op/x" (letters, digits, '_' and '-' only)`,
	} {
		_, err := ParseOps(strings.NewReader(in), "ops/x")
		if assert.Error(t, err, in) {
			assert.Equal(t, "config: "+want, err.Error(), in)
		}
	}
}

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	}
	return dir
}

func TestReadOps(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"ops/b":       "h2 mail root 2\n",
		"ops/a":       "h1 adduser root 1\n",
		"ops/.hidden": "garbage\n",
		"ops/a~":      "garbage\n",
	})
	got, err := ReadOps(dir)
	require.NoError(t, err)
	require.Len(t, got, 2)
	assert.Equal(t, "adduser", got[0].Name) // file name order
	assert.Equal(t, "ops/a:1", got[0].Source)
	assert.Equal(t, "mail", got[1].Name)

	op, ok := FindOp(got, "mail")
	assert.True(t, ok)
	assert.Equal(t, "h2", op.Host)
	_, ok = FindOp(got, "nope")
	assert.False(t, ok)
}

func TestReadOpsErrors(t *testing.T) {
	tests := map[string]struct {
		files map[string]string
		want  string
	}{
		"missing dir": {map[string]string{"x": ""}, "config: reading ops directory"},
		"empty":       {map[string]string{"ops/a": "# nothing\n"}, "config: no ops defined in"},
		"dup name": {map[string]string{"ops/a": "h x root 1\n", "ops/b": "h x root 2\n"},
			`config: ops/b:1: op "x" already defined at ops/a:1`},
		"dup id": {map[string]string{"ops/a": "h x root 1\nh y root 0x1\n"},
			`config: ops/a:2: op id 0x1 already used by "x" at ops/a:1`},
		"bad line": {map[string]string{"ops/a": "h x root\n"}, "config: ops/a:1: want"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := ReadOps(writeFiles(t, tt.files))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}

// shippedConf is the configuration the Debian packages install.
var shippedConf = filepath.Join("..", "..", "debian", "conf")

// TestShippedOpsFile checks the ops file the packages ship: it parses,
// and its ids are the legacy ones plus ping's.
func TestShippedOpsFile(t *testing.T) {
	_, err := os.Stat(shippedConf)
	testreq.Check(t, "the shipped configuration", err)
	ops, err := ReadOps(shippedConf)
	require.NoError(t, err)
	for name, id := range map[string]uint32{"adduser": 1, "mail": 2, "mysql": 3, "mailman": 4, "ping": 0x10} {
		op, ok := FindOp(ops, name)
		if assert.True(t, ok, name) {
			assert.Equal(t, id, op.ID, name)
		}
	}
}

func TestReadDelegateOps(t *testing.T) {
	dir := t.TempDir()
	ops, err := ReadDelegateOps(dir)
	require.NoError(t, err)
	assert.Empty(t, ops, "no ceod.cf: delegate nothing")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "ceod.cf"), []byte("port = 1\n"), 0o644))
	ops, err = ReadDelegateOps(dir)
	require.NoError(t, err)
	assert.Empty(t, ops, "no delegate_ops: delegate nothing")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "ceod.cf"), []byte("delegate_ops = renew,group  shell\n"), 0o644))
	ops, err = ReadDelegateOps(dir)
	require.NoError(t, err)
	assert.Equal(t, map[string]bool{"renew": true, "group": true, "shell": true}, ops)
}
