package library_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/csclub/ceo/ceo/internal/ceotest"
	"github.com/csclub/ceo/ceo/library"
	"github.com/csclub/ceo/internal/realm"
)

func TestMain(m *testing.M) { os.Exit(realm.Main(m)) }

var dbSeq atomic.Int32

// freshDB creates an empty database for one test and returns its URL.
func freshDB(t *testing.T) string {
	t.Helper()
	r := realm.Get(t)
	name := fmt.Sprintf("libtest_%d_%d", os.Getpid(), dbSeq.Add(1))
	ctx := t.Context()
	c := ceotest.PGConnect(t, r.PGURL(""))
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatal(err)
	}
	return r.PGURL(name)
}

func members(names ...string) library.EligibleFunc {
	return func(_ context.Context, u string) (bool, error) { return slices.Contains(names, u), nil }
}

func open(t *testing.T, url string, opts library.Options) *library.Library {
	t.Helper()
	l, err := library.Open(t.Context(), url, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Close)
	return l
}

// TestSchema: in an empty database, several front ends starting at once
// create the legacy tables once.
func TestSchema(t *testing.T) {
	url := freshDB(t)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Go(func() {
			l, err := library.Open(t.Context(), url, library.Options{})
			if err != nil {
				errs <- err
				return
			}
			l.Close()
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent Open: %v", err)
	}
	c, err := pgx.Connect(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(t.Context())
	var tables []string
	if err := c.QueryRow(t.Context(), `SELECT array_agg(tablename::text ORDER BY tablename) FROM pg_tables
		WHERE schemaname = 'public'`).Scan(&tables); err != nil {
		t.Fatal(err)
	}
	if want := []string{"author", "author_book", "book", "signout"}; !slices.Equal(tables, want) {
		t.Fatalf("tables = %v, want %v", tables, want)
	}
	// A database with only some of the tables is refused, not patched.
	if _, err := c.Exec(t.Context(), "DROP TABLE author_book"); err != nil {
		t.Fatal(err)
	}
	if _, err := library.Open(t.Context(), url, library.Options{}); err == nil || !strings.Contains(err.Error(), "author_book") {
		t.Fatalf("Open of a partial schema: %v", err)
	}
}

func TestOpenErrors(t *testing.T) {
	if _, err := library.Open(t.Context(), "", library.Options{}); !errors.Is(err, library.ErrNoDatabase) {
		t.Errorf("empty connect string: %v", err)
	}
	_, err := library.Open(t.Context(), "postgres://u:sekrit@[bad", library.Options{})
	if err == nil || strings.Contains(err.Error(), "sekrit") {
		t.Errorf("bad connect string: %v", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
	defer cancel()
	_, err = library.Open(ctx, "postgres://u:sekrit@127.0.0.1:1/x?sslmode=disable", library.Options{Timeout: 2 * time.Second})
	if err == nil || strings.Contains(err.Error(), "sekrit") {
		t.Errorf("unreachable server: %v", err)
	}
}

func TestAddAndSearch(t *testing.T) {
	l := open(t, freshDB(t), library.Options{})
	ctx := t.Context()
	sicp, err := l.Add(ctx, library.Book{Title: "Structure and Interpretation of Computer Programs", ISBN: "0-262-51087-1",
		Year: 1996, Publisher: "MIT Press", Authors: []string{"Harold Abelson", "Gerald Jay Sussman"}})
	if err != nil {
		t.Fatal(err)
	}
	tapl, err := l.Add(ctx, library.Book{Title: "Types and Programming Languages", ISBN: "978-0-262-16209-8",
		Year: 2002, Authors: []string{"Benjamin C. Pierce"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.Add(ctx, library.Book{Title: "Untitled notes"}); err != nil {
		t.Fatal(err)
	}

	b, err := l.Get(ctx, sicp)
	if err != nil {
		t.Fatal(err)
	}
	if b.ISBN != "0262510871" || b.Year != 1996 || b.Publisher != "MIT Press" ||
		!slices.Equal(b.Authors, []string{"Harold Abelson", "Gerald Jay Sussman"}) || b.Loan != nil {
		t.Fatalf("Get = %+v", b)
	}

	tests := []struct {
		q    library.Query
		want []int
	}{
		{library.Query{Title: "program"}, []int{sicp, tapl}},
		{library.Query{Title: "TYPES"}, []int{tapl}},
		{library.Query{Author: "sussman"}, []int{sicp}},
		{library.Query{Author: "pierce", Title: "types"}, []int{tapl}},
		{library.Query{Author: "pierce", Title: "structure"}, nil},
		{library.Query{ISBN: "9780262162098"}, []int{tapl}},
		{library.Query{ISBN: "0 262 51087 1"}, []int{sicp}},
		{library.Query{ISBN: "026251087"}, nil},
		{library.Query{Title: "100%"}, nil},
		{library.Query{Title: "_"}, nil},
	}
	for _, tt := range tests {
		got, err := l.Search(ctx, tt.q)
		if err != nil {
			t.Fatalf("Search(%+v): %v", tt.q, err)
		}
		var ids []int
		for _, b := range got {
			ids = append(ids, b.ID)
		}
		if !slices.Equal(ids, tt.want) {
			t.Errorf("Search(%+v) = %v, want %v", tt.q, ids, tt.want)
		}
	}

	for _, bad := range []library.Book{
		{Title: ""},
		{Title: "x", ISBN: "0-262-51087-2"}, // wrong check digit
		{Title: "x", ISBN: "12345"},
		{Title: "x", Year: 99},
	} {
		if _, err := l.Add(ctx, bad); !errors.Is(err, library.ErrInvalid) {
			t.Errorf("Add(%+v) = %v, want ErrInvalid", bad, err)
		}
	}
}

func TestSignOutAndIn(t *testing.T) {
	now := time.Date(2025, time.October, 20, 12, 0, 0, 0, time.UTC)
	var clock atomic.Pointer[time.Time]
	clock.Store(&now)
	l := open(t, freshDB(t), library.Options{
		Eligible: members("alice", "bob"),
		Now:      func() time.Time { return *clock.Load() },
	})
	ctx := t.Context()
	id, err := l.Add(ctx, library.Book{Title: "The C Programming Language", Authors: []string{"Kernighan", "Ritchie"}})
	if err != nil {
		t.Fatal(err)
	}
	other, err := l.Add(ctx, library.Book{Title: "Compilers"})
	if err != nil {
		t.Fatal(err)
	}

	if err := l.SignOut(ctx, id, "mallory"); !errors.Is(err, library.ErrNotMember) {
		t.Fatalf("sign out to a non-member: %v", err)
	}
	if err := l.SignOut(ctx, id, "alice"); err != nil {
		t.Fatal(err)
	}
	if err := l.SignOut(ctx, id, "bob"); !errors.Is(err, library.ErrAlreadyOut) {
		t.Fatalf("second sign-out: %v", err)
	}
	if err := l.SignOut(ctx, 999999, "bob"); !errors.Is(err, library.ErrNoSuchBook) {
		t.Fatalf("missing book: %v", err)
	}
	today := time.Date(2025, time.October, 20, 0, 0, 0, 0, time.UTC)
	b, err := l.Get(ctx, id)
	if err != nil || b.Loan == nil || b.Loan.User != "alice" || !b.Loan.Out.Equal(today) ||
		!b.Loan.Due.Equal(today.AddDate(0, 0, 14)) {
		t.Fatalf("after sign-out: %+v, %v", b, err)
	}
	out, err := l.SignedOut(ctx)
	if err != nil || len(out) != 1 || out[0].ID != id {
		t.Fatalf("SignedOut = %+v, %v", out, err)
	}
	mine, err := l.Search(ctx, library.Query{User: "alice"})
	if err != nil || len(mine) != 1 {
		t.Fatalf("alice's books = %+v, %v", mine, err)
	}
	if od, err := l.Overdue(ctx); err != nil || len(od) != 0 {
		t.Fatalf("Overdue on the day = %+v, %v", od, err)
	}
	later := now.Add(15 * 24 * time.Hour)
	clock.Store(&later)
	od, err := l.Overdue(ctx)
	if err != nil || len(od) != 1 || od[0].ID != id || !l.IsOverdue(od[0].Loan) {
		t.Fatalf("Overdue after 15 days = %+v, %v", od, err)
	}

	loan, err := l.SignIn(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if loan.User != "alice" || !loan.In.Equal(today.AddDate(0, 0, 15)) {
		t.Fatalf("SignIn = %+v", loan)
	}
	if _, err := l.SignIn(ctx, id); !errors.Is(err, library.ErrNotOut) {
		t.Fatalf("second sign-in: %v", err)
	}
	if _, err := l.SignIn(ctx, 999999); !errors.Is(err, library.ErrNoSuchBook) {
		t.Fatalf("sign-in of a missing book: %v", err)
	}
	if out, err := l.SignedOut(ctx); err != nil || len(out) != 0 {
		t.Fatalf("SignedOut after return = %+v, %v", out, err)
	}
	// The book can go out again; the other was never out.
	if err := l.SignOut(ctx, id, "bob"); err != nil {
		t.Fatal(err)
	}
	if _, err := l.SignIn(ctx, other); !errors.Is(err, library.ErrNotOut) {
		t.Fatalf("sign-in of a book never out: %v", err)
	}
}

// TestSignOutRace: two desks signing the same book out at once; exactly
// one wins.
func TestSignOutRace(t *testing.T) {
	l := open(t, freshDB(t), library.Options{Eligible: members("alice", "bob")})
	id, err := l.Add(t.Context(), library.Book{Title: "Popular"})
	if err != nil {
		t.Fatal(err)
	}
	var wins atomic.Int32
	var wg sync.WaitGroup
	for _, u := range []string{"alice", "bob", "alice", "bob"} {
		wg.Go(func() {
			err := l.SignOut(t.Context(), id, u)
			switch {
			case err == nil:
				wins.Add(1)
			case !errors.Is(err, library.ErrAlreadyOut):
				t.Errorf("SignOut: %v", err)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d sign-outs succeeded, want 1", wins.Load())
	}
}

func TestNormalizeISBN(t *testing.T) {
	for in, want := range map[string]string{"0-262-51087-1": "0262510871", "isbn 080442957x": "080442957X", "": ""} {
		if got := library.NormalizeISBN(in); got != want {
			t.Errorf("NormalizeISBN(%q) = %q, want %q", in, got, want)
		}
	}
}
