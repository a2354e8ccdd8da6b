package database

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/csclub/ceo/internal/opstest"
	"github.com/csclub/ceo/internal/realm"
	"github.com/csclub/ceo/ops"
	"github.com/csclub/ceo/ops/authz"
	"github.com/csclub/ceo/wire"
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
	want = authzLines(t, want)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("reply messages:\n got %v\nwant %v", got, want)
	}
}

var passwordShape = regexp.MustCompile(`^[A-Za-z0-9]{20}$`)

// mustNew is New for a test.
func mustNew(t testing.TB, d Deps, e Engine) ops.Handler {
	t.Helper()
	if d.ACL == nil {
		d.ACL = opstest.DefaultACL(t)
	}
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
	otherMember := []msg{denied}
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
				msg{0, bySelf},
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
				msg{0, bySyscom},
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
		if _, err := New(Deps{Dir: &opstest.Fake{}, ACL: opstest.DefaultACL(t)}, e); err == nil {
			t.Errorf("New with engine %T without its pool: no error", e)
		}
	}
	if _, err := New(Deps{}, &MariaDB{}); err == nil {
		t.Error("New without a directory: no error")
	}
	if _, err := New(Deps{Dir: &opstest.Fake{}}, &MariaDB{}); err == nil || !strings.Contains(err.Error(), "ACL") {
		t.Errorf("New without an ACL: %v", err)
	}
}

// engineEnv is one engine on the realm's server as the tests that hold
// for both engines drive it; mariaEnv.engine and pgEnv.engine make one.
type engineEnv struct {
	d       dialect
	id      wire.MsgType // the op's message type in ceod
	maxName int
	r       *realm.Realm
	h       ops.Handler // the op as deployed (PostgreSQL locks postgres and template1)
	logs    *bytes.Buffer
	// state is every account and database with its secret and grants:
	// what a refusal must leave alone.
	state func(t *testing.T) string
	// login connects as user with pw to database db.
	login func(t *testing.T, user, pw, db string) error
	// use proves that user owns its database: it writes a row to table
	// keep and reads it back.
	use func(t *testing.T, user, pw string)
	// kept reads back the row use wrote.
	kept func(t *testing.T, user, pw string) (string, error)
	// confined checks that user reaches nothing but its own database.
	confined func(t *testing.T, user, pw string)
	// code is the server's error code in err, "" for none.
	code func(err error) string
	// badPassword is the code of a login with a wrong password.
	badPassword string
	// rerun is the last message of a re-run: legacy op-mysql reported a
	// creation.
	rerun string
	// secrets are what the log must never hold, given a new password.
	secrets func(pw string) []string
	// limited is the engine on an admin that may not finish the job;
	// failure is the start of the message that failure gives.
	limited func(t *testing.T) Engine
	failure string
	// refusals are the engine's own refusals, beyond commonRefusals.
	refusals func(t *testing.T) []refusalCase
	// drop removes name's database and account, if there.
	drop func(t *testing.T, name string)
}

// engines are both engines on the realm's servers.
func engines(t *testing.T) []*engineEnv {
	return []*engineEnv{newMariaEnv(t).engine(t), newPGEnv(t).engine(t)}
}

// forEngines runs f for each engine in a subtest named by its op.
func forEngines(t *testing.T, f func(t *testing.T, e *engineEnv)) {
	for _, e := range engines(t) {
		t.Run(e.d.op, func(t *testing.T) { f(t, e) })
	}
}

// created is the reply of a successful request for name by caller; how
// says why caller may.
func created(op, caller, name, how string) []msg {
	return []msg{{0, op + " create db=" + name + " by " + caller}, {0, how}, {0, "successfully created database " + name}}
}

// bySelf, bySyscom, byClub and denied stand for a reply's authorization
// line, which wantMsgs spells out from the line before it ("OP create
// db=T by C"): allowed by the shipped ceod.acl's rule "OP self", "OP
// group:syscom" or "OP club-member", or refused by its default denial.
const (
	bySelf   = "\x00self"
	bySyscom = "\x00group:syscom"
	byClub   = "\x00club-member"
)

var denied = msg{int32(syscall.EPERM), "\x00"}

func authzLines(t *testing.T, want []msg) []msg {
	out := slices.Clone(want)
	for i, m := range out {
		who, ok := strings.CutPrefix(m.message, "\x00")
		if !ok || i == 0 {
			continue
		}
		op, rest, _ := strings.Cut(out[i-1].message, " create db=")
		j := strings.LastIndex(rest, " by ")
		target, caller := rest[:j], rest[j+len(" by "):]
		if who == "" {
			out[i].message = caller + " may not " + op + " " + target + ": no rule of " + op + " in ceod.acl allows it (default deny)"
		} else {
			out[i].message = caller + " allowed to " + op + " " + target + " by " + opstest.Rule(t, op+" "+who)
		}
	}
	return out
}

// refusedName is the refusal, after authorization, of name asked for by
// caller (syscom1 or name itself).
func refusedName(op, label, caller, name string, status syscall.Errno, reason string) refusalCase {
	how := bySyscom
	if caller == name {
		how = bySelf
	}
	return refusalCase{name: label, caller: caller, target: proto.String(name),
		want: []msg{{0, op + " create db=" + name + " by " + caller}, {0, how}, {int32(status), reason}}}
}

