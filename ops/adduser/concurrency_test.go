package adduser_test

import (
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/csclub/ceo/ops/adduser"
	"github.com/csclub/ceo/wire/ceopb"
)

// TestConcurrentDistinct: 20 adds of distinct names at once all succeed,
// with 20 distinct ids that nothing else in the directory uses.
func TestConcurrentDistinct(t *testing.T) {
	both(t, func(t *testing.T) {
		e := newEnv(t)
		const n = 20
		names := make([]string, n)
		replies := make([][]*ceopb.StatusMessage, n)
		errs := make([]error, n)
		e.ceocWarm(t)
		for i := range names {
			names[i] = uniqueName("p")
		}
		t0 := time.Now()
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				m := member(names[i], "password-"+names[i], "Para "+names[i], "", "")
				if i%4 == 3 {
					m = club(names[i], "Club "+names[i], "")
				}
				replies[i], errs[i] = e.tryCall(t, "office1", m)
			})
		}
		wg.Wait()
		t.Logf("%d concurrent adds took %v", n, time.Since(t0))
		for _, err := range errs {
			require.NoError(t, err)
		}
		ids := map[int]string{}
		for i, msgs := range replies {
			requireOK(t, msgs)
			kind := "member"
			if i%4 == 3 {
				kind = "club"
			}
			uid := e.checkAccount(t, kind, names[i], "password-"+names[i], map[bool]string{true: "Club ", false: "Para "}[kind == "club"]+names[i], "", "")
			if other, dup := ids[uid]; dup {
				t.Errorf("uid %d given to %s and %s", uid, other, names[i])
			}
			ids[uid] = names[i]
		}
		assert.Len(t, ids, n)
		// Every uidNumber in the directory is unique (user and group share).
		seen := map[string]int{}
		for _, entry := range e.r.LDAPSearch(t, e.r.UsersBase, "(uidNumber=*)", "uidNumber") {
			seen[entry.GetAttributeValue("uidNumber")]++
		}
		for id, count := range seen {
			assert.Equal(t, 1, count, "uidNumber %s used %d times", id, count)
		}
	})
}

// TestConcurrentSameName: 10 adds of one name at once: exactly one
// succeeds, the others get EEXIST, and the account is the winner's,
// complete (its password works).
func TestConcurrentSameName(t *testing.T) {
	both(t, func(t *testing.T) {
		e := newEnv(t)
		for _, kind := range []string{"member", "club"} {
			t.Run(kind, func(t *testing.T) {
				name := uniqueName("s")
				const n = 10
				replies := make([][]*ceopb.StatusMessage, n)
				errs := make([]error, n)
				e.ceocWarm(t)
				var wg sync.WaitGroup
				for i := range n {
					wg.Go(func() {
						m := member(name, "password-"+strconv.Itoa(i), "Same "+strconv.Itoa(i), "", "")
						if kind == "club" {
							m = club(name, "Same "+strconv.Itoa(i), "")
						}
						replies[i], errs[i] = e.tryCall(t, "office1", m)
					})
				}
				wg.Wait()
				for _, err := range errs {
					require.NoError(t, err)
				}
				winner := -1
				for i, msgs := range replies {
					codes := statuses(msgs)
					if !slices.ContainsFunc(codes, func(c int32) bool { return c != 0 }) {
						require.Equal(t, -1, winner, "two winners: %d and %d", winner, i)
						winner = i
						continue
					}
					// A loser changed nothing: one EEXIST and no rollback.
					require.Equal(t, adduser.StatusEEXIST, codes[len(codes)-1], "reply %d:\n%s", i, text(msgs))
					for _, m := range msgs {
						require.NotContains(t, m.GetMessage(), "rollback", "reply %d:\n%s", i, text(msgs))
					}
				}
				require.NotEqual(t, -1, winner, "nobody won")
				e.checkAccount(t, kind, name, "password-"+strconv.Itoa(winner), "Same "+strconv.Itoa(winner), "", "")
				fmt.Fprintf(testWriter{t}, "winner %d\n", winner)
			})
		}
	})
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) { w.t.Log(string(p)); return len(p), nil }
