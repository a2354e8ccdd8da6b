package tui_test

import (
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/csclub/ceo/ceo/internal/ceotest"
	"github.com/csclub/ceo/ceo/library"
	"github.com/csclub/ceo/ceo/terms"
	"github.com/csclub/ceo/internal/ceodtest/daemontest"
	"github.com/csclub/ceo/internal/realm"
)

func TestMain(m *testing.M) { os.Exit(ceotest.Main(m)) }

func current() terms.Term { return terms.Current(time.Now) }

// capture saves a screen for the README when $CEO_CAPTURE_DIR is set.
func capture(t *testing.T, name, screen string) {
	if dir := os.Getenv("CEO_CAPTURE_DIR"); dir != "" {
		if err := os.WriteFile(filepath.Join(dir, name+".txt"), []byte(window(screen)+"\n"), 0o644); err != nil {
			t.Log(err)
		}
	}
}

// login kinits a seeded user and returns the ccache path.
func login(t *testing.T, r *realm.Realm, user string) string {
	t.Helper()
	u := r.Users[user]
	return r.Kinit(t, u.Name, u.Password)
}

// startAs starts ceo as a seeded user with a ticket in hand.
func startAs(t *testing.T, r *realm.Realm, user string) *terminal {
	t.Helper()
	return startCeo(t, r, login(t, r, user), nil)
}

// TestMenuOrder: office staff see the office entries first; a regular
// member sees the unrestricted ones first.
func TestMenuOrder(t *testing.T) {
	r := ceotest.Setup(t)
	office := startAs(t, r, "office1")
	s := office.waitFor("Main Menu", "> New Member", "Exit")
	capture(t, "main-menu-office", s)
	if strings.Index(s, "Office Staff") > strings.Index(s, "Unrestricted") {
		t.Errorf("office1: Office Staff is not first:\n%s", s)
	}
	for _, item := range []string{"New Club Rep", "Renew Membership", "Renew Club Rep", "New Club", "Library",
		"Display Member", "Search Members", "Change Shell", "Create MySQL database", "Create PostgreSQL database",
		"Manage Club or Group Members", "Manage Positions"} {
		if !strings.Contains(s, item) {
			t.Errorf("menu lacks %q", item)
		}
	}
	if !strings.Contains(s, "office1@"+r.Name) {
		t.Errorf("header does not name the user:\n%s", s)
	}

	// A letter jumps to the next entry starting with it, wrapping around.
	for _, k := range []struct{ key, want string }{
		{"r", "> Renew Membership"}, {"R", "> Renew Club Rep"}, {"e", "> Exit"}, {"n", "> New Member"}, {"n", "> New Club Rep"},
	} {
		office.keys(k.key)
		office.waitFor(k.want)
	}
	// Exit ends the program.
	office.keys("e", "Enter")
	office.waitFor("[ceo exited with status 0]")

	regular := startAs(t, r, "regular1")
	s = regular.waitFor("Main Menu", "> Display Member")
	if strings.Index(s, "Unrestricted") > strings.Index(s, "Office Staff") {
		t.Errorf("regular1: Unrestricted is not first:\n%s", s)
	}
	// Someone not in office or syscom learns at once that they may not
	// add members, before any page of the wizard.
	regular.choose("New Member")
	s = regular.waitFor("Only office staff and the systems committee may add members", "regular1 is in neither")
	capture(t, "new-member-refused", s)
	if strings.Contains(s, "Joining the Computer Science Club") {
		t.Errorf("the wizard opened:\n%s", s)
	}
	regular.escape()
	regular.waitFor("> New Member")
	// Esc on the main menu quits.
	regular.escape()
	regular.waitFor("[ceo exited with status 0]")
}

