-- The club library: books, their authors in order, and sign-outs.
CREATE TABLE books (
    id        serial PRIMARY KEY,
    isbn      text,
    title     text NOT NULL CHECK (title <> ''),
    year      integer CHECK (year IS NULL OR year BETWEEN 1000 AND 9999),
    publisher text,
    added     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX books_isbn ON books (isbn);
CREATE INDEX books_title ON books (lower(title));

CREATE TABLE book_authors (
    book_id  integer NOT NULL REFERENCES books (id) ON DELETE CASCADE,
    position integer NOT NULL,
    name     text NOT NULL CHECK (name <> ''),
    PRIMARY KEY (book_id, position)
);
CREATE INDEX book_authors_name ON book_authors (lower(name));

CREATE TABLE signouts (
    id       serial PRIMARY KEY,
    book_id  integer NOT NULL REFERENCES books (id) ON DELETE CASCADE,
    username text NOT NULL,
    outdate  timestamptz NOT NULL,
    indate   timestamptz CHECK (indate IS NULL OR indate >= outdate)
);
-- A book is out to at most one person at a time.
CREATE UNIQUE INDEX signouts_one_out ON signouts (book_id) WHERE indate IS NULL;
CREATE INDEX signouts_username ON signouts (username) WHERE indate IS NULL;
