package gss

import (
	"sync"
	"testing"
	"time"

	"github.com/jcmturner/gokrb5/v8/iana/nametype"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"
)

// TestAuthenticatorTimeBumps checks Stamps on a clock that repeats, lags
// a little and is stepped back.
func TestAuthenticatorTimeBumps(t *testing.T) {
	var st Stamps
	authenticatorTime := st.next
	fixed := time.Now().Truncate(time.Microsecond)
	for i := range 5 {
		got := authenticatorTime(fixed.Add(300 * time.Nanosecond))
		if want := fixed.Add(time.Duration(i) * time.Microsecond); !got.Equal(want) {
			t.Fatalf("call %d with a fixed clock: %v, want %v", i, got, want)
		}
		if got.Location() != time.UTC {
			t.Fatalf("call %d: location %v, want UTC", i, got.Location())
		}
	}
	if got, want := authenticatorTime(fixed.Add(-time.Millisecond)), fixed.Add(5*time.Microsecond); !got.Equal(want) {
		t.Fatalf("clock 1ms behind the last stamp: %v, want %v", got, want)
	}
	later := fixed.Add(time.Second)
	if got := authenticatorTime(later); !got.Equal(later) {
		t.Fatalf("clock ahead of the last stamp: %v, want %v", got, later)
	}
	back := later.Add(-time.Minute)
	if got := authenticatorTime(back); !got.Equal(back) {
		t.Fatalf("clock stepped back a minute: %v, want it as is (%v)", got, back)
	}
}

// TestAuthenticatorTimesDistinct starts many initiators for one client
// principal at once, on a clock that only moves every 10ms, and checks
// that the authenticators in their AP-REQs carry distinct (ctime, cusec)
// when they share a Stamps, that each Initiator remembers its own, and
// that an acceptor accepts every one of them.
func TestAuthenticatorTimesDistinct(t *testing.T) {
	const (
		goroutines = 4
		each       = 100
		client     = "stamp-test" // a replay-cache entry of its own
	)
	cfg := Config{Now: func() time.Time { return time.Now().Truncate(10 * time.Millisecond) }, Stamps: new(Stamps)}
	cname := types.NewPrincipalName(nametype.KRB_NT_PRINCIPAL, client)

	type attempt struct {
		tkt  messages.Ticket
		key  types.EncryptionKey
		ini  *Initiator
		tok  []byte
		auth types.Authenticator
	}
	as := make([]attempt, goroutines*each)
	for n := range as {
		as[n].tkt, as[n].key = makeTicket(t, ticketSpec{client: client})
	}
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for n := g * each; n < (g+1)*each; n++ {
				ini, tok, err := newInitiatorFromTicket(cname, testRealm, as[n].tkt, as[n].key, cfg, initOptions{})
				if err != nil {
					t.Errorf("initiator %d: %v", n, err)
					return
				}
				as[n].ini, as[n].tok = ini, tok
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}

	seen := make(map[time.Time]int, len(as))
	for n := range as {
		a := &as[n]
		_, inner, err := decodeContextToken(a.tok)
		if err != nil {
			t.Fatal(err)
		}
		var req messages.APReq
		if err := req.Unmarshal(inner); err != nil {
			t.Fatal(err)
		}
		if err := req.DecryptAuthenticator(a.key); err != nil {
			t.Fatal(err)
		}
		auth := req.Authenticator
		if !auth.CTime.Equal(a.ini.ctime) || auth.Cusec != a.ini.cusec {
			t.Fatalf("initiator %d remembers %v/%d, its authenticator has %v/%d", n, a.ini.ctime, a.ini.cusec, auth.CTime, auth.Cusec)
		}
		stamp := auth.CTime.Add(time.Duration(auth.Cusec) * time.Microsecond)
		if prev, dup := seen[stamp]; dup {
			t.Fatalf("initiators %d and %d both sent ctime %v cusec %d", prev, n, auth.CTime, auth.Cusec)
		}
		seen[stamp] = n
		if d := time.Since(stamp); d > time.Minute || d < -time.Minute {
			t.Fatalf("initiator %d: authenticator time %v is %v from now", n, stamp, d)
		}
	}

	acc := testAcceptor(t)
	for n := range as {
		if _, _, err := acc.Accept(as[n].tok); err != nil {
			t.Fatalf("AP-REQ %d refused: %v", n, err)
		}
	}
}
