package database

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/csclub/ceo/internal/opstest"
	"github.com/csclub/ceo/internal/realm"
	"github.com/csclub/ceo/ops"
	"github.com/csclub/ceo/ops/authz"
	"github.com/csclub/ceo/wire/ceopb"
)

func TestMain(m *testing.M) { os.Exit(realm.Main(m)) }

type msg struct {
	status  int32
	message string
}

// dialect is one engine's request and reply messages, as a test speaks
// them.
type dialect struct {
	op     string
	encode func(username *string) []byte
	decode func(reply []byte) ([]msg, *string, error)
}

func msgsOf(ms []*ceopb.StatusMessage) []msg {
	var out []msg
	for _, m := range ms {
		out = append(out, msg{m.GetStatus(), m.GetMessage()})
	}
	return out
}

var (
	mysqlMsgs = newDialect[*ceopb.AddMySQLUserResponse]("mysql", func(u *string) proto.Message { return &ceopb.AddMySQLUser{Username: u} })
	pgMsgs    = newDialect[*ceopb.AddPostgreSQLUserResponse]("postgresql", func(u *string) proto.Message { return &ceopb.AddPostgreSQLUser{Username: u} })
)

// newDialect speaks the op whose request req makes and whose reply is a
// Resp: StatusMessages in "messages" and an optional "password".
func newDialect[Resp interface {
	proto.Message
	GetMessages() []*ceopb.StatusMessage
}](op string, req func(username *string) proto.Message) dialect {
	return dialect{op,
		func(u *string) []byte { b, _ := proto.Marshal(req(u)); return b },
		func(b []byte) ([]msg, *string, error) {
			var zero Resp
			r := zero.ProtoReflect().New().Interface().(Resp)
			err := proto.Unmarshal(b, r)
			m := r.ProtoReflect()
			var pw *string
			if fd := m.Descriptor().Fields().ByName("password"); m.Has(fd) {
				pw = proto.String(m.Get(fd).String())
			}
			return msgsOf(r.GetMessages()), pw, err
		}}
}

// call sends one request (none at all for a nil username: a request
// without its required field) as caller of the realm CSCLUB.INTERNAL.
func call(t *testing.T, d dialect, h ops.Handler, caller string, username *string) ([]msg, *string) {
	t.Helper()
	var body []byte
	if username != nil {
		body = d.encode(username)
	}
	out, err := h.Serve(t.Context(), ops.Request{Caller: ops.CallerOf(caller + "@CSCLUB.INTERNAL"), Body: body})
	if err != nil {
		t.Fatalf("Serve: %v", err)
	}
	msgs, pw, err := d.decode(out.Body)
	if err != nil {
		t.Fatalf("reply does not decode: %v", err)
	}
	return msgs, pw
}

func wantMsgs(t *testing.T, got []msg, want ...msg) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("reply messages:\n got %v\nwant %v", got, want)
	}
}

var passwordShape = regexp.MustCompile(`^[A-Za-z0-9]{20}$`)

