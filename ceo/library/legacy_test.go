package library_test

import (
	"context"
	"errors"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/csclub/ceo/ceo/internal/ceotest"
	"github.com/csclub/ceo/ceo/library"
	"github.com/csclub/ceo/internal/realm"
)

// legacyDB seeds a fresh database with testdata/legacy-library.sql and
// returns a URL for a role that may read and write the rows but create
// nothing, as a club's existing library account may be.
func legacyDB(t *testing.T) string {
	t.Helper()
	r := realm.Get(t)
	admin := freshDB(t)
	seed, err := os.ReadFile("testdata/legacy-library.sql")
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	c := ceotest.PGConnect(t, admin)
	defer c.Close(ctx)
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatal(err)
	}
	role := "lib" + strings.TrimPrefix(u.Path, "/libtest")
	for _, sql := range []string{
		string(seed),
		"CREATE ROLE " + role + " LOGIN PASSWORD 'libpw'",
		"REVOKE CREATE ON SCHEMA public FROM PUBLIC",
		"REVOKE CREATE, TEMPORARY ON DATABASE " + strings.TrimPrefix(u.Path, "/") + " FROM PUBLIC",
		"GRANT SELECT, INSERT, UPDATE ON book, author, author_book, signout TO " + role,
		"GRANT USAGE ON book_id_seq, author_id_seq, signout_id_seq TO " + role,
	} {
		if _, err := c.Exec(ctx, sql); err != nil {
			t.Fatalf("%.60s: %v", sql, err)
		}
	}
	t.Cleanup(func() {
		// t.Context is done by now.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, r.PGURL(""))
		if err != nil {
			t.Error(err)
			return
		}
		defer c.Close(ctx)
		for _, sql := range []string{"DROP DATABASE " + strings.TrimPrefix(u.Path, "/"), "DROP ROLE " + role} {
			if _, err := c.Exec(ctx, sql); err != nil {
				t.Error(err)
			}
		}
	})
	u.User = url.UserPassword(role, "libpw")
	return u.String()
}

func date(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

// TestLegacyDatabase: a library database left by the legacy ceo, opened by
// a role without CREATE rights, shows its books and open loan with the
// due date; signing that loan in and signing books out write legacy rows.
func TestLegacyDatabase(t *testing.T) {
	now := date(2025, time.October, 20).Add(15 * time.Hour)
	u := legacyDB(t)
	l := open(t, u, library.Options{Eligible: members("alice", "bob"), Now: func() time.Time { return now }})
	ctx := t.Context()

	out, err := l.SignedOut(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 1 || out[0].ID != 1 || out[0].Loan == nil {
		t.Fatalf("SignedOut = %+v", out)
	}
	sicp := out[0]
	if sicp.Title != "Structure and Interpretation of Computer Programs" || sicp.Year != 1996 ||
		sicp.ISBN != "0-262-51087-1" || sicp.Publisher != "MIT Press" ||
		!slices.Equal(sicp.Authors, []string{"Harold Abelson", "Gerald Jay Sussman"}) {
		t.Errorf("book 1 = %+v", sicp)
	}
	if lo := sicp.Loan; lo.ID != 2 || lo.User != "alice" || !lo.Out.Equal(date(2025, time.October, 1)) ||
		!lo.Due.Equal(date(2025, time.October, 15)) || !l.IsOverdue(lo) {
		t.Errorf("loan = %+v, overdue %v", lo, l.IsOverdue(lo))
	}
	if od, err := l.Overdue(ctx); err != nil || len(od) != 1 || od[0].ID != 1 {
		t.Errorf("Overdue = %+v, %v", od, err)
	}
	// A year that is not a number reads as unknown; ISBNs match however typed.
	if b, err := l.Get(ctx, 3); err != nil || b.Year != 0 || b.Loan != nil || len(b.Authors) != 0 {
		t.Errorf("book 3 = %+v, %v", b, err)
	}
	if bs, err := l.Search(ctx, library.Query{ISBN: "0262510871"}); err != nil || len(bs) != 1 || bs[0].ID != 1 {
		t.Errorf("ISBN search = %+v, %v", bs, err)
	}
	if bs, err := l.Search(ctx, library.Query{Author: "ritchie"}); err != nil || len(bs) != 1 || bs[0].ID != 2 {
		t.Errorf("author search = %+v, %v", bs, err)
	}

	if err := l.SignOut(ctx, 1, "bob"); !errors.Is(err, library.ErrAlreadyOut) {
		t.Fatalf("sign-out of the loaned book: %v", err)
	}
	loan, err := l.SignIn(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if loan.ID != 2 || loan.User != "alice" || !loan.In.Equal(date(2025, time.October, 20)) {
		t.Fatalf("SignIn = %+v", loan)
	}
	if err := l.SignOut(ctx, 2, "bob"); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Add(ctx, library.Book{Title: "SICP, 2nd copy", ISBN: "0262510871", Year: 1996,
		Authors: []string{"Harold Abelson", "Julie Sussman"}}); err != nil {
		t.Fatal(err)
	}

	// The rows are what the legacy front end would have written.
	c := ceotest.PGConnect(t, u)
	defer c.Close(ctx)
	var indate, outdate time.Time
	if err := c.QueryRow(ctx, "SELECT indate FROM signout WHERE id = 2").Scan(&indate); err != nil || !indate.Equal(date(2025, time.October, 20)) {
		t.Errorf("signout 2 indate = %v, %v", indate, err)
	}
	var user string
	if err := c.QueryRow(ctx, "SELECT username, outdate FROM signout WHERE book_id = 2 AND indate IS NULL").Scan(&user, &outdate); err != nil ||
		user != "bob" || !outdate.Equal(date(2025, time.October, 20)) {
		t.Errorf("new signout = %s %v, %v", user, outdate, err)
	}
	var year string
	var authors int
	if err := c.QueryRow(ctx, `SELECT b.year, (SELECT count(*) FROM author) FROM book b WHERE title = 'SICP, 2nd copy'`).Scan(&year, &authors); err != nil ||
		year != "1996" || authors != 5 {
		t.Errorf("added book: year %q, %d authors in the library, %v", year, authors, err)
	}
}
