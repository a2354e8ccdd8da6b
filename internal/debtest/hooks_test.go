package debtest

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/csclub/ceo/ceod/config"
)

// TestShippedHooks: ceo-common ships legacy's hook paths, accounts.cf
// points at them (expire_hook at expired-account, as legacy), and each
// script mails what it should through sendmail (a stand-in here that
// records its argv and message).
func TestShippedHooks(t *testing.T) {
	root := repoRoot(t)
	install, err := os.ReadFile(filepath.Join(root, "debian", "ceo-common.install"))
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{"new-member", "expired-account"} {
		if !strings.Contains(string(install), "debian/hooks/"+h+" etc/csc/spam/\n") {
			t.Errorf("ceo-common.install does not ship %s to /etc/csc/spam", h)
		}
		if st, err := os.Stat(filepath.Join(root, "debian", "hooks", h)); err != nil || st.Mode().Perm()&0o111 == 0 {
			t.Errorf("debian/hooks/%s is not an executable file: %v", h, err)
		}
	}
	f, err := os.Open(filepath.Join(root, "debian", "conf", "accounts.cf"))
	if err != nil {
		t.Fatal(err)
	}
	entries, err := config.ParseKV(bufio.NewReader(f), "accounts.cf")
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, e := range entries {
		got[e.Name] = e.Value
	}
	if got["notify_hook"] != "/etc/csc/spam/new-member" || got["expire_hook"] != "/etc/csc/spam/expired-account" {
		t.Errorf("accounts.cf: notify_hook %q, expire_hook %q", got["notify_hook"], got["expire_hook"])
	}

	dir := t.TempDir()
	sendmail := filepath.Join(dir, "sendmail")
	if err := os.WriteFile(sendmail, []byte("#!/bin/sh\n{ echo \"argv: $*\"; cat; } > \""+dir+"/mail\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	run := func(hook, stdin string, args ...string) (string, error) {
		t.Helper()
		os.Remove(filepath.Join(dir, "mail"))
		cmd := exec.Command(filepath.Join(root, "debian", "hooks", hook), args...)
		cmd.Env = []string{"PATH=/usr/bin:/bin", "CEO_SENDMAIL=" + sendmail}
		cmd.Stdin = strings.NewReader(stdin)
		if out, err := cmd.CombinedOutput(); err != nil {
			return string(out), err
		}
		b, err := os.ReadFile(filepath.Join(dir, "mail"))
		return string(b), err
	}

	mail, err := run("new-member", "successfully created ldap account\nsuccessfully created home directory /users/alice\n",
		"addmember", "office1", "alice", "Alice\nBcc: evil@example.org", "Math", "success")
	if err != nil {
		t.Fatalf("new-member: %v\n%s", err, mail)
	}
	want := "argv: -t -oi\nFrom: ceod@csclub.uwaterloo.ca\nTo: ceo@csclub.uwaterloo.ca\nSubject: New member: alice\n\n" +
		"Name:     AliceBcc: evil@example.org\nAccount:  alice\nProgram:  Math\nAdded by: office1\nResult:   success\n\n" +
		"successfully created ldap account\nsuccessfully created home directory /users/alice\n"
	if mail != want {
		t.Errorf("new-member mail:\n%s\nwant:\n%s", mail, want)
	}
	if mail, err := run("new-member", "", "addclub", "office1", "club1", "Club", "", "failure"); err != nil ||
		!strings.Contains(mail, "Subject: New club: club1 (FAILED)\n") || !strings.Contains(mail, "Program:  (none)\n") {
		t.Errorf("new-member, failed club: %v\n%s", err, mail)
	}
	if out, err := run("new-member", "", "adduser", "a", "b", "c", "d", "success"); err == nil || !strings.Contains(out, "usage: new-member") {
		t.Errorf("new-member with a bad first argument: %v %s", err, out)
	}

	mail, err = run("expired-account", "", "Lapsed Member", "lapsed")
	if err != nil {
		t.Fatalf("expired-account: %v\n%s", err, mail)
	}
	for _, w := range []string{"argv: -t -oi\n", "To: lapsed@csclub.uwaterloo.ca\n", "Subject: Your CSC membership has expired\n",
		"Hello Lapsed Member,\n", "Your account (lapsed) will be disabled", "$2.00"} {
		if !strings.Contains(mail, w) {
			t.Errorf("expired-account mail lacks %q:\n%s", w, mail)
		}
	}
	for _, bad := range []string{"a@b.c", "-t", "x y", ""} {
		if out, err := run("expired-account", "", "Name", bad); err == nil {
			t.Errorf("expired-account %q accepted:\n%s", bad, out)
		}
	}
}
