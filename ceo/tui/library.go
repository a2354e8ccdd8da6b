package tui

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/csclub/ceo/ceo/library"
	"github.com/csclub/ceo/ceo/members"
)

func (u *UI) libraryMenu() {
	u.subMenu("Library", []menuItem{
		{"Search Books", u.searchBooks},
		{"Sign Out Book", u.signOutBook},
		{"Sign In Book", u.signInBook},
		{"Signed Out Books", func() { u.bookReport("Signed Out Books", false) }},
		{"Overdue Books", func() { u.bookReport("Overdue Books", true) }},
		{"Add Book", u.addBook},
	})
}

// libraryWork is work (label, fn, done) on the library database, which it
// opens off the UI goroutine (first use may create its tables).
func (u *UI) libraryWork(label string, fn func(ctx context.Context, l *library.Library) error, done func(err error)) {
	u.work(label, func(ctx context.Context) error {
		l, err := u.a.Library(ctx)
		if err != nil {
			return err
		}
		return fn(ctx, l)
	}, done)
}

// bookRow is one line of a book list (69 columns).
func (u *UI) bookRow(b library.Book) string {
	var who, due string
	if b.Loan != nil {
		who, due = b.Loan.User, b.Loan.Due.Format("2006-01-02")
	}
	authors := strings.Join(b.Authors, ", ")
	return fmt.Sprintf("#%-4d %-24s %-14s %-12s %s", b.ID, trunc(b.Title, 24), trunc(authors, 14), trunc(who, 12), due)
}

const bookHeader = "  No.   Title                    By             Out to       Due"

func bookDetails(b *library.Book, overdue bool) string {
	year := "unknown"
	if b.Year != 0 {
		year = strconv.Itoa(b.Year)
	}
	lines := []string{
		"Title: " + b.Title,
		"By: " + strings.Join(b.Authors, ", "),
		"Year: " + year,
		"Publisher: " + b.Publisher,
		"ISBN: " + b.ISBN,
		"Number: #" + strconv.Itoa(b.ID),
		"",
	}
	if b.Loan == nil {
		lines = append(lines, "Status: in the library")
	} else {
		s := "Status: signed out by " + b.Loan.User + " on " + b.Loan.Out.Format("Mon Jan 2 2006")
		due := "Due: " + b.Loan.Due.Format("Mon Jan 2 2006")
		if overdue {
			due += " (overdue)"
		}
		lines = append(lines, s, due)
	}
	return strings.Join(lines, "\n")
}

// bookList opens a window listing books; Enter shows one.
func (u *UI) bookList(title string, books []library.Book) {
	if len(books) == 0 {
		u.textWindow(title, "No books found.")
		return
	}
	var items []menuItem
	for _, b := range books {
		items = append(items, menuItem{u.bookRow(b), func() { u.showBook(b.ID) }})
	}
	t := newMenu([]section{{bookHeader, items}})
	u.push(fmt.Sprintf("%s (%d)", title, len(books)), t, t)
	u.setStatus("[gray]Enter shows a book, Esc goes back.[-]")
}

func (u *UI) showBook(id int) {
	var b *library.Book
	var overdue bool
	u.libraryWork("Reading the book", func(ctx context.Context, l *library.Library) (err error) {
		if b, err = l.Get(ctx, id); err == nil {
			overdue = l.IsOverdue(b.Loan)
		}
		return err
	}, u.orErrorStatus(func() {
		u.textWindow("Book", bookDetails(b, overdue))
	}))
}

func (u *UI) bookReport(title string, overdue bool) {
	var books []library.Book
	u.libraryWork("Reading the library", func(ctx context.Context, l *library.Library) (err error) {
		if overdue {
			books, err = l.Overdue(ctx)
		} else {
			books, err = l.SignedOut(ctx)
		}
		return err
	}, u.orErrorStatus(func() {
		u.bookList(title, books)
	}))
}

// bookSearchPage adds the ISBN / Title / Author page; on Next it searches
// and stores the hits in *found.
func (u *UI) bookSearchPage(w *wizard, onlyOutTo *string, found *[]library.Book) *wpage {
	p := w.page("Book Search", "(Only one field required.)")
	isbn := p.input("ISBN: ", "", 20)
	title := p.input("Title: ", "", 40)
	author := p.input("Author: ", "", 40)
	p.onNext = func(proceed func()) {
		q := library.Query{ISBN: isbn.GetText(), Title: title.GetText(), Author: author.GetText()}
		if strings.TrimSpace(q.ISBN+q.Title+q.Author) == "" && onlyOutTo == nil {
			u.errorStatus("Enter an ISBN, a title or an author")
			return
		}
		u.libraryWork("Searching the library", func(ctx context.Context, l *library.Library) (err error) {
			*found, err = l.Search(ctx, q)
			return err
		}, func(err error) {
			switch {
			case err != nil:
				u.errorStatus(plain(err))
			case len(*found) == 0:
				u.errorStatus("No books found")
			default:
				proceed()
			}
		})
	}
	return p
}

func (u *UI) searchBooks() {
	var found []library.Book
	w := u.newWizard("Search Books")
	p := u.bookSearchPage(w, nil, &found)
	p.nextLabel = "Search"
	next := p.onNext
	p.onNext = func(func()) {
		next(func() {
			u.pop()
			u.bookList("Books", found)
		})
	}
	w.start()
}

// pickBookPage adds a page choosing one of *books.
func (u *UI) pickBookPage(w *wizard, books *[]library.Book, chosen **library.Book) {
	p := w.page("Choose a Book", "")
	p.onShow = func() {
		var rows []string
		for _, b := range *books {
			rows = append(rows, u.bookRow(b))
		}
		p.setText(plural(len(*books), "book") + " found. Choose one with the arrows and Enter.")
		p.setChoices(rows, 0, func(i int) { *chosen = &(*books)[i] })
		w.focus()
	}
}

