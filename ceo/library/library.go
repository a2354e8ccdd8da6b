// Package library keeps the club's book library in PostgreSQL: books
// (ISBN, title, year, publisher and authors in order), searches by title,
// author or ISBN, and sign-outs to members, with the signed-out and
// overdue lists.
//
// Open connects (library.cf's library_connect_string) and brings the
// schema up to date itself: the SQL migrations embedded in this package
// run in order, once each, inside one transaction holding an advisory
// lock, so two front ends starting together do not race.
package library

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

//go:embed migrations/*.sql
var migrations embed.FS

// migrationLock is the pg_advisory_xact_lock key that serializes
// migrations ("ceolib" in ASCII).
const migrationLock = 0x63656f6c6962

// Errors callers branch on.
var (
	ErrNoSuchBook = errors.New("no such book")
	ErrAlreadyOut = errors.New("the book is already signed out")
	ErrNotOut     = errors.New("the book is not signed out")
	ErrNotMember  = errors.New("not registered as a member for the current term")
	ErrInvalid    = errors.New("invalid book")
	ErrNoDatabase = errors.New("the library database is not configured (library_connect_string in library.cf)")
)

// Book is one copy of a book.
type Book struct {
	ID        int
	ISBN      string // as entered, normalized to digits and X
	Title     string
	Year      int // 0 if unknown
	Publisher string
	Authors   []string // in order
	Loan      *Loan    // the current sign-out, or nil
}

// Loan is one sign-out.
type Loan struct {
	ID     int
	BookID int
	User   string
	Out    time.Time
	In     time.Time // zero while out
}

// EligibleFunc says whether user may sign out books (legacy: registered
// for the current term).
type EligibleFunc func(ctx context.Context, user string) (bool, error)

