package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/csclub/ceo/internal/realm"
)

// ticketEnv starts ceod as its own process on the realm's configuration
// and returns the environment for ceoc and MIT tools with a fresh ccache
// holding office1's TGT, and the path of that cache.
func ticketEnv(t testing.TB, r *realm.Realm) (env []string, cc string) {
	t.Helper()
	bin := binaries(t)
	base := withEnv(r.Env(), pathEnv())
	ceod := startProcess(t, base, nil, filepath.Join(bin, "ceod"))
	waitListening(t, fmt.Sprintf("127.0.0.1:%d", r.CeodPort), ceod)
	cc = r.Kinit(t, "office1", r.Users["office1"].Password)
	return withEnv(base, "KRB5CCNAME=FILE:"+cc), cc
}

// tgsRequests counts the TGS requests in the KDC's log.
func tgsRequests(t *testing.T, r *realm.Realm) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(r.Dir, "log", "krb5kdc.log"))
	require.NoError(t, err)
	return strings.Count(string(b), "TGS_REQ")
}

// klist returns MIT klist's listing of the cache, failing the test if
// klist cannot read it.
func klist(t *testing.T, env []string) string {
	t.Helper()
	cmd := exec.Command("klist")
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "klist: %s", out)
	return string(out)
}

func ceocPing(t *testing.T, env []string) {
	t.Helper()
	code, _, stderr := run(t, env, strings.NewReader(""), filepath.Join(binaries(t), "ceoc"), "ping")
	require.Equal(t, 0, code, "ceoc ping: %s", stderr)
}

// TestServiceTicketsCached: ceoc stores the service ticket in the
// credentials cache as MIT clients do, reuses it without asking the KDC,
// and works while the KDC is down.
func TestServiceTicketsCached(t *testing.T) {
	r := realm.Get(t)
	env, _ := ticketEnv(t, r)
	spn := "ceod/" + r.Host + "@" + r.Name

	ceocPing(t, env)
	assert.Contains(t, klist(t, env), spn, "MIT klist lists the service ticket")
	assert.Contains(t, klist(t, env), "krbtgt/"+r.Name+"@"+r.Name, "the TGT is intact")

	before := tgsRequests(t, r)
	for range 10 {
		ceocPing(t, env)
	}
	assert.Equal(t, before, tgsRequests(t, r), "ten more calls ask the KDC nothing")

	kdc := r.PIDs()["krb5kdc"]
	require.NotZero(t, kdc, "the KDC's pid")
	require.NoError(t, syscall.Kill(kdc, syscall.SIGSTOP))
	t.Cleanup(func() { syscall.Kill(kdc, syscall.SIGCONT) })
	ceocPing(t, env)
	require.NoError(t, syscall.Kill(kdc, syscall.SIGCONT))
}

// TestServiceTicketRenewedAfterExpiry: with service tickets that live a
// few seconds, the call after expiry gets a new one.
func TestServiceTicketRenewedAfterExpiry(t *testing.T) {
	r := realm.Get(t)
	kadmin := func(q string) {
		cmd := exec.Command("kadmin", "-k", "-t", r.AdminKeytab, "-p", r.AdminPrincipal, "-q", q)
		cmd.Env = r.KrbEnv()
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "kadmin %s: %s", q, out)
		require.NotContains(t, string(out), "error", "kadmin %s", q)
	}
	kadmin("modprinc -maxlife \"8 seconds\" " + r.CeodPrincipal)
	t.Cleanup(func() { kadmin("modprinc -maxlife \"1 day\" " + r.CeodPrincipal) })
	env, _ := ticketEnv(t, r)

	ceocPing(t, env)
	before := tgsRequests(t, r)
	ceocPing(t, env)
	assert.Equal(t, before, tgsRequests(t, r), "a fresh ticket is reused")
	time.Sleep(4 * time.Second) // under 5 s of life left: too little to use
	ceocPing(t, env)
	assert.Equal(t, before+1, tgsRequests(t, r), "the next call after expiry gets a new ticket")
}

// TestConcurrentCcacheWriters: 16 ceoc processes sharing a cache that
// holds only the TGT race to store the service ticket, 50 times over; the
// cache stays readable by MIT klist, with the TGT intact and one service
// ticket.
func TestConcurrentCcacheWriters(t *testing.T) {
	if testing.Short() {
		t.Skip("runs 800 ceoc processes")
	}
	r := realm.Get(t)
	env, cc := ticketEnv(t, r)
	tgtOnly, err := os.ReadFile(cc)
	require.NoError(t, err)
	spn := "ceod/" + r.Host + "@" + r.Name
	const procs, rounds = 16, 50
	for round := range rounds {
		tmp := cc + ".new"
		require.NoError(t, os.WriteFile(tmp, tgtOnly, 0o600))
		require.NoError(t, os.Rename(tmp, cc))
		var wg sync.WaitGroup
		errs := make(chan string, procs)
		for range procs {
			wg.Go(func() {
				cmd := exec.Command(filepath.Join(binaries(t), "ceoc"), "ping")
				cmd.Env = env
				cmd.Stdin = strings.NewReader("")
				if out, err := cmd.CombinedOutput(); err != nil {
					errs <- fmt.Sprintf("%v: %s", err, out)
				}
			})
		}
		wg.Wait()
		close(errs)
		for e := range errs {
			t.Fatalf("round %d: ceoc ping: %s", round, e)
		}
		list := klist(t, env)
		require.Contains(t, list, "krbtgt/"+r.Name+"@"+r.Name, "round %d: TGT intact", round)
		require.Equal(t, 1, strings.Count(list, spn), "round %d: one stored service ticket:\n%s", round, list)
	}
}
