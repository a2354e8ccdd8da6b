package scripts_test

import (
	"bytes"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/csclub/ceo/ceo/internal/ceotest"
	"github.com/csclub/ceo/internal/ceodtest/daemontest"
	"github.com/csclub/ceo/internal/realm"
)

func TestMain(m *testing.M) { os.Exit(ceotest.Main(m)) }

// run runs a built program as user (a fresh kinit) with stdin.
func run(t *testing.T, r *realm.Realm, bin, user, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	cc := r.Kinit(t, user, r.Users[user].Password)
	cmd := exec.Command(bin, args...)
	cmd.Env = append(r.Env(), "KRB5CCNAME=FILE:"+cc, "PATH=/usr/bin:/bin")
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), out.String(), errOut.String()
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0, out.String(), errOut.String()
}

// TestAddMemberAndAddClub: the legacy programs, built, against ceod on
// the realm: legacy arguments, --stdin, exit codes, no terms registered.
func TestAddMemberAndAddClub(t *testing.T) {
	r := ceotest.Setup(t)
	daemontest.Start(t, r, daemontest.Options{}).RequireServed(t, "adduser")
	admin := ceotest.Admin(t, r)
	addmember := ceotest.Build(t, "./ceo/cmd/addmember")
	addclub := ceotest.Build(t, "./ceo/cmd/addclub")

	// Usage errors: exit 2, the usage on stderr, nothing made.
	for _, c := range []struct {
		bin  string
		args []string
		want string
	}{
		{addmember, []string{"onlyuserid"}, "usage: addmember [--stdin] USERID NAME [PROGRAM]\n"},
		{addmember, []string{"a", "b", "c", "d"}, "usage: addmember [--stdin] USERID NAME [PROGRAM]\n"},
		{addclub, []string{"club"}, "usage: addclub USERID CLUBNAME\n"},
		{addclub, []string{"--stdin", "club", "Club"}, "usage: addclub USERID CLUBNAME\n"},
	} {
		code, out, errOut := run(t, r, c.bin, "office1", "", c.args...)
		if code != 2 || out != "" || !strings.HasSuffix(errOut, c.want) {
			t.Errorf("%s %v: exit %d\nstdout %q\nstderr %q", c.bin, c.args, code, out, errOut)
		}
	}

	// A member, password on stdin: exit 0, the steps on stdout, no term.
	code, out, errOut := run(t, r, addmember, "office1", "script-pw-1\n", "--stdin", "scriptmem", "Script Member", "Math")
	if code != 0 || !strings.Contains(out, "successfully created") || errOut != "" {
		t.Fatalf("addmember: exit %d\n%s\n%s", code, out, errOut)
	}
	if got := ceotest.Attr(t, admin, r.UserDN("scriptmem"), "program"); !slices.Equal(got, []string{"Math"}) {
		t.Errorf("program = %v", got)
	}
	if got := ceotest.Attr(t, admin, r.UserDN("scriptmem"), "term"); len(got) != 0 {
		t.Errorf("terms registered: %v", got)
	}
	r.Kinit(t, "scriptmem", "script-pw-1")

	// Without --stdin and without a terminal: exit 1, nothing made.
	code, _, errOut = run(t, r, addmember, "office1", "pw\n", "noterm", "No Terminal")
	if code != 1 || !strings.Contains(errOut, "use --stdin") {
		t.Errorf("no terminal: exit %d %q", code, errOut)
	}
	// Refused by ceod (regular1 is not office): exit 1, ceod's reason on stderr.
	code, _, errOut = run(t, r, addmember, "regular1", "pw-123456\n", "--stdin", "refused", "Refused")
	if code != 1 || !strings.Contains(errOut, "no rule of adduser in ceod.acl allows it") {
		t.Errorf("refused: exit %d %q", code, errOut)
	}
	if e := r.LDAPEntry(t, r.UserDN("refused")); e != nil {
		t.Error("refused account exists")
	}

	// A club.
	code, out, errOut = run(t, r, addclub, "office1", "", "scriptclub", "Script Club")
	if code != 0 || errOut != "" {
		t.Fatalf("addclub: exit %d\n%s\n%s", code, out, errOut)
	}
	if oc := ceotest.Attr(t, admin, r.UserDN("scriptclub"), "objectClass"); !slices.Contains(oc, "club") {
		t.Errorf("objectClass = %v", oc)
	}
	code, _, errOut = run(t, r, addclub, "office1", "", "scriptclub", "Script Club")
	if code != 1 || errOut == "" {
		t.Errorf("addclub twice: exit %d %q", code, errOut)
	}
}
