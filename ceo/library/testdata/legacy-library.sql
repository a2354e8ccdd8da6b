-- A library database as the legacy ceo (SQLObject on PostgreSQL) left it:
-- the tables as SQLObject's createTable made them, and rows as the legacy
-- front end wrote them (ISBNs as typed, years as text, DATE sign-outs).
CREATE TABLE book (
    id SERIAL PRIMARY KEY,
    isbn TEXT,
    title TEXT,
    year TEXT,
    publisher TEXT
);
CREATE TABLE author (
    id SERIAL PRIMARY KEY,
    name TEXT
);
CREATE TABLE author_book (
    author_id INT NOT NULL,
    book_id INT NOT NULL
);
CREATE TABLE signout (
    id SERIAL PRIMARY KEY,
    username TEXT,
    book_id INT, CONSTRAINT book_id_exists FOREIGN KEY (book_id) REFERENCES book (id),
    outdate DATE,
    indate DATE
);

INSERT INTO book (id, isbn, title, year, publisher) VALUES
    (1, '0-262-51087-1', 'Structure and Interpretation of Computer Programs', '1996', 'MIT Press'),
    (2, '0131103628', 'The C Programming Language', '1988', 'Prentice Hall'),
    (3, NULL, 'Proceedings, vol. 3', 'c. 1970', NULL);
SELECT setval('book_id_seq', 3);
INSERT INTO author (id, name) VALUES
    (1, 'Harold Abelson'), (2, 'Gerald Jay Sussman'), (3, 'Brian W. Kernighan'), (4, 'Dennis M. Ritchie');
SELECT setval('author_id_seq', 4);
INSERT INTO author_book (author_id, book_id) VALUES (1, 1), (2, 1), (3, 2), (4, 2);
-- SICP: out to alice since 2025-10-01 (due 2025-10-15), an older loan returned.
-- K&R: out once and back.
INSERT INTO signout (id, username, book_id, outdate, indate) VALUES
    (1, 'bob', 1, '2025-09-01', '2025-09-10'),
    (2, 'alice', 1, '2025-10-01', NULL),
    (3, 'bob', 2, '2025-09-20', '2025-09-25');
SELECT setval('signout_id_seq', 3);