// TestFormKeysAndNarrowTerminals: Up and Down move between fields
// (legacy); the main menu and a wizard shrink to fit 72x24 and 60x20
// terminals instead of being cut.
func TestFormKeysAndNarrowTerminals(t *testing.T) {
	r := ceotest.Setup(t)
	tm := startAs(t, r, "office1")
	tm.waitFor("Main Menu", "> New Member")
	for _, size := range []struct{ cols, rows int }{{72, 24}, {60, 20}} {
		s := tm.resize(size.cols, size.rows, "Main Menu", "> New Member", "Office Staff")
		checkFits(t, s, size.cols)
		// Exit is reachable: the menu scrolls to it.
		tm.keys("e")
		s = tm.waitFor("> Exit")
		checkFits(t, s, size.cols)
		tm.keys("n")
		tm.waitFor("> New Member", "Office Staff") // scrolled back with its section's title
	}
	capture(t, "main-menu-60x20", tm.screen())
	tm.keys("Enter")
	s := tm.waitFor("Joining the Computer Science Club", "CSC membership is $2.00 per term.", "Next ", "Cancel")
	checkFits(t, s, 60)
	tm.keys("Enter")
	s = tm.waitFor("Member Information", "Username:", "Email:", "Next ", "Cancel")
	checkFits(t, s, 60)
	capture(t, "new-member-60x20", s)
	s = tm.resize(72, 24, "Member Information", "- Make sure to use UW userids for current students", "Email:", "Next ")
	checkFits(t, s, 72)

	// typing aaa, Down, bbb, Up, ccc: aaaccc in the first field, bbb in
	// the second (Up and Down used to move the cursor within the field).
	tm.typeText("aaa")
	tm.keys("Down")
	tm.typeText("bbb")
	tm.keys("Up")
	tm.typeText("ccc")
	s = tm.waitFor("aaaccc")
	if got := line(s, "Username:"); got != "Username:          aaaccc" {
		t.Errorf("first field %q", got)
	}
	if got := line(s, "Full name:"); got != "Full name:         bbb" {
		t.Errorf("second field %q", got)
	}
	// Up in the first field stays there; Down from the last goes to the
	// buttons.
	tm.keys("Up")
	tm.typeText("d")
	tm.waitFor("aaacccd")
	tm.keys("Down", "Down", "Down", "Down")
	tm.typeText("x") // on a button: typed nowhere
	tm.keys("Enter") // Next
	tm.waitFor("Name is too short")
}

// checkFits fails if a line of the screen is wider than cols, or a
// window's border is cut (each framed line starts and ends with it).
func checkFits(t *testing.T, s string, cols int) {
	t.Helper()
	for _, l := range strings.Split(s, "\n") {
		l = strings.TrimRight(l, " ")
		if n := len([]rune(l)); n > cols {
			t.Errorf("a line of %d columns on a %d-column screen: %q", n, cols, l)
		}
		if strings.Contains(l, "║") && !(strings.HasPrefix(strings.TrimSpace(l), "║") && strings.HasSuffix(l, "║")) {
			t.Errorf("a cut window line: %q\n%s", l, s)
			return
		}
	}
}

// TestPasswordPrompt: without a ticket ceo asks for the password (no
// echo), retries a wrong one, stores a ticket MIT tools can read, and
// shows the menu.
func TestPasswordPrompt(t *testing.T) {
	r := ceotest.Setup(t)
	u := r.Users["regular1"]
	cc := filepath.Join(t.TempDir(), "krb5cc")
	tm := startCeo(t, r, cc, nil, "--principal", "regular1")
	tm.waitFor("Password for regular1@" + r.Name + ":")
	tm.enter("not-the-password")
	tm.waitFor("Password incorrect, try again.")
	tm.enter(u.Password)
	s := tm.waitFor("Main Menu", "regular1@"+r.Name)
	if strings.Contains(s, u.Password) || strings.Contains(s, "not-the-password") {
		t.Fatal("a password was echoed")
	}
	cmd := exec.Command("klist", "-c", "FILE:"+cc)
	cmd.Env = r.KrbEnv()
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "regular1@"+r.Name) {
		t.Fatalf("klist of the new cache: %v\n%s", err, out)
	}
}

