package opstest

import (
	"os"
	"syscall"
	"testing"
)

// Owner is the owner, group and mode of path (not following a link).
func Owner(t testing.TB, path string) (uid, gid int, mode os.FileMode) {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	return int(st.Uid), int(st.Gid), fi.Mode()
}