// mustNew is New for a test.
func mustNew(t testing.TB, d Deps, e Engine) ops.Handler {
	t.Helper()
	h, err := New(d, e)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

type refusalCase struct {
	name, caller string
	target       *string
	want         []msg
	after        func(t *testing.T) // further checks, if any
}

// commonRefusals are the admission refusals both engines give, before
// they reach the server.
func commonRefusals(op string, maxName int) []refusalCase {
	long := strings.Repeat("a", maxName+1)
	otherMember := []msg{{int32(syscall.EPERM), "denied, you may not create databases for other members"}}
	return []refusalCase{
		{name: "other member", caller: "regular1", target: proto.String("office1"),
			want: append([]msg{{0, op + " create db=office1 by regular1"}}, otherMember...)},
		{name: "office is not enough", caller: "office1", target: proto.String("regular1"),
			want: append([]msg{{0, op + " create db=regular1 by office1"}}, otherMember...)},
		{name: "trailing newline", caller: "syscom1", target: proto.String("regular1\n"), want: []msg{
			// The name is echoed escaped, never with its line break.
			{0, op + ` create db=regular1\n by syscom1`},
			{0, bySyscom},
			{int32(syscall.EINVAL), `invalid characters in username regular1\n`}}},
		invalidName(op, "too long", long, long),
		{name: "missing username", caller: "regular1", want: []msg{
			{int32(syscall.EINVAL), "missing required argument: username"}}},
	}
}

// downEngine is an engine whose server is not there.
type downEngine struct {
	d dialect
	e Engine
}

func downEngines(t *testing.T) []downEngine {
	t.Helper()
	db, err := OpenMariaDB(MariaDBConfig{AdminUser: "ceod_admin", AdminPassword: "sekrit-admin", Socket: "/nonexistent/mysqld.sock"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	pool, err := OpenPostgreSQL(t.Context(), "postgres://ceod:sekrit-admin@127.0.0.1:1/postgres?sslmode=disable&connect_timeout=2")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return []downEngine{{mysqlMsgs, &MariaDB{DB: db}}, {pgMsgs, &PostgreSQL{Pool: pool}}}
}

// A server that cannot be reached gives a status-1 reply (the legacy
// "exception occured"), no password, and no secret.
func TestServerDown(t *testing.T) {
	for _, x := range downEngines(t) {
		t.Run(x.d.op, func(t *testing.T) {
			h := mustNew(t, Deps{Dir: (&opstest.Fake{}).AddUser(authz.User{Name: "alice"})}, x.e)
			got, pw := call(t, x.d, h, "alice", proto.String("alice"))
			wantMsgs(t, got,
				msg{0, x.d.op + " create db=alice by alice"},
				msg{0, "user alice creating database for self"},
				msg{1, "exception occured creating database: connecting: server unavailable"})
			if pw != nil {
				t.Error("failure carries a password")
			}
		})
	}
}

func TestDirectoryOutage(t *testing.T) {
	for _, x := range downEngines(t) {
		t.Run(x.d.op, func(t *testing.T) {
			h := mustNew(t, Deps{Dir: &opstest.Fake{Err: errors.New("ldap down")}}, x.e)
			got, pw := call(t, x.d, h, "syscom1", proto.String("alice"))
			wantMsgs(t, got,
				msg{0, x.d.op + " create db=alice by syscom1"},
				msg{ops.ELDAP, "unable to check authorization for syscom1: directory error"})
			if pw != nil {
				t.Error("failure carries a password")
			}
		})
	}
}

// account adds an LDAP account with a fresh name: the op makes databases
// only for names that exist.
func account(t *testing.T, r *realm.Realm, prefix string) string {
	t.Helper()
	name := opstest.UniqueName(prefix)
	opstest.AddAccount(t, r, opstest.Account{Name: name, UID: opstest.UniqueUID()})
	return name
}

// Legacy made nothing for a name with no account: "user X does not
// exist", even for syscom.
func TestNoSuchUser(t *testing.T) {
	dir := (&opstest.Fake{}).AddToGroup("syscom", "syscom1")
	for _, x := range downEngines(t) {
		t.Run(x.d.op, func(t *testing.T) {
			h := mustNew(t, Deps{Dir: dir}, x.e)
			got, pw := call(t, x.d, h, "syscom1", proto.String("nobody"))
			wantMsgs(t, got,
				msg{0, x.d.op + " create db=nobody by syscom1"},
				msg{0, "user syscom1 is on systems committee"},
				msg{int32(syscall.ENOENT), "user nobody does not exist"})
			if pw != nil {
				t.Error("refusal carries a password")
			}
		})
	}
}

func TestMalformedRequest(t *testing.T) {
	for _, x := range downEngines(t) {
		h := mustNew(t, Deps{Dir: &opstest.Fake{}}, x.e)
		if _, err := h.Serve(t.Context(), ops.Request{Caller: ops.Caller{User: "a"}, Body: []byte{0x0a, 0x05, 'a'}}); err == nil {
			t.Errorf("%s: truncated request accepted", x.d.op)
		}
	}
}

func TestNewRefusesMissingDeps(t *testing.T) {
	for _, e := range []Engine{&MariaDB{}, &PostgreSQL{}, nil} {
		if _, err := New(Deps{Dir: &opstest.Fake{}}, e); err == nil {
			t.Errorf("New with engine %T without its pool: no error", e)
		}
	}
	if _, err := New(Deps{}, &MariaDB{}); err == nil {
		t.Error("New without a directory: no error")
	}
}
