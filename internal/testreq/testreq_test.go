package testreq

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"testing"
)

// outcome runs Check in a child test binary, so that its Fatalf is
// observed rather than suffered, and reports whether it skipped or
// failed.
func outcome(t *testing.T, required bool, err error) (skipped, failed bool) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperCheck$", "-test.v")
	cmd.Env = append(os.Environ(), "TESTREQ_HELPER=1", RequireEnv+"=", MailmanEnv+"=")
	if required {
		cmd.Env = append(cmd.Env, RequireEnv+"=1")
	}
	if err != nil {
		cmd.Env = append(cmd.Env, "TESTREQ_ERR="+err.Error())
	}
	out, runErr := cmd.CombinedOutput()
	return bytes.Contains(out, []byte("--- SKIP")), runErr != nil
}

func TestHelperCheck(t *testing.T) {
	if os.Getenv("TESTREQ_HELPER") == "" {
		t.Skip("helper for TestCheck")
	}
	var err error
	if e := os.Getenv("TESTREQ_ERR"); e != "" {
		err = errors.New(e)
	}
	Check(t, "thing", err)
}

func TestCheck(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: runs the test binary")
	}
	for _, tc := range []struct {
		name              string
		required          bool
		err               error
		wantSkip, wantErr bool
	}{
		{"present", false, nil, false, false},
		{"present required", true, nil, false, false},
		{"missing skips", false, errors.New("gone"), true, false},
		{"missing required fails", true, errors.New("gone"), false, true},
	} {
		skipped, failed := outcome(t, tc.required, tc.err)
		if skipped != tc.wantSkip || failed != tc.wantErr {
			t.Errorf("%s: skipped %v failed %v, want %v %v", tc.name, skipped, failed, tc.wantSkip, tc.wantErr)
		}
	}
}

func TestMissing(t *testing.T) {
	if err := missing("sh"); err != nil {
		t.Errorf("sh: %v", err)
	}
	if err := missing("no-such-command-ceo"); err == nil {
		t.Error("no-such-command-ceo: present")
	}
	if err := missing(""); err == nil {
		t.Error("empty requirement accepted")
	}
	if err := missing("root"); (err == nil) != (os.Geteuid() == 0) {
		t.Errorf("root: %v with euid %d", err, os.Geteuid())
	}
}