func (u *UI) signOutBook() {
	var (
		user   string
		found  []library.Book
		chosen *library.Book
		result error
	)
	w := u.newWizard("Checkout")
	up := w.page("Book Checkout", "Books are lent to members registered for the current term.")
	userField := up.userInput("Username: ", "", 20, u.members)
	up.onNext = func(proceed func()) {
		user = strings.TrimSpace(userField.GetText())
		var ok bool
		u.lookup("Checking "+user, func(ctx context.Context) error {
			var err error
			ok, err = u.a.Eligible(ctx, user)
			return err
		}, members.ErrNoSuchMember, "Member not found", func() {
			if !ok {
				u.errorStatus("User not registered for this term!")
				return
			}
			proceed()
		})
	}
	u.bookSearchPage(w, nil, &found)
	u.pickBookPage(w, &found, &chosen)
	cp := w.page("Confirm Checkout", "")
	cp.nextLabel = "Sign Out"
	cp.onShow = func() { cp.setText("Username: " + user + "\nBook: " + chosen.Title) }
	cp.onNext = func(proceed func()) {
		u.libraryWork("Signing out the book", func(ctx context.Context, l *library.Library) error {
			return l.SignOut(ctx, chosen.ID, user)
		}, func(err error) {
			result = err
			proceed()
		})
	}
	w.resultPage(&result, "Book Not Signed Out", "The book was not signed out", plain, func(ep *wpage) {
		ep.setHeading("Book Signed Out")
		ep.setText(fmt.Sprintf("%q (#%d) is signed out to %s.", chosen.Title, chosen.ID, user))
		u.setStatus("[green]Signed out[-]")
	})
	w.start()
}

func (u *UI) signInBook() {
	var (
		out    []library.Book
		chosen *library.Book
		loan   *library.Loan
		result error
	)
	w := u.newWizard("Checkin")
	up := w.page("Book Checkin", "Enter the username the book is signed out to, or leave it blank to list every signed-out book.")
	userField := up.userInput("Username: ", "", 20, u.members)
	up.onNext = func(proceed func()) {
		user := strings.TrimSpace(userField.GetText())
		u.libraryWork("Reading signed-out books", func(ctx context.Context, l *library.Library) (err error) {
			out, err = l.Search(ctx, library.Query{OnlyOut: true, User: user})
			return err
		}, func(err error) {
			switch {
			case err != nil:
				u.errorStatus(plain(err))
			case len(out) == 0 && user != "":
				u.errorStatus("No books are signed out to " + user)
			case len(out) == 0:
				u.errorStatus("No books are signed out")
			default:
				proceed()
			}
		})
	}
	u.pickBookPage(w, &out, &chosen)
	cp := w.page("Confirm Checkin", "")
	cp.nextLabel = "Sign In"
	cp.onShow = func() { cp.setText("Username: " + chosen.Loan.User + "\nBook: " + chosen.Title) }
	cp.onNext = func(proceed func()) {
		u.libraryWork("Signing in the book", func(ctx context.Context, l *library.Library) (err error) {
			loan, err = l.SignIn(ctx, chosen.ID)
			return err
		}, func(err error) {
			result = err
			proceed()
		})
	}
	w.resultPage(&result, "Book Not Signed In", "The book was not signed in", plain, func(ep *wpage) {
		ep.setHeading("Book Signed In")
		ep.setText(fmt.Sprintf("%q (#%d) is back from %s (out since %s, due %s).", chosen.Title, chosen.ID, loan.User,
			loan.Out.Format("2006-01-02"), loan.Due.Format("2006-01-02")))
		u.setStatus("[green]Signed in[-]")
	})
	w.start()
}

func (u *UI) addBook() {
	var (
		id     int
		result error
		b      library.Book
	)
	w := u.newWizard("Add Book")
	p := w.page("New Book", "Separate several authors with semicolons.")
	isbn := p.input("ISBN: ", "", 20)
	title := p.input("Title: ", "", 50)
	authors := p.input("Authors: ", "", 50)
	year := p.input("Year: ", "", 6)
	publisher := p.input("Publisher: ", "", 40)
	p.nextLabel = "Add"
	p.onNext = func(proceed func()) {
		b = library.Book{ISBN: isbn.GetText(), Title: strings.TrimSpace(title.GetText()), Publisher: publisher.GetText()}
		for _, a := range strings.Split(authors.GetText(), ";") {
			if a = strings.TrimSpace(a); a != "" {
				b.Authors = append(b.Authors, a)
			}
		}
		if y := strings.TrimSpace(year.GetText()); y != "" {
			n, err := strconv.Atoi(y)
			if err != nil {
				u.errorStatus("Year must be a number")
				return
			}
			b.Year = n
		}
		if b.Title == "" {
			u.errorStatus("A book needs a title")
			return
		}
		u.libraryWork("Adding the book", func(ctx context.Context, l *library.Library) (err error) {
			id, err = l.Add(ctx, b)
			return err
		}, func(err error) {
			result = err
			if errors.Is(result, library.ErrInvalid) {
				u.errorStatus(strings.TrimPrefix(plain(result), "Adding "))
				return
			}
			proceed()
		})
	}
	w.resultPage(&result, "Book Not Added", "", plain, func(ep *wpage) {
		ep.setHeading("Book Added")
		ep.setText(fmt.Sprintf("%q is number #%d.", b.Title, id))
		u.setStatus("[green]Book added[-]")
	})
	w.start()
}
