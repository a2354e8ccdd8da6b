// Package testreq is the one gate for what a test needs from the
// machine: Require(t, what) skips the test when what is missing, and
// fails it when CEO_REQUIRE_REALM is set (make test sets it), because
// there a skip would hide a broken test machine behind a PASS.
package testreq

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"testing"
)

// RequireEnv names the variable that turns a missing requirement into a
// failure; internal/realm's gate uses it too.
const RequireEnv = "CEO_REQUIRE_REALM"

// MailmanEnv also makes a missing Mailman 3 a failure (make test sets
// it, as does a run that wants the Mailman tests only).
const MailmanEnv = "CEO_REQUIRE_MAILMAN"

// Require stops the test unless what is present:
//
//   - "root": the test runs as root (chown, setuid, mounts);
//   - any other word: a command of that name is on PATH ("setfacl",
//     "tmux", "chattr", "dpkg", ...).
//
// Requirements that take more to check (Mailman 3, a file in the
// checkout, a kernel feature) use Check.
func Require(t testing.TB, what string) {
	t.Helper()
	Check(t, what, missing(what))
}

// Check is Require for a requirement the caller checked itself: err, if
// not nil, says why what is missing.
func Check(t testing.TB, what string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	msg := fmt.Sprintf("needs %s: %v", what, err)
	if required(what) {
		t.Fatalf("%s (%s is set, so this is a failure, not a skip)", msg, RequireEnv)
	}
	t.Skip(msg)
}

func required(what string) bool {
	if os.Getenv(RequireEnv) != "" {
		return true
	}
	return what == "mailman" && os.Getenv(MailmanEnv) != ""
}

func missing(what string) error {
	switch what {
	case "root":
		if os.Geteuid() != 0 {
			return errors.New("not running as root")
		}
		return nil
	case "":
		return errors.New("testreq: empty requirement")
	}
	_, err := exec.LookPath(what)
	return err
}