// TestRenewal: office1 renews a lapsed member through the Renew
// Membership wizard; the term is in LDAP afterwards.
func TestRenewal(t *testing.T) {
	r := ceotest.Setup(t)
	daemontest.Start(t, r, daemontest.Options{}).RequireServed(t, "renew")
	admin := ceotest.Admin(t, r)
	cur := current()
	ceotest.AddEntry(t, r, admin, ceotest.Entry{UID: "renewtui", Name: "Renee Tui", UIDNumber: 26001, Terms: []string{cur.Add(-2).String()}})

	tm := startAs(t, r, "office1")
	tm.fromMenu("Renew Membership")
	s := tm.waitFor("Renewing Membership", "CSC membership is $2.00 per term.")
	capture(t, "renew-intro", s)
	tm.keys("Enter")
	tm.waitFor("Member Information", "Username:")
	tm.enter("nosuchmember")
	tm.waitFor("Member not found")
	tm.reenter("renewtui")
	s = tm.waitFor("Mail Forwarding", "Current forward: none", "Warning: Changing this overwrites ~/.forward")
	capture(t, "renew-forward", s)
	tm.keys("Enter")
	tm.waitFor("You have chosen not to set a forwarding address.")
	tm.keys("Enter")
	s = tm.waitFor("Terms to Register", "Already registered: "+cur.Add(-2).String(), "Start:")
	if got := line(s, "Start:"); got != "Start:  "+cur.String() {
		t.Errorf("default start %q, want the current term %s", got, cur)
	}
	capture(t, "renew-terms", s)
	// Two terms from the current one.
	tm.keys("Enter")
	tm.reenter("2")
	s = tm.waitFor("Membership Fee", "You are registering for 2 terms", "$4.00 in membership fees")
	capture(t, "renew-fee", s)
	tm.keys("Enter")
	s = tm.waitFor("Registration Succeeded", "registered for the following terms: "+cur.String()+", "+cur.Next().String())
	capture(t, "renew-done", s)

	got := ceotest.Attr(t, admin, r.UserDN("renewtui"), "term")
	for _, want := range []string{cur.String(), cur.Next().String(), cur.Add(-2).String()} {
		if !slices.Contains(got, want) {
			t.Errorf("term after renewal = %v, missing %s", got, want)
		}
	}

	// Renewing again for a held term is refused with the legacy message.
	tm.keys("Enter")
	tm.openWizard("Renew Membership", "Renewing Membership", "Username:", "renewtui")
	tm.waitFor("Mail Forwarding")
	tm.keys("Enter")
	tm.waitFor("You have chosen not to set")
	tm.keys("Enter")
	tm.waitFor("Terms to Register")
	tm.keys("C-u")
	tm.typeText(cur.String())
	tm.keys("Enter", "Enter")
	tm.waitFor("Already registered for " + cur.String())
}

// TestSearchByName: a member searches by name and opens a result.
func TestSearchByName(t *testing.T) {
	r := ceotest.Setup(t)
	tm := startAs(t, r, "regular1")
	tm.fromMenu("Search Members")
	tm.waitFor("Members by term")
	tm.choose("Members by name")
	tm.waitFor("Members by Name", "Name:")
	tm.enter("test OFFICE")
	s := tm.waitFor("Members named test OFFICE (1)", "office1", "Test office1", "Testing")
	capture(t, "search-by-name", s)
	if strings.Contains(s, "regular1 ") || strings.Contains(s, "syscom1 ") {
		t.Errorf("the search matched others:\n%s", s)
	}
	tm.keys("Enter")
	s = tm.waitFor("Member Details", "Name: Test office1", "Groups: office", "Terms: "+current().String())
	capture(t, "member-details", s)
	// Esc goes back: to the list, the search menu, the main menu.
	tm.escape()
	tm.waitGone("Member Details")
	tm.escape()
	tm.waitFor("Members by term")
	tm.escape()
	tm.waitFor("Main Menu")

	// Nothing found is said plainly.
	tm.choose("Search Members")
	tm.choose("Members by name")
	tm.waitFor("Name:")
	tm.enter("zzzz nobody")
	tm.waitFor("No members found.")
	tm.keys("Enter") // Close
	tm.waitFor("Members by group")

	// By group and by term.
	tm.choose("Members by group")
	tm.waitFor("Group:")
	tm.enter("syscom")
	s = tm.waitFor("Members of syscom (1)", "syscom1")
	tm.escape()
	tm.choose("Members by term")
	tm.waitFor("Term:  " + current().String())
	tm.keys("Enter")
	s = tm.waitFor("Members in "+current().String()+" (3)", "office1", "regular1", "syscom1")
	tm.escape()
	tm.choose("Members by term")
	tm.waitFor("Term:")
	tm.reenter("spring")
	tm.waitFor("Invalid term")
}

