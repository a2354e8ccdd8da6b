package scale_test

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/csclub/ceo/ceo/app"
	"github.com/csclub/ceo/ceo/config"
	"github.com/csclub/ceo/ceo/console"
	"github.com/csclub/ceo/ceo/internal/ceotest"
	"github.com/csclub/ceo/ceo/remote"
	"github.com/csclub/ceo/ceo/session"
	"github.com/csclub/ceo/ceo/terms"
	"github.com/csclub/ceo/internal/ceodtest/daemontest"
)

// benchCommand runs a console command per iteration as office1 as
// `ceo NAME` does once started with a ticket: read the configuration,
// pick up the ticket, connect to the directory, read, print. kinit is
// done once.
func benchCommand(b *testing.B, args ...string) {
	r, _ := setup(b)
	u := r.Users["office1"]
	cc := r.Kinit(b, u.Name, u.Password)
	connect := func(ctx context.Context) (*app.App, error) {
		cfg, err := config.Load(r.ConfigDir)
		if err != nil {
			return nil, err
		}
		s, err := session.Login(ctx, session.Options{CCName: "FILE:" + cc})
		if err != nil {
			return nil, err
		}
		return app.Connect(ctx, cfg, s)
	}
	var out, errOut bytes.Buffer
	for b.Loop() {
		out.Reset()
		io := console.IO{In: strings.NewReader(""), Out: &out, Err: &errOut}
		if code := console.Run(b.Context(), args[0], args[1:], io, connect); code != 0 {
			b.Fatalf("%s: exit %d\n%s", args[0], code, errOut.String())
		}
	}
	b.ReportMetric(float64(strings.Count(out.String(), "\n")), "lines")
}

// BenchmarkMemberlist is `ceo memberlist` (the current term).
func BenchmarkMemberlist(b *testing.B) { benchCommand(b, "memberlist") }

// BenchmarkExpiredAccounts is `ceo expiredaccounts`.
func BenchmarkExpiredAccounts(b *testing.B) { benchCommand(b, "expiredaccounts") }

// BenchmarkSearch is the front end's Search Members by term, name and
// group, on a connected front end.
func BenchmarkSearch(b *testing.B) {
	r, _ := setup(b)
	d := ceotest.Directory(b, r, "office1")
	cur := terms.Current(time.Now)
	for _, q := range []struct {
		name string
		fn   func(context.Context) (int, error)
	}{
		{"term", func(ctx context.Context) (int, error) { ms, err := d.ByTerm(ctx, cur); return len(ms), err }},
		{"name", func(ctx context.Context) (int, error) { ms, err := d.ByName(ctx, "Turing"); return len(ms), err }},
		{"group", func(ctx context.Context) (int, error) { ms, err := d.ByGroup(ctx, "seed-big-2"); return len(ms), err }},
		{"complete", func(ctx context.Context) (int, error) {
			ns, err := d.CompleteUsers(ctx, "s01", 100)
			return len(ns), err
		}},
	} {
		b.Run(q.name, func(b *testing.B) {
			n := 0
			for b.Loop() {
				var err error
				if n, err = q.fn(b.Context()); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n), "results")
		})
	}
}

// BenchmarkAddUser is adduser through ceod as office1, reporting the
// median (p50-ms). Compare a run at 20000 members with one on an almost
// empty directory (CEO_SCALE_MEMBERS=0).
func BenchmarkAddUser(b *testing.B) {
	r, _ := setup(b)
	daemontest.Start(b, r, daemontest.Options{}).RequireServed(b, "adduser")
	a := connect(b, r, "office1")
	var took []time.Duration
	i := 0
	for b.Loop() {
		i++
		name := fmt.Sprintf("bench%d%d", time.Now().UnixMilli()%100000, i)
		t0 := time.Now()
		if _, err := a.Remote.AddUser(b.Context(), remote.NewAccount{Kind: remote.Member, Username: name,
			Password: "bench-pw-123", Name: "Bench Member"}); err != nil {
			b.Fatal(err)
		}
		took = append(took, time.Since(t0))
	}
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "p50-ms")
}
