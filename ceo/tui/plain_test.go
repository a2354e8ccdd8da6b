package tui

import (
	"io/fs"
	"strings"
	"testing"

	"github.com/csclub/ceo/ceo/app"
	"github.com/csclub/ceo/ceo/config"
)

// TestLibraryUnreadable: for a user outside library.cf's group the
// Library menu says why it cannot open and what to do; the error comes
// from opening the library, not from loading the configuration.
func TestLibraryUnreadable(t *testing.T) {
	a := &app.App{Config: &config.Config{LibraryErr: &fs.PathError{Op: "open", Path: "/etc/csc/library.cf", Err: fs.ErrPermission}}}
	_, err := a.Library(t.Context())
	if err == nil {
		t.Fatal("Library opened without its configuration")
	}
	got := plain(err)
	for _, want := range []string{"/etc/csc/library.cf: permission denied", "add you to office", "other menus work"} {
		if !strings.Contains(got, want) {
			t.Errorf("the Library menu says %q, want it to contain %q", got, want)
		}
	}
}
