package realm

import (
	"os"
	"testing"
)

func TestMain(m *testing.M) { os.Exit(Main(m)) }

func TestRealmUp(t *testing.T) {
	r := Get(t)
	t.Logf("realm at %s pids %v", r.Dir, r.PIDs())
}
