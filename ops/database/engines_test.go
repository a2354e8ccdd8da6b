package database

import (
	"bytes"
	"strings"
	"syscall"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/csclub/ceo/internal/opstest"
	"github.com/csclub/ceo/internal/realm"
	"github.com/csclub/ceo/ops"
	"github.com/csclub/ceo/ops/authz"
	"github.com/csclub/ceo/wire"
)

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

func self(name string) string { return "user " + name + " creating database for self" }

const bySyscom = "user syscom1 is on systems committee"

// refusedName is the refusal, after authorization, of name asked for by
// caller (syscom1 or name itself).
func refusedName(op, label, caller, name string, status syscall.Errno, reason string) refusalCase {
	how := bySyscom
	if caller == name {
		how = self(name)
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
		wantMsgs(t, got, created(e.d.op, name, name, self(name))...)
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
			msg{0, self(name)},
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
			msg{int32(syscall.EPERM), "denied, user office1 is not in club group " + club})

		got, pw = call(t, e.d, e.h, "regular1", proto.String(club))
		wantMsgs(t, got, created(e.d.op, "regular1", club, "user regular1 is in club group "+club)...)
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
