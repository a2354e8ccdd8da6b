package library

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// The legacy library's tables, as SQLObject made them (default naming):
// book, author, their join author_book and signout. The Go front end
// reads and writes these tables as they are, so a club's existing
// library database works unchanged and needs no CREATE rights.
var legacyTables = []string{"book", "author", "author_book", "signout"}

// legacySchema creates the legacy tables in an empty database, with the
// column types SQLObject's createTable gave them on PostgreSQL.
const legacySchema = `
CREATE TABLE IF NOT EXISTS book (
    id SERIAL PRIMARY KEY,
    isbn TEXT,
    title TEXT,
    year TEXT,
    publisher TEXT
);
CREATE TABLE IF NOT EXISTS author (
    id SERIAL PRIMARY KEY,
    name TEXT
);
CREATE TABLE IF NOT EXISTS author_book (
    author_id INT NOT NULL,
    book_id INT NOT NULL
);
CREATE TABLE IF NOT EXISTS signout (
    id SERIAL PRIMARY KEY,
    username TEXT,
    book_id INT, CONSTRAINT book_id_exists FOREIGN KEY (book_id) REFERENCES book (id),
    outdate DATE,
    indate DATE
);`

// schemaLock is the pg_advisory_xact_lock key that serializes creating
// the tables ("ceolib" in ASCII).
const schemaLock = 0x63656f6c6962

// ensureSchema uses the legacy tables if they all exist (no DDL, so no
// CREATE rights needed), creates them in an empty database, and refuses
// a database that holds only some of them.
func (l *Library) ensureSchema(ctx context.Context) error {
	ctx, cancel := l.bound(ctx)
	defer cancel()
	missing, err := l.missingTables(ctx, l.pool.QueryRow)
	if err != nil {
		return err
	}
	if len(missing) == 0 {
		return nil
	}
	// Decide again under the lock, in one snapshot: another ceo may be
	// creating the tables right now, and the check above reads each table
	// in a statement of its own.
	return pgx.BeginFunc(ctx, l.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", int64(schemaLock)); err != nil {
			return fmt.Errorf("library: creating the tables: %w", plainPG(err))
		}
		missing, err := l.missingTables(ctx, tx.QueryRow)
		switch {
		case err != nil:
			return err
		case len(missing) == 0:
			return nil
		case len(missing) != len(legacyTables):
			return fmt.Errorf("library: the database has some of the library's tables but not %s", strings.Join(missing, ", "))
		}
		if _, err := tx.Exec(ctx, legacySchema); err != nil {
			return fmt.Errorf("library: creating the tables: %w", plainPG(err))
		}
		return nil
	})
}

func (l *Library) missingTables(ctx context.Context, queryRow func(context.Context, string, ...any) pgx.Row) ([]string, error) {
	var missing []string
	for _, t := range legacyTables {
		var exists bool
		if err := queryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", t).Scan(&exists); err != nil {
			return nil, fmt.Errorf("library: reading the schema: %w", plainPG(err))
		}
		if !exists {
			missing = append(missing, t)
		}
	}
	return missing, nil
}
