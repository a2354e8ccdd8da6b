// Package library keeps the club's book library in PostgreSQL, in the
// legacy ceo's tables (book, author, author_book, signout): books (ISBN,
// title, year, publisher and authors), searches by title, author or ISBN,
// and sign-outs to members with their due dates, the signed-out and the
// overdue lists.
//
// Open connects (library.cf's library_connect_string) and uses the legacy
// tables as they are; only in an empty database does it create them.
package library

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Errors callers branch on.
var (
	ErrNoSuchBook = errors.New("no such book")
	ErrAlreadyOut = errors.New("the book is already signed out")
	ErrNotOut     = errors.New("the book is not signed out")
	ErrNotMember  = errors.New("not registered as a member for the current term")
	ErrInvalid    = errors.New("invalid book")
	ErrNoDatabase = errors.New("the library database is not configured (library_connect_string in library.cf)")
	// ErrNoConfig: library.cf exists but cannot be read (its group is
	// the office staff's; see README.Debian of ceo-daemon).
	ErrNoConfig = errors.New("cannot read the library's configuration")
)

// Book is one copy of a book.
type Book struct {
	ID        int
	ISBN      string // as entered, normalized to digits and X
	Title     string
	Year      int // 0 if unknown or not a number
	Publisher string
	Authors   []string // in order
	Loan      *Loan    // the current sign-out, or nil
}

// Loan is one sign-out. Dates are days (legacy DATE columns).
type Loan struct {
	ID     int
	BookID int
	User   string
	Out    time.Time
	Due    time.Time // Out plus the loan period (legacy: two weeks)
	In     time.Time // zero while out
}

// EligibleFunc says whether user may sign out books (legacy: registered
// for the current term).
type EligibleFunc func(ctx context.Context, user string) (bool, error)

// Options tune Open.
type Options struct {
	// Eligible is asked before each sign-out; nil refuses every sign-out.
	Eligible EligibleFunc
	// LoanPeriod after which a book is due (rounded down to days); 0
	// means two weeks, as legacy.
	LoanPeriod time.Duration
	// Timeout bounds each call without a deadline of its own; 0 means 30s.
	Timeout time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Library is an open library database. It is safe for concurrent use.
type Library struct {
	pool *pgxpool.Pool
	opts Options
}

// Open connects to the library database and makes sure it holds the
// library's tables.
func Open(ctx context.Context, connString string, opts Options) (*Library, error) {
	if connString == "" {
		return nil, ErrNoDatabase
	}
	if opts.LoanPeriod <= 0 {
		opts.LoanPeriod = 14 * 24 * time.Hour
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 30 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	cfg, err := pgxpool.ParseConfig(connString)
	if err != nil {
		// The parse error may quote the connect string, password included.
		return nil, errors.New("library: library_connect_string is not a valid PostgreSQL connect string")
	}
	if cfg.ConnConfig.ConnectTimeout == 0 || cfg.ConnConfig.ConnectTimeout > opts.Timeout {
		cfg.ConnConfig.ConnectTimeout = opts.Timeout
	}
	cfg.MaxConns = 4
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("library: connecting: %w", err)
	}
	l := &Library{pool: pool, opts: opts}
	if err := l.ensureSchema(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return l, nil
}

// Close closes the connections.
func (l *Library) Close() { l.pool.Close() }

func (l *Library) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, l.opts.Timeout)
}

// NormalizeISBN keeps the digits and a final X of an ISBN as typed
// ("0-201-63361-2" -> "0201633612").
func NormalizeISBN(s string) string {
	var b strings.Builder
	for _, c := range strings.ToUpper(s) {
		if c >= '0' && c <= '9' || c == 'X' {
			b.WriteRune(c)
		}
	}
	return b.String()
}

