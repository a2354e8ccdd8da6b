package crashtest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/csclub/ceo/ceod/daemon"
	"github.com/csclub/ceo/internal/realm"
)

// recoveryLimit is the acceptance bound: within it after ceod (or the
// service) is back, every account is complete or absent.
const recoveryLimit = 60 * time.Second

// burstSize is the number of concurrent addusers per crash.
const burstSize = 20

// boundaries are the journal writes ceod is killed right after: each
// step's Begun (which also carries the previous step's Done, see
// journal.Mark), and the record's deletion before the reply. The sudo
// role is a club's, so each burst has clubs too.
var boundaries = []string{
	"adduser:ldap_user:begun",
	"adduser:principal:begun",
	"adduser:group:begun",
	"adduser:sudo_role:begun",
	"adduser:home:begun",
	"adduser:finish",
}

func burstAccounts() []account {
	accts := make([]account, burstSize)
	for i := range accts {
		accts[i] = account{name: unique("k"), password: "pw-" + strconv.Itoa(i) + "-" + unique("p"), club: i%5 == 4}
	}
	return accts
}

// TestKillAtEveryStep: for each step boundary, ceod SIGKILLs itself
// right after that journal write while 20 addusers run; after a restart
// every name is complete or absent within 60s, and each failed request
// sent again succeeds. Before the restart, ceod -check and -journal list
// what was left.
func TestKillAtEveryStep(t *testing.T) {
	f := newFixture(t)
	for _, at := range boundaries {
		t.Run(strings.ReplaceAll(at, ":", "_"), func(t *testing.T) {
			accts := burstAccounts()
			p := f.start(t, daemon.FaultEnv+"="+at)
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			ok := f.burst(ctx, accts)
			p.wait(t, 10*time.Second)
			ws := p.cmd.ProcessState.Sys().(syscall.WaitStatus)
			require.True(t, ws.Signaled() && ws.Signal() == syscall.SIGKILL, "ceod was not killed at %s: %v", at, p.cmd.ProcessState)
			// Its kadmin session died with it: nothing can apply a
			// change after recovery has looked.
			require.Eventually(t, func() bool { return len(f.r.Kadmins()) == 0 }, 5*time.Second, 50*time.Millisecond,
				"kadmin outlived the killed ceod: %v", f.r.Kadmins())

			// The operator's view of what is left.
			list := f.journalList(t, "-journal")
			t.Logf("ceod -journal:\n%s", list)
			if at != "adduser:finish" {
				assert.Contains(t, list, "unfinished request")
				assert.Contains(t, list, strings.Split(at, ":")[1]+" ")
				assert.Contains(t, f.journalList(t, "-check"), "unfinished request")
			}

			p2 := f.start(t)
			t0 := time.Now()
			complete := f.waitSettled(t, accts, recoveryLimit)
			t.Logf("settled in %v; %d of %d complete", time.Since(t0).Round(time.Millisecond), count(complete), len(accts))
			for i := range accts {
				if ok[i] {
					assert.True(t, complete[i], "%s got a success reply but is not complete", accts[i].name)
				}
			}
			require.Eventually(t, func() bool { return len(p2.grep("journal: request rolled back")) > 0 },
				recoveryLimit, 200*time.Millisecond, "no audit line for a recovered request")
			f.resend(t, accts, complete)
			assert.Contains(t, f.journalList(t, "-check"), "no unfinished requests")
			p2.stop(t)
		})
	}
}

// TestKillAtRandomTime: the same with a SIGKILL at a random moment of
// the burst.
func TestKillAtRandomTime(t *testing.T) {
	f := newFixture(t)
	accts := burstAccounts()
	p := f.start(t)
	delay := time.Duration(50+rand.IntN(400)) * time.Millisecond
	go func() {
		time.Sleep(delay)
		p.cmd.Process.Kill()
	}()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	ok := f.burst(ctx, accts)
	p.wait(t, 10*time.Second)
	t.Logf("killed after %v; %d replies were successes", delay, count(ok))
	p2 := f.start(t)
	complete := f.waitSettled(t, accts, recoveryLimit)
	for i := range accts {
		if ok[i] {
			assert.True(t, complete[i], "%s got a success reply but is not complete", accts[i].name)
		}
	}
	f.resend(t, accts, complete)
	p2.stop(t)
}

func count(b []bool) int {
	n := 0
	for _, x := range b {
		if x {
			n++
		}
	}
	return n
}