func invalidName(op, label, caller, name string) refusalCase {
	return refusedName(op, label, caller, name, syscall.EINVAL, "invalid characters in username "+name)
}

func reservedName(op, caller, name string) refusalCase {
	return refusedName(op, "reserved "+name, caller, name, syscall.EINVAL, "username "+name+" is reserved")
}

// refused runs a request that must be refused with want and checks that
// it changed nothing on the server.
func (e *engineEnv) refused(t *testing.T, h ops.Handler, caller string, target *string, want ...msg) {
	t.Helper()
	before := e.state(t)
	got, pw := call(t, e.d, h, caller, target)
	wantMsgs(t, got, want...)
	if pw != nil {
		t.Error("a refusal carries a password")
	}
	if after := e.state(t); after != before {
		t.Errorf("refusal changed the server:\n%s\n---\n%s", before, after)
	}
}

func TestCreateSelfAndLogin(t *testing.T) {
	forEngines(t, func(t *testing.T, e *engineEnv) {
		name := account(t, e.r, "c")
		got, pw := call(t, e.d, e.h, name, proto.String(name))
		wantMsgs(t, got, created(e.d.op, name, name, bySelf)...)
		if pw == nil || !passwordShape.MatchString(*pw) {
			t.Fatalf("password %v does not look like 20 alphanumerics", pw)
		}
		e.use(t, name, *pw)
		e.confined(t, name, *pw)
		logs := e.logs.String()
		for _, s := range e.secrets(*pw) {
			if strings.Contains(logs, s) {
				t.Errorf("a secret (%.12s...) was logged:\n%s", s, logs)
			}
		}
		if !strings.Contains(logs, "outcome=ok") {
			t.Errorf("no log record of the op:\n%s", logs)
		}
	})
}

func TestRerunResetsPassword(t *testing.T) {
	forEngines(t, func(t *testing.T, e *engineEnv) {
		name := account(t, e.r, "r")
		_, pw1 := call(t, e.d, e.h, name, proto.String(name))
		if pw1 == nil {
			t.Fatal("no password")
		}
		e.use(t, name, *pw1)

		got, pw2 := call(t, e.d, e.h, name, proto.String(name))
		wantMsgs(t, got,
			msg{0, e.d.op + " create db=" + name + " by " + name},
			msg{0, bySelf},
			msg{0, e.rerun + name})
		if pw2 == nil || *pw2 == *pw1 {
			t.Fatalf("re-run did not give a new password: %v", pw2)
		}
		if err := e.login(t, name, *pw1, name); e.code(err) != e.badPassword {
			t.Errorf("old password: %v, want %s", err, e.badPassword)
		}
		if v, err := e.kept(t, name, *pw2); err != nil || v != "hello" {
			t.Errorf("data after reset: %q %v", v, err)
		}
	})
}

func TestSyscomAndClubs(t *testing.T) {
	forEngines(t, func(t *testing.T, e *engineEnv) {
		member := account(t, e.r, "mem")
		club := opstest.UniqueName("club")
		opstest.AddAccount(t, e.r, opstest.Account{Name: club, UID: opstest.UniqueUID(), Club: true, Members: []string{"regular1"}})

		got, pw := call(t, e.d, e.h, "syscom1", proto.String(member))
		wantMsgs(t, got, created(e.d.op, "syscom1", member, bySyscom)...)
		if pw == nil {
			t.Fatal("no password")
		}
		e.use(t, member, *pw)

		// office1 is not in the club: refused, nothing made.
		e.refused(t, e.h, "office1", proto.String(club),
			msg{0, e.d.op + " create db=" + club + " by office1"},
			denied)

		got, pw = call(t, e.d, e.h, "regular1", proto.String(club))
		wantMsgs(t, got, created(e.d.op, "regular1", club, byClub)...)
		if pw == nil {
			t.Fatal("no password")
		}
		e.use(t, club, *pw)
	})
}

func TestRefusalsChangeNothing(t *testing.T) {
	forEngines(t, func(t *testing.T, e *engineEnv) {
		for _, tc := range append(commonRefusals(e.d.op, e.maxName), e.refusals(t)...) {
			t.Run(tc.name, func(t *testing.T) {
				e.refused(t, e.h, tc.caller, tc.target, tc.want...)
				if tc.after != nil {
					tc.after(t)
				}
			})
		}
	})
}

// A failure half-way leaves nothing behind.
func TestFailureRollsBack(t *testing.T) {
	forEngines(t, func(t *testing.T, e *engineEnv) {
		name := opstest.UniqueName("f")
		h := mustNew(t, Deps{Dir: (&opstest.Fake{}).AddUser(authz.User{Name: name})}, e.limited(t))
		before := e.state(t)
		got, pw := call(t, e.d, h, name, proto.String(name))
		if len(got) != 3 || got[2].status != 1 || !strings.HasPrefix(got[2].message, e.failure) {
			t.Errorf("reply %v, want a status-1 failure %q...", got, e.failure)
		}
		if pw != nil {
			t.Error("failure carries a password")
		}
		if after := e.state(t); after != before {
			t.Errorf("failure left changes:\n%s\n---\n%s", before, after)
		}
	})
}