// validISBN checks the length and check digit of an ISBN-10 or ISBN-13.
func validISBN(s string) bool {
	switch len(s) {
	case 10:
		sum := 0
		for i, c := range s {
			var d int
			switch {
			case c == 'X' && i == 9:
				d = 10
			case c >= '0' && c <= '9':
				d = int(c - '0')
			default:
				return false
			}
			sum += (10 - i) * d
		}
		return sum%11 == 0
	case 13:
		sum := 0
		for i, c := range s {
			if c < '0' || c > '9' {
				return false
			}
			w := 1
			if i%2 == 1 {
				w = 3
			}
			sum += w * int(c-'0')
		}
		return sum%10 == 0
	}
	return false
}

// Add stores a new book and returns its id. Title is required; an ISBN,
// if given, must be a valid ISBN-10 or ISBN-13. An author already in the
// library is linked, not added again.
func (l *Library) Add(ctx context.Context, b Book) (int, error) {
	b.Title = strings.TrimSpace(b.Title)
	if b.Title == "" {
		return 0, fmt.Errorf("library: %w: a book needs a title", ErrInvalid)
	}
	b.ISBN = NormalizeISBN(b.ISBN)
	if b.ISBN != "" && !validISBN(b.ISBN) {
		return 0, fmt.Errorf("library: %w: %s is not a valid ISBN-10 or ISBN-13", ErrInvalid, b.ISBN)
	}
	if b.Year != 0 && (b.Year < 1000 || b.Year > 9999) {
		return 0, fmt.Errorf("library: %w: year %d", ErrInvalid, b.Year)
	}
	year := ""
	if b.Year != 0 {
		year = strconv.Itoa(b.Year)
	}
	ctx, cancel := l.bound(ctx)
	defer cancel()
	var id int
	err := pgx.BeginFunc(ctx, l.pool, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `INSERT INTO book (isbn, title, year, publisher)
			VALUES (NULLIF($1, ''), $2, NULLIF($3, ''), NULLIF($4, '')) RETURNING id`,
			b.ISBN, b.Title, year, strings.TrimSpace(b.Publisher)).Scan(&id); err != nil {
			return err
		}
		for _, a := range b.Authors {
			if a = strings.TrimSpace(a); a == "" {
				continue
			}
			var aid int
			err := tx.QueryRow(ctx, "SELECT id FROM author WHERE name = $1 ORDER BY id LIMIT 1", a).Scan(&aid)
			if errors.Is(err, pgx.ErrNoRows) {
				err = tx.QueryRow(ctx, "INSERT INTO author (name) VALUES ($1) RETURNING id", a).Scan(&aid)
			}
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, "INSERT INTO author_book (author_id, book_id) VALUES ($1, $2)", aid, id); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("library: adding %q: %w", b.Title, plainPG(err))
	}
	return id, nil
}

// Query selects books; empty fields match everything. Title and Author
// match a case-insensitive substring; ISBN matches the ISBN's digits
// exactly.
type Query struct {
	Title, Author, ISBN string
	// OnlyOut restricts to books signed out now.
	OnlyOut bool
	// DueBefore, if not zero, restricts to books out and due before that day.
	DueBefore time.Time
	// User, if set, restricts to books signed out to User.
	User string
}

// bookSelect reads books with their oldest open sign-out, if any (a
// legacy database may hold two open sign-outs of one book: two copies).
// $1 is the loan period in days. Authors come in the order they were
// added to the library.
const bookSelect = `SELECT b.id, coalesce(b.isbn, ''), coalesce(b.title, ''), coalesce(b.year, ''), coalesce(b.publisher, ''),
	coalesce((SELECT array_agg(a.name ORDER BY a.id) FROM author a JOIN author_book ab ON ab.author_id = a.id
		WHERE ab.book_id = b.id AND a.name IS NOT NULL), '{}'),
	s.id, s.username, s.outdate, s.outdate + $1::int
	FROM book b LEFT JOIN LATERAL (SELECT id, coalesce(username, '') AS username, outdate FROM signout
		WHERE book_id = b.id AND indate IS NULL ORDER BY outdate, id LIMIT 1) s ON true`