// TestChangeShell: a member changes their own shell through ceod's
// shell op; LDAP has it.
func TestChangeShell(t *testing.T) {
	r := ceotest.Setup(t)
	daemontest.Start(t, r, daemontest.Options{}).RequireServed(t, "shell")
	admin := ceotest.Admin(t, r)
	t.Cleanup(func() { ceotest.SetAttr(t, admin, r.UserDN("regular1"), "loginShell", "/bin/bash") })
	tm := startAs(t, r, "regular1")
	tm.fromMenu("Change Shell")
	tm.waitFor("Changing Login Shell", "Request more shells by emailing systems-")
	tm.keys("Enter")
	s := tm.waitFor("Username:  regular1")
	tm.keys("Enter")
	s = tm.waitFor("Choose a Shell", "Current shell of regular1: /bin/bash", "> /bin/bash")
	capture(t, "change-shell", s)
	tm.choose("/bin/sh")
	tm.waitFor("Login Shell Changed", "The shell for regular1 has been changed to /bin/sh.")
	if got := ceotest.Attr(t, admin, r.UserDN("regular1"), "loginShell"); !slices.Equal(got, []string{"/bin/sh"}) {
		t.Fatalf("loginShell = %v", got)
	}

	// Someone else's shell: ceod refuses, naming the ACL, said plainly.
	tm.keys("Enter")
	tm.openWizard("Change Shell", "Changing Login Shell", "Username:", "office1")
	tm.waitFor("Choose a Shell")
	tm.choose("/bin/sh")
	s = tm.waitFor("Failed to Change Shell", "permission", "no rule of shell")
	if strings.Contains(s, "goroutine") || strings.Contains(s, ".go:") {
		t.Errorf("a stack trace on screen:\n%s", s)
	}
	if got := ceotest.Attr(t, admin, r.UserDN("office1"), "loginShell"); !slices.Equal(got, []string{"/bin/bash"}) {
		t.Fatalf("office1's loginShell = %v", got)
	}
}

