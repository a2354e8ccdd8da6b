package console

import (
	"bytes"
	"strings"
	"testing"
)

// The command table is built without init: every command of the lists
// is in it once, and in the usage.
func TestCommandTable(t *testing.T) {
	lists := commands()
	table := commandTable()
	if len(table) != len(lists) {
		t.Errorf("%d commands in the lists, %d in the table: a name is used twice", len(lists), len(table))
	}
	var usage bytes.Buffer
	Usage(&usage)
	for _, name := range []string{"memberlist", "inactive", "expiredaccounts", "updateprograms", "mysql", "postgresql", "renew", "group", "positions", "shell", "passwd", "deluser"} {
		if !IsCommand(name) {
			t.Errorf("%s is not a command", name)
		}
		if !strings.Contains(usage.String(), "  "+name+" ") {
			t.Errorf("%s missing from the usage:\n%s", name, usage.String())
		}
	}
	if IsCommand("nosuch") {
		t.Error("nosuch is a command")
	}
}