// Search returns the books matching q, ordered by title then id.
func (l *Library) Search(ctx context.Context, q Query) ([]Book, error) {
	var where []string
	args := []any{l.loanDays()}
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if t := strings.TrimSpace(q.Title); t != "" {
		where = append(where, "b.title ILIKE "+arg("%"+likeEscape(t)+"%"))
	}
	if a := strings.TrimSpace(q.Author); a != "" {
		where = append(where, "EXISTS (SELECT 1 FROM author a JOIN author_book ab ON ab.author_id = a.id WHERE ab.book_id = b.id AND a.name ILIKE "+arg("%"+likeEscape(a)+"%")+")")
	}
	if i := NormalizeISBN(q.ISBN); i != "" {
		// Legacy rows hold ISBNs as typed, dashes and all.
		where = append(where, "regexp_replace(upper(b.isbn), '[^0-9X]', '', 'g') = "+arg(i))
	} else if strings.TrimSpace(q.ISBN) != "" {
		return nil, nil // nothing can match an ISBN without digits
	}
	if q.OnlyOut || !q.DueBefore.IsZero() || q.User != "" {
		where = append(where, "s.id IS NOT NULL")
	}
	if !q.DueBefore.IsZero() {
		where = append(where, "s.outdate + $1::int < "+arg(day(q.DueBefore)))
	}
	if q.User != "" {
		where = append(where, "s.username = "+arg(q.User))
	}
	sql := bookSelect
	if len(where) > 0 {
		sql += " WHERE " + strings.Join(where, " AND ")
	}
	sql += " ORDER BY lower(b.title), b.id"
	return l.query(ctx, sql, args...)
}

// loanDays is the loan period in whole days (at least one).
func (l *Library) loanDays() int {
	return max(1, int(l.opts.LoanPeriod/(24*time.Hour)))
}

// day is t's calendar day as a DATE value.
func day(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

func (l *Library) query(ctx context.Context, sql string, args ...any) ([]Book, error) {
	ctx, cancel := l.bound(ctx)
	defer cancel()
	rows, err := l.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("library: searching: %w", plainPG(err))
	}
	defer rows.Close()
	var books []Book
	for rows.Next() {
		var (
			b        Book
			year     string
			loanID   *int
			user     *string
			out, due *time.Time
		)
		if err := rows.Scan(&b.ID, &b.ISBN, &b.Title, &year, &b.Publisher, &b.Authors, &loanID, &user, &out, &due); err != nil {
			return nil, fmt.Errorf("library: searching: %w", err)
		}
		b.Year, _ = strconv.Atoi(strings.TrimSpace(year)) // legacy years are free text
		if loanID != nil {
			b.Loan = &Loan{ID: *loanID, BookID: b.ID, User: *user}
			if out != nil {
				b.Loan.Out, b.Loan.Due = *out, *due
			}
		}
		books = append(books, b)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("library: searching: %w", plainPG(err))
	}
	return books, nil
}

// Get returns the book with id, or an error wrapping ErrNoSuchBook.
func (l *Library) Get(ctx context.Context, id int) (*Book, error) {
	bs, err := l.query(ctx, bookSelect+" WHERE b.id = $2", l.loanDays(), id)
	if err != nil {
		return nil, err
	}
	if len(bs) == 0 {
		return nil, fmt.Errorf("library: %w: #%d", ErrNoSuchBook, id)
	}
	return &bs[0], nil
}

// SignedOut lists the books out now, ordered by title.
func (l *Library) SignedOut(ctx context.Context) ([]Book, error) {
	return l.Search(ctx, Query{OnlyOut: true})
}

// Overdue lists the books whose due date has passed.
func (l *Library) Overdue(ctx context.Context) ([]Book, error) {
	return l.Search(ctx, Query{DueBefore: l.opts.Now()})
}