// TestLibrarySignOutAndIn: office1 adds a book, signs it out to a member
// registered this term (not to a lapsed one), lists it, and signs it in.
func TestLibrarySignOutAndIn(t *testing.T) {
	r := ceotest.Setup(t)
	admin := ceotest.Admin(t, r)
	ceotest.AddEntry(t, r, admin, ceotest.Entry{UID: "libgone", UIDNumber: 26101, Terms: []string{current().Prev().String()}})
	url := ceotest.LibraryDB(t, r)

	tm := startAs(t, r, "office1")
	tm.fromMenu("Library")
	s := tm.waitFor("> Search Books", "Overdue Books")
	capture(t, "library-menu", s)

	// Add a book.
	tm.choose("Add Book")
	tm.waitFor("New Book", "ISBN:")
	tm.typeText("978-0-262-16209-8")
	tm.keys("Tab")
	tm.typeText("Types and Programming Languages (TUI test)")
	tm.keys("Tab")
	tm.typeText("Benjamin C. Pierce")
	tm.keys("Tab")
	tm.typeText("2002")
	tm.keys("Tab")
	tm.enter("MIT Press")
	s = tm.waitFor("Book Added", "is number #")
	tm.keys("Enter")

	// Sign it out to a lapsed member: refused.
	tm.choose("Sign Out Book")
	tm.waitFor("Book Checkout", "Username:")
	tm.enter("libgone")
	tm.waitFor("User not registered for this term!")
	tm.reenter("regular1")
	tm.waitFor("Book Search", "(Only one field required.)")
	tm.keys("Tab")
	tm.typeText("(TUI test)")
	tm.keys("Enter", "Enter")
	s = tm.waitFor("Choose a Book", "1 book found", "Types and Programming")
	capture(t, "library-choose", s)
	tm.keys("Enter")
	tm.waitFor("Confirm Checkout", "Username: regular1", "Book: Types and Programming Languages (TUI test)")
	tm.keys("Enter")
	tm.waitFor("Book Signed Out", "is signed out to regular1.")

	l, err := library.Open(t.Context(), url, library.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	books, err := l.Search(t.Context(), library.Query{Title: "(TUI test)"})
	if err != nil || len(books) != 1 || books[0].Loan == nil || books[0].Loan.User != "regular1" {
		t.Fatalf("after sign-out: %+v, %v", books, err)
	}
	id := books[0].ID

	// It is in the signed-out list.
	tm.keys("Enter")
	tm.choose("Signed Out Books")
	// The list shows the due date, two weeks after today (legacy's loan).
	s = tm.waitFor("Signed Out Books (", "Out to", "Due", "regular1", time.Now().AddDate(0, 0, 14).Format("2006-01-02"))
	capture(t, "library-signed-out", s)
	tm.escape()

	// Sign it in.
	tm.choose("Sign In Book")
	tm.waitFor("Book Checkin", "Username:")
	tm.enter("regular1")
	tm.waitFor("Choose a Book", "Types and Programming")
	tm.keys("Enter")
	tm.waitFor("Confirm Checkin", "Username: regular1")
	tm.keys("Enter")
	tm.waitFor("Book Signed In", "is back from regular1")

	b, err := l.Get(t.Context(), id)
	if err != nil || b.Loan != nil {
		t.Fatalf("after sign-in: %+v, %v", b, err)
	}
	if _, err := l.SignIn(t.Context(), id); !errors.Is(err, library.ErrNotOut) {
		t.Fatalf("the loan is still open: %v", err)
	}
}

// TestSlowServer: a directory that accepts connections but never answers
// does not hang the UI: it shows that it is busy, Esc stops waiting, and
// the request times out with a plain message and a Retry button.
func TestSlowServer(t *testing.T) {
	r := ceotest.Setup(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close() // hold it open, say nothing
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port
	dir := t.TempDir()
	ents, _ := os.ReadDir(r.ConfigDir)
	for _, e := range ents {
		if e.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(r.ConfigDir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if e.Name() == "accounts.cf" {
			b = []byte(strings.Replace(string(b), r.LDAPURL, "ldap://localhost:"+strconv.Itoa(port), 1))
		}
		os.WriteFile(filepath.Join(dir, e.Name()), b, 0o600)
	}
	os.WriteFile(filepath.Join(dir, "ceo.cf"), []byte("request_timeout = 2\n"), 0o600)

	tm := startCeo(t, r, login(t, r, "regular1"), []string{"CEO_CONFIG_DIR=" + dir})
	s := tm.waitFor("Connecting to the directory as regular1...", "(Esc stops waiting)")
	capture(t, "busy", s)
	t0 := time.Now()
	s = tm.waitFor("Could not connect", "Retry", "Exit")
	if d := time.Since(t0); d > 15*time.Second {
		t.Errorf("the timeout took %v", d)
	}
	capture(t, "timeout", s)
	if !strings.Contains(s, "did not answer") && !strings.Contains(s, "not answering") && !strings.Contains(s, "timed out") {
		t.Errorf("the message does not say the server did not answer:\n%s", s)
	}
	// Retry shows the busy line again; Esc abandons it.
	tm.keys("Enter")
	tm.waitFor("Connecting to the directory")
	tm.escape()
	tm.waitFor("Stopped waiting")
}

// TestNewMember: office1 adds a member end to end through the New Member
// wizard and ceod, the username completed and the name and program filled
// in from the university directory: afterwards the LDAP entry (registered
// for the current term), the Kerberos principal (kinit with the new
// password) and the home directory exist.
func TestNewMember(t *testing.T) {
	r := ceotest.Setup(t)
	daemontest.Start(t, r, daemontest.Options{}).RequireServed(t, "adduser")
	admin := ceotest.Admin(t, r)
	const uid, password = "nnewton", "correct-horse-7"
	var person realm.UWPerson
	for _, p := range r.UWPeople {
		if p.UID == uid {
			person = p
		}
	}

	tm := startAs(t, r, "office1")
	tm.fromMenu("New Member")
	s := tm.waitFor("Joining the Computer Science Club", "CSC membership is $2.00 per term.")
	capture(t, "new-member-intro", s)
	tm.keys("Enter")
	tm.waitFor("Member Information", "Make sure to check ID")
	// The legacy checks, in order.
	// Enter moves from field to field; in the last one it means Next, and
	// the cursor stays there when the page has a problem.
	tm.typeText("ab")
	tm.keys("Enter", "Enter", "Enter", "Enter")
	tm.waitFor("Username is too short")
	tm.keys("BTab", "BTab", "BTab", "C-u")
	tm.enter("office1")
	tm.typeText("Office Dup")
	tm.keys("Enter", "Enter", "Enter")
	tm.waitFor("Username office1 is already taken")
	// Clear the name, then back up to the username: Tab completes it from
	// the university directory, and Tab again moves on and fills in the
	// name and program.
	tm.keys("Up", "Up", "C-u", "Up", "C-u")
	tm.typeText(uid[:3])
	tm.keys("Tab")
	tm.waitFor("Username:          " + uid)
	tm.keys("Tab")
	s = tm.waitFor("Full name:         "+person.Name, "Program of Study:  "+person.Program)
	tm.keys("Down", "Down")
	tm.typeText("nadia@example.org")
	s = tm.waitFor("Email:             nadia@example.org")
	capture(t, "new-member-info", s)
	tm.keys("Enter")
	s = tm.waitFor("Number of Terms", "Terms: "+current().String(), "Fee: 1 term x $2.00 = $2.00")
	capture(t, "new-member-terms", s)
	tm.keys("Enter")
	tm.waitFor("Machine Usage Policy", "Ensure the new member has signed the Machine Usage Policy.")
	tm.keys("Enter")
	tm.waitFor("Member Password", "Re-enter:")
	tm.typeText(password)
	tm.keys("Tab")
	tm.enter("something-else")
	tm.waitFor("Passwords do not match")
	tm.typeText(password)
	tm.keys("Tab")
	tm.enter(password)
	s = tm.waitFor("Ready to Add", "Username: "+uid, "Terms: "+current().String()+" (fee $2.00)")
	if strings.Contains(s, password) {
		t.Fatal("the password is on the screen")
	}
	capture(t, "new-member-confirm", s)
	tm.keys("Enter")
	s = tm.waitFor("   Done ") // the last page, whatever happened
	capture(t, "new-member-done", s)
	tm.waitFor("User Added", "Congratulations, "+uid+" has been added successfully.", "Registered for: "+current().String())

	if got := ceotest.Attr(t, admin, r.UserDN(uid), "cn"); !slices.Equal(got, []string{person.Name}) {
		t.Errorf("cn = %v", got)
	}
	if got := ceotest.Attr(t, admin, r.UserDN(uid), "term"); !slices.Equal(got, []string{current().String()}) {
		t.Errorf("term = %v", got)
	}
	if got := ceotest.Attr(t, admin, r.UserDN(uid), "program"); !slices.Equal(got, []string{person.Program}) {
		t.Errorf("program = %v", got)
	}
	home := ceotest.Attr(t, admin, r.UserDN(uid), "homeDirectory")
	if len(home) != 1 {
		t.Fatalf("homeDirectory = %v", home)
	}
	if st, err := os.Stat(home[0]); err != nil || !st.IsDir() {
		t.Errorf("home directory %s: %v", home[0], err)
	}
	if b, err := os.ReadFile(filepath.Join(home[0], ".forward")); err != nil || strings.TrimSpace(string(b)) != "nadia@example.org" {
		t.Errorf(".forward = %q, %v", b, err)
	}
	r.Kinit(t, uid, password) // fails the test if the principal or password is wrong
}

// TestSyscomScreens: syscom1 adds a member to a club's group (through
// ceod's group op) and gives a position (its positions op); the directory
// has both afterwards.
func TestSyscomScreens(t *testing.T) {
	r := ceotest.Setup(t)
	d := daemontest.Start(t, r, daemontest.Options{})
	d.RequireServed(t, "group")
	d.RequireServed(t, "positions")
	admin := ceotest.Admin(t, r)
	ceotest.AddEntry(t, r, admin, ceotest.Entry{UID: "tuiclub", Name: "TUI Club", UIDNumber: 30601, Club: true})
	ceotest.AddEntry(t, r, admin, ceotest.Entry{UID: "alice", Name: "Alice Tui", UIDNumber: 26301})
	t.Cleanup(func() { ceotest.SetAttr(t, admin, r.UserDN("regular1"), "position") })

	tm := startAs(t, r, "syscom1")
	tm.openWizard("Manage Club or Group Members", "Managing Club or Group", "Club or Group:", "tuiclub")
	tm.waitFor("Manage tuiclub", "The group tuiclub has no members.")
	// Tab completes the name from the directory; Tab again moves on (to
	// Add) once it is whole.
	tm.typeText("ali")
	tm.keys("Tab")
	tm.waitFor("Username:  alice")
	tm.keys("Tab", "Enter") // Add
	tm.waitFor("Members of tuiclub (1): alice", "Added alice to tuiclub")
	// The cursor is back in the username field for the next one.
	tm.typeText("regular1")
	tm.keys("Tab", "Enter")
	s := tm.waitFor("Members of tuiclub (2): alice, regular1", "Added regular1 to tuiclub")
	capture(t, "manage-group", s)
	if got := ceotest.Attr(t, admin, r.GroupDN("tuiclub"), "memberUid"); !slices.Equal(got, []string{"alice", "regular1"}) {
		t.Fatalf("memberUid = %v", got)
	}
	// After Remove too.
	tm.typeText("alice")
	tm.keys("Tab", "Tab", "Enter") // past Add to Remove
	tm.waitFor("Members of tuiclub (1): regular1", "Removed alice from tuiclub")
	tm.typeText("next")
	tm.waitFor("Username:  next")
	tm.escape()
	tm.waitFor("Main Menu")

	tm.choose("Manage Positions")
	tm.waitFor("Managing Positions")
	tm.keys("Enter")
	tm.waitFor("Positions", "President:", "Office Manager:")
	tm.keys("Down", "Down", "Down", "Down", "Down", "Down") // to Librarian
	tm.typeText("nosuchuser")
	tm.keys("Down", "Down", "Down", "Down") // past the last field to Save
	tm.keys("Enter")
	tm.waitFor("Librarian: there is no member nosuchuser. Nothing was saved.")
	tm.keys("Up", "Up", "Up", "Up", "C-u")
	tm.typeText("regu")
	tm.keys("Tab")
	s = tm.waitFor("Librarian:                regular1")
	capture(t, "positions", s)
	tm.keys("Down", "Down", "Down", "Down")
	tm.keys("Enter")
	tm.waitFor("Positions Updated")
	if got := ceotest.Attr(t, admin, r.UserDN("regular1"), "position"); !slices.Equal(got, []string{"librarian"}) {
		t.Fatalf("position = %v", got)
	}
}

// TestRenewClubRep: the club rep renewal adds a non-member term and
// charges nothing.
func TestRenewClubRep(t *testing.T) {
	r := ceotest.Setup(t)
	daemontest.Start(t, r, daemontest.Options{}).RequireServed(t, "renew")
	admin := ceotest.Admin(t, r)
	cur := current()
	ceotest.AddEntry(t, r, admin, ceotest.Entry{UID: "reptui", UIDNumber: 26201, NonMember: []string{cur.Prev().String()}})

	tm := startAs(t, r, "office1")
	tm.openWizard("Renew Club Rep", "We grant accounts to club users at no charge", "Username:", "reptui")
	tm.waitFor("Mail Forwarding", "Email:")
	tm.keys("Enter")
	tm.waitFor("You have chosen not to set")
	tm.keys("Enter")
	tm.waitFor("Terms to Register", "As a club rep: "+cur.Prev().String(), "Start:  "+cur.String())
	tm.keys("Enter", "Enter")
	tm.waitFor("Confirm Registration", "Club reps are not charged.")
	tm.keys("Enter")
	tm.waitFor("Registration Succeeded", "The club user has been registered for the following terms: "+cur.String()+".")
	got := ceotest.Attr(t, admin, r.UserDN("reptui"), "nonMemberTerm")
	if !slices.Contains(got, cur.String()) {
		t.Fatalf("nonMemberTerm = %v", got)
	}
	if got := ceotest.Attr(t, admin, r.UserDN("reptui"), "term"); len(got) != 0 {
		t.Fatalf("term = %v (a club rep renewal must not add member terms)", got)
	}
}

// TestDisplayMember: the member's own details by default; a missing one
// is "Member not found".
func TestDisplayMember(t *testing.T) {
	r := ceotest.Setup(t)
	tm := startAs(t, r, "regular1")
	tm.fromMenu("Display Member")
	tm.waitFor("Member Information", "Username:  regular1")
	tm.reenter("nobody-here")
	tm.waitFor("Member not found")
	tm.reenter("regular1")
	tm.waitFor("Member Details", "User: regular1", "Shell: /bin/", "Terms: "+current().String(), "Account: member")
	tm.keys("Enter") // Done
	tm.waitFor("Main Menu")
}