// TestKadmindFrozen: kadmind is SIGSTOPped right before addprinc. The
// reply is an error well within op_timeout and the LDAP entry is gone;
// once kadmind resumes, recovery removes whatever principal appears and
// lets go of the name, and the request sent again succeeds. (kadmin
// looks the policy up before it asks for the password, so it is cut off
// before it has anything to send: the step is known not applied and
// rolled back at once. A kadmin cut off after the password leaves the
// step to recovery, which TestKillAtEveryStep covers.)
func TestKadmindFrozen(t *testing.T) {
	// kadmin_timeout leaves room for a loaded machine: the re-sent request
	// runs kadmin for real once kadmind is back.
	f := newFixture(t, "op_timeout = 60s", "kadmin_timeout = 8s")
	kadmind := f.r.PIDs()["kadmind"]
	t.Cleanup(func() { f.r.Signal("kadmind", syscall.SIGCONT) })
	p := f.start(t, fmt.Sprintf("%s=adduser:principal:begun=STOP@%d", daemon.SignalEnv, kadmind))
	a := account{name: unique("f"), password: "frozen-pw"}
	t0 := time.Now()
	ok, text, err := f.send(t.Context(), a)
	took := time.Since(t0)
	require.NoError(t, err)
	t.Logf("reply after %v:\n%s", took, text)
	assert.False(t, ok)
	assert.Less(t, took, 60*time.Second)
	assert.Empty(t, f.r.LDAPSearch(t, f.r.UsersBase, "(uid="+a.name+")", "uid"), "the LDAP entry is left")
	assert.Contains(t, text, "failed to create principal")
	assert.Contains(t, text, "rollback: removed ldap account")
	if list := f.journalList(t, "-journal"); strings.Contains(list, a.name) {
		t.Logf("left to recovery:\n%s", list)
	}

	require.NoError(t, f.r.Signal("kadmind", syscall.SIGCONT))
	f.waitGone(t, a, recoveryLimit)
	f.resend(t, []account{a}, []bool{false})
	p.stop(t)
}

// waitGone waits until a is absent and the journal has let go of it.
func (f *fixture) waitGone(t *testing.T, a account, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		s := f.state(t, a)
		list := f.journalList(t, "-journal")
		if s.absent() && !strings.Contains(list, a.name) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %+v; journal:\n%s", limit, s, list)
		}
		time.Sleep(time.Second)
	}
}

// TestSlapdKilled: slapd is SIGKILLed once the principal is made (the
// group step begun) and comes back a second later: the group add fails,
// and within 60s of slapd's return the leftovers (LDAP entry, principal)
// are gone.
func TestSlapdKilled(t *testing.T) {
	f := newFixture(t)
	slapd := f.r.PIDs()["slapd"]
	p := f.start(t, fmt.Sprintf("%s=adduser:group:begun=KILL@%d", daemon.SignalEnv, slapd))
	a := account{name: unique("s"), password: "slapd-pw"}
	restarted := make(chan time.Time, 1)
	go func() {
		for deadline := time.Now().Add(30 * time.Second); realm.ProcessAlive(slapd) && time.Now().Before(deadline); {
			time.Sleep(50 * time.Millisecond)
		}
		f.r.Kill("slapd") // reap it
		time.Sleep(time.Second)
		if err := f.r.Restart("slapd"); err != nil {
			t.Errorf("restarting slapd: %v", err)
		}
		restarted <- time.Now()
	}()
	ok, text, err := f.send(t.Context(), a)
	require.NoError(t, err)
	t.Logf("reply:\n%s", text)
	assert.False(t, ok)
	back := <-restarted
	f.waitGone(t, a, recoveryLimit-time.Since(back))
	f.resend(t, []account{a}, []bool{false})
	p.stop(t)
}

// TestSigtermWhileKadmindHangs: SIGTERM while an adduser waits on a
// frozen kadmind. ceod exits within shutdown_grace + daemon.CloseWait,
// and after kadmind resumes and ceod restarts, nothing is half-made.
func TestSigtermWhileKadmindHangs(t *testing.T) {
	const grace = 3 * time.Second // the fixture's shutdown_grace
	f := newFixture(t, "kadmin_timeout = 20s")
	kadmind := f.r.PIDs()["kadmind"]
	t.Cleanup(func() { f.r.Signal("kadmind", syscall.SIGCONT) })
	p := f.start(t, fmt.Sprintf("%s=adduser:principal:begun=STOP@%d", daemon.SignalEnv, kadmind))
	a := account{name: unique("t"), password: "term-pw"}
	go f.send(context.WithoutCancel(t.Context()), a)
	require.Eventually(t, func() bool { return stopped(kadmind) }, 30*time.Second, 20*time.Millisecond)
	time.Sleep(200 * time.Millisecond) // addprinc is waiting on kadmind
	t0 := time.Now()
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	p.wait(t, grace+daemon.CloseWait+5*time.Second)
	took := time.Since(t0)
	t.Logf("ceod exited %v after SIGTERM (bound %v)", took, grace+daemon.CloseWait)
	assert.Less(t, took, grace+daemon.CloseWait+2*time.Second)

	require.NoError(t, f.r.Signal("kadmind", syscall.SIGCONT))
	p2 := f.start(t)
	f.waitGone(t, a, recoveryLimit)
	f.resend(t, []account{a}, []bool{false})
	p2.stop(t)
}

// stopped reports whether pid is stopped (state T).
func stopped(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')') // comm may hold spaces and parens
	return i > 0 && i+2 < len(s) && s[i+2] == 'T'
}