// IsOverdue reports whether an open loan's due date has passed.
func (l *Library) IsOverdue(loan *Loan) bool {
	return loan != nil && loan.In.IsZero() && !loan.Due.IsZero() && loan.Due.Before(day(l.opts.Now()))
}

// signOutLock is the first key of pg_advisory_xact_lock(key, book id):
// the legacy tables have no constraint against two open sign-outs, so
// sign-outs of one book take turns ("ceos").
const signOutLock = 0x63656f73

// SignOut lends book id to user, who must be eligible (a member
// registered for the current term).
func (l *Library) SignOut(ctx context.Context, id int, user string) error {
	user = strings.TrimSpace(user)
	if user == "" {
		return fmt.Errorf("library: signing out #%d: %w: no username", id, ErrInvalid)
	}
	ctx, cancel := l.bound(ctx)
	defer cancel()
	if l.opts.Eligible == nil {
		return fmt.Errorf("library: signing out #%d to %s: %w", id, user, ErrNotMember)
	}
	ok, err := l.opts.Eligible(ctx, user)
	if err != nil {
		return fmt.Errorf("library: signing out #%d to %s: %w", id, user, err)
	}
	if !ok {
		return fmt.Errorf("library: signing out #%d to %s: %s is %w", id, user, user, ErrNotMember)
	}
	return pgx.BeginFunc(ctx, l.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1, $2)", int32(signOutLock), int32(id)); err != nil {
			return fmt.Errorf("library: signing out #%d: %w", id, plainPG(err))
		}
		var title, holder *string
		err := tx.QueryRow(ctx, `SELECT b.title, (SELECT coalesce(username, '') FROM signout
			WHERE book_id = b.id AND indate IS NULL ORDER BY outdate, id LIMIT 1) FROM book b WHERE b.id = $1`, id).Scan(&title, &holder)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("library: %w: #%d", ErrNoSuchBook, id)
		}
		if err != nil {
			return fmt.Errorf("library: signing out #%d: %w", id, plainPG(err))
		}
		name := fmt.Sprintf("#%d", id)
		if title != nil {
			name = strconv.Quote(*title)
		}
		if holder != nil {
			return fmt.Errorf("library: signing out %s: %w to %s", name, ErrAlreadyOut, *holder)
		}
		if _, err := tx.Exec(ctx, "INSERT INTO signout (username, book_id, outdate, indate) VALUES ($1, $2, $3, NULL)", user, id, day(l.opts.Now())); err != nil {
			return fmt.Errorf("library: signing out %s: %w", name, plainPG(err))
		}
		return nil
	})
}

// SignIn records the return of book id (its oldest open sign-out) and
// returns the closed loan.
func (l *Library) SignIn(ctx context.Context, id int) (*Loan, error) {
	ctx, cancel := l.bound(ctx)
	defer cancel()
	var loan Loan
	err := l.pool.QueryRow(ctx, `UPDATE signout SET indate = greatest($2::date, outdate)
		WHERE id = (SELECT id FROM signout WHERE book_id = $1 AND indate IS NULL ORDER BY outdate, id LIMIT 1)
		RETURNING id, book_id, coalesce(username, ''), coalesce(outdate, $2::date), coalesce(outdate, $2::date) + $3::int, indate`,
		id, day(l.opts.Now()), l.loanDays()).
		Scan(&loan.ID, &loan.BookID, &loan.User, &loan.Out, &loan.Due, &loan.In)
	if errors.Is(err, pgx.ErrNoRows) {
		if _, gerr := l.Get(ctx, id); gerr != nil {
			return nil, gerr
		}
		return nil, fmt.Errorf("library: signing in #%d: %w", id, ErrNotOut)
	}
	if err != nil {
		return nil, fmt.Errorf("library: signing in #%d: %w", id, plainPG(err))
	}
	return &loan, nil
}

// plainPG keeps a database error short: the server's message without
// the connect string.
func plainPG(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return fmt.Errorf("database error: %s", pe.Message)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return errors.New("the library database is not answering")
	}
	return err
}
