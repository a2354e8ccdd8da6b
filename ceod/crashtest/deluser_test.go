package crashtest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"

	"github.com/csclub/ceo/ceod/daemon"
	"github.com/csclub/ceo/wire/ceopb"
)

// deluserBoundaries are the journal writes of deluser ceod is killed
// right after: each step's Begun (the group step's also records the
// request's intent) and the record's deletion before the reply.
var deluserBoundaries = []string{
	"deluser:group:begun",
	"deluser:user:begun",
	"deluser:principal:begun",
	"deluser:home:begun",
	"deluser:finish",
}

// deletesPerKill is the number of concurrent deletions per crash: one
// that removes the home and one that keeps it.
const deletesPerKill = 2

// deleteReq is one deluser request of a test.
type deleteReq struct {
	account
	removeHome bool
}

// TestDeluserKilledAtEveryStep: for each step boundary, ceod SIGKILLs
// itself right after that journal write while two deletions run (one
// removing the home); after a restart, within 60s every account is
// either deleted as asked (no LDAP entry, group or principal; the home
// gone if it was to be removed, kept if not), recovery having completed
// what was journaled, or untouched (ceod died before its request wrote
// anything), and the journal is empty. Sent again, a deleted account's
// request finds nothing to delete and an untouched one's deletes it. The
// accounts are made once, with adduser, for all the boundaries.
func TestDeluserKilledAtEveryStep(t *testing.T) {
	f := newFixture(t)
	reqs := make([][]deleteReq, len(deluserBoundaries))
	var accts []account
	for i := range reqs {
		for k := range deletesPerKill {
			a := account{name: unique("d"), password: "pw-" + unique("p")}
			reqs[i] = append(reqs[i], deleteReq{account: a, removeHome: k == 0})
			accts = append(accts, a)
		}
	}
	p := f.start(t)
	ok := f.burst(t.Context(), accts)
	for i, a := range accts {
		require.True(t, ok[i], "adduser %s", a.name)
	}
	p.stop(t)

	for i, at := range deluserBoundaries {
		t.Run(strings.ReplaceAll(at, ":", "_"), func(t *testing.T) {
			p := f.start(t, daemon.FaultEnv+"="+at)
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			var wg sync.WaitGroup
			for _, d := range reqs[i] {
				wg.Go(func() { f.deluser(ctx, d) })
			}
			wg.Wait()
			p.wait(t, 10*time.Second)
			ws := p.cmd.ProcessState.Sys().(syscall.WaitStatus)
			require.True(t, ws.Signaled() && ws.Signal() == syscall.SIGKILL, "ceod was not killed at %s: %v", at, p.cmd.ProcessState)
			if at != "deluser:finish" {
				list := f.journalList(t, "-journal")
				t.Logf("ceod -journal:\n%s", list)
				assert.Contains(t, list, "deluser")
				assert.Contains(t, list, strings.Split(at, ":")[1]+" ")
			}

			p2 := f.start(t)
			intact := f.waitDeleted(t, reqs[i], recoveryLimit)
			if at != "deluser:finish" {
				assert.NotEmpty(t, p2.grep("journal: request completed"), "no audit line for a completed deletion")
			}
			for k, d := range reqs[i] {
				ok, text, err := f.deluser(t.Context(), d)
				require.NoError(t, err)
				if intact[k] {
					assert.True(t, ok, "sending %s again: %s", d.name, text)
				} else {
					assert.Contains(t, text, "no such user: "+d.name, "sending %s again", d.name)
				}
			}
			for _, d := range reqs[i] {
				assert.True(t, f.deleted(t, d), "%s not deleted as asked: %+v", d.name, f.state(t, d.account))
			}
			p2.stop(t)
		})
	}
}

// deluser sends one deletion as syscom1 and reports whether it succeeded.
func (f *fixture) deluser(ctx context.Context, d deleteReq) (bool, string, error) {
	var resp ceopb.MemberResponse
	if err := call(ctx, f.syscom, "deluser", &ceopb.DeleteUser{Username: proto.String(d.name), RemoveHome: proto.Bool(d.removeHome)}, &resp); err != nil {
		return false, "", err
	}
	ok, text := outcome(resp.GetMessages())
	return ok, text, nil
}

// deleted reports whether d's account is deleted as asked.
func (f *fixture) deleted(t *testing.T, d deleteReq) bool {
	s := f.state(t, d.account)
	return !s.user && !s.group && !s.principal && s.home != d.removeHome
}

// waitDeleted polls until every account of reqs is deleted as asked or
// untouched, and the journal is empty, at most limit. It returns which
// are untouched.
func (f *fixture) waitDeleted(t *testing.T, reqs []deleteReq, limit time.Duration) []bool {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		var bad []string
		intact := make([]bool, len(reqs))
		for k, d := range reqs {
			s := f.state(t, d.account)
			intact[k] = s.user && s.group && s.principal && s.home
			if !intact[k] && !f.deleted(t, d) {
				bad = append(bad, fmt.Sprintf("%s (remove_home=%v): %+v", d.name, d.removeHome, s))
			}
		}
		list := f.journalList(t, "-journal")
		if len(bad) == 0 && strings.Contains(list, "no unfinished requests") {
			return intact
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v:\n%s\njournal:\n%s", limit, strings.Join(bad, "\n"), list)
		}
		time.Sleep(500 * time.Millisecond)
	}
}