// Options tune Open.
type Options struct {
	// Eligible is asked before each sign-out; nil refuses every sign-out.
	Eligible EligibleFunc
	// LoanPeriod after which a book is overdue; 0 means two weeks.
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

// Open connects to the library database and migrates its schema.
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
	if err := l.Migrate(ctx); err != nil {
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

// Migrate applies the embedded migrations not yet applied, in name
// order, and records each in ceo_library_migrations.
func (l *Library) Migrate(ctx context.Context) error {
	ctx, cancel := l.bound(ctx)
	defer cancel()
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	tx, err := l.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("library: connecting: %w", err)
	}
	defer tx.Rollback(context.Background())
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", int64(migrationLock)); err != nil {
		return fmt.Errorf("library: migrating: %w", err)
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS ceo_library_migrations (
		name text PRIMARY KEY, applied timestamptz NOT NULL DEFAULT now())`); err != nil {
		return fmt.Errorf("library: migrating: %w", err)
	}
	for _, n := range names {
		base := strings.TrimPrefix(n, "migrations/")
		var done bool
		if err := tx.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM ceo_library_migrations WHERE name = $1)", base).Scan(&done); err != nil {
			return fmt.Errorf("library: migrating: %w", err)
		}
		if done {
			continue
		}
		sql, err := migrations.ReadFile(n)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, string(sql)); err != nil {
			return fmt.Errorf("library: migration %s: %w", base, err)
		}
		if _, err := tx.Exec(ctx, "INSERT INTO ceo_library_migrations (name) VALUES ($1)", base); err != nil {
			return fmt.Errorf("library: migration %s: %w", base, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("library: migrating: %w", err)
	}
	return nil
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
// if given, must be a valid ISBN-10 or ISBN-13.
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
	ctx, cancel := l.bound(ctx)
	defer cancel()
	var id int
	err := pgx.BeginFunc(ctx, l.pool, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `INSERT INTO books (isbn, title, year, publisher)
			VALUES (NULLIF($1, ''), $2, NULLIF($3, 0), NULLIF($4, '')) RETURNING id`,
			b.ISBN, b.Title, b.Year, strings.TrimSpace(b.Publisher)).Scan(&id); err != nil {
			return err
		}
		pos := 0
		for _, a := range b.Authors {
			if a = strings.TrimSpace(a); a == "" {
				continue
			}
			pos++
			if _, err := tx.Exec(ctx, "INSERT INTO book_authors (book_id, position, name) VALUES ($1, $2, $3)", id, pos, a); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("library: adding %q: %w", b.Title, err)
	}
	return id, nil
}

// Query selects books; empty fields match everything. Title and Author
// match a case-insensitive substring; ISBN matches the normalized ISBN
// exactly.
type Query struct {
	Title, Author, ISBN string
	// OnlyOut restricts to books signed out now.
	OnlyOut bool
	// OutBefore, if not zero, restricts to books signed out before it.
	OutBefore time.Time
	// User, if set, restricts to books signed out to User.
	User string
}

const bookSelect = `SELECT b.id, coalesce(b.isbn, ''), b.title, coalesce(b.year, 0), coalesce(b.publisher, ''),
	coalesce((SELECT array_agg(a.name ORDER BY a.position) FROM book_authors a WHERE a.book_id = b.id), '{}'),
	s.id, s.username, s.outdate
	FROM books b LEFT JOIN signouts s ON s.book_id = b.id AND s.indate IS NULL`

// Search returns the books matching q, ordered by title then id.
func (l *Library) Search(ctx context.Context, q Query) ([]Book, error) {
	var where []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if t := strings.TrimSpace(q.Title); t != "" {
		where = append(where, "b.title ILIKE "+arg("%"+likeEscape(t)+"%"))
	}
	if a := strings.TrimSpace(q.Author); a != "" {
		where = append(where, "EXISTS (SELECT 1 FROM book_authors a WHERE a.book_id = b.id AND a.name ILIKE "+arg("%"+likeEscape(a)+"%")+")")
	}
	if i := NormalizeISBN(q.ISBN); i != "" {
		where = append(where, "b.isbn = "+arg(i))
	} else if strings.TrimSpace(q.ISBN) != "" {
		return nil, nil // nothing can match an ISBN without digits
	}
	if q.OnlyOut || !q.OutBefore.IsZero() || q.User != "" {
		where = append(where, "s.id IS NOT NULL")
	}
	if !q.OutBefore.IsZero() {
		where = append(where, "s.outdate < "+arg(q.OutBefore))
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
			b       Book
			loanID  *int
			user    *string
			outdate *time.Time
		)
		if err := rows.Scan(&b.ID, &b.ISBN, &b.Title, &b.Year, &b.Publisher, &b.Authors, &loanID, &user, &outdate); err != nil {
			return nil, fmt.Errorf("library: searching: %w", err)
		}
		if loanID != nil {
			b.Loan = &Loan{ID: *loanID, BookID: b.ID, User: *user, Out: *outdate}
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
	bs, err := l.query(ctx, bookSelect+" WHERE b.id = $1", id)
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

// Overdue lists the books out for longer than the loan period.
func (l *Library) Overdue(ctx context.Context) ([]Book, error) {
	return l.Search(ctx, Query{OutBefore: l.opts.Now().Add(-l.opts.LoanPeriod)})
}

// IsOverdue reports whether a loan has run past the loan period.
func (l *Library) IsOverdue(loan *Loan) bool {
	return loan != nil && loan.In.IsZero() && loan.Out.Before(l.opts.Now().Add(-l.opts.LoanPeriod))
}

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
	b, err := l.Get(ctx, id)
	if err != nil {
		return err
	}
	if b.Loan != nil {
		return fmt.Errorf("library: signing out %q: %w to %s", b.Title, ErrAlreadyOut, b.Loan.User)
	}
	_, err = l.pool.Exec(ctx, "INSERT INTO signouts (book_id, username, outdate) VALUES ($1, $2, $3)", id, user, l.opts.Now())
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" { // unique_violation: signed out meanwhile
		return fmt.Errorf("library: signing out %q: %w", b.Title, ErrAlreadyOut)
	}
	if err != nil {
		return fmt.Errorf("library: signing out %q: %w", b.Title, plainPG(err))
	}
	return nil
}

// SignIn records the return of book id and returns the closed loan.
func (l *Library) SignIn(ctx context.Context, id int) (*Loan, error) {
	ctx, cancel := l.bound(ctx)
	defer cancel()
	var loan Loan
	err := l.pool.QueryRow(ctx, `UPDATE signouts SET indate = greatest($2, outdate)
		WHERE book_id = $1 AND indate IS NULL RETURNING id, book_id, username, outdate, indate`, id, l.opts.Now()).
		Scan(&loan.ID, &loan.BookID, &loan.User, &loan.Out, &loan.In)
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
