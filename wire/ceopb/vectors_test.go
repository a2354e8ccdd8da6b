package ceopb

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"os"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
)

// vectorsPath holds the legacy golden vectors, copied from the shared
// reference so that every clone runs this test.
const vectorsPath = "testdata/legacy-protobuf.txt"

type vector struct {
	line     int
	label    string
	typeName string // e.g. "AddUser"
	text     string // protobuf text form
	wire     []byte
}

// loadVectors parses "LABEL | MESSAGE TYPE | text form | hex" lines,
// skipping blank lines and # comments.
func loadVectors(t testing.TB) []vector {
	t.Helper()
	f, err := os.Open(vectorsPath)
	if err != nil {
		t.Fatalf("vector file: %v", err)
	}
	defer f.Close()
	var vs []vector
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		parts := strings.Split(line, "|")
		if len(parts) != 4 {
			t.Fatalf("%s:%d: want 4 |-separated fields, got %d", vectorsPath, n, len(parts))
		}
		b, err := hex.DecodeString(strings.TrimSpace(parts[3]))
		if err != nil {
			t.Fatalf("%s:%d: bad hex: %v", vectorsPath, n, err)
		}
		vs = append(vs, vector{
			line:     n,
			label:    strings.TrimSpace(parts[0]),
			typeName: strings.TrimSpace(parts[1]),
			text:     strings.TrimSpace(parts[2]),
			wire:     b,
		})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(vs) == 0 {
		t.Fatalf("%s: no vectors", vectorsPath)
	}
	return vs
}

// newMessage returns an empty message of the ceo package's type name.
func newMessage(t testing.TB, name string) proto.Message {
	t.Helper()
	mt, err := protoregistry.GlobalTypes.FindMessageByName(protoreflect.FullName("ceo." + name))
	if err != nil {
		t.Fatalf("message type %q: %v", name, err)
	}
	return mt.New().Interface()
}

var deterministic = proto.MarshalOptions{Deterministic: true}

// TestVectors decodes every vector, checks it against the vector's text
// form, and re-encodes it to identical bytes; it also checks that the text
// form encodes to the same bytes.
func TestVectors(t *testing.T) {
	for _, v := range loadVectors(t) {
		t.Run(v.label, func(t *testing.T) {
			got := newMessage(t, v.typeName)
			if err := proto.Unmarshal(v.wire, got); err != nil {
				t.Fatalf("line %d: decode: %v", v.line, err)
			}
			want := newMessage(t, v.typeName)
			if err := prototext.Unmarshal([]byte(v.text), want); err != nil {
				t.Fatalf("line %d: text form: %v", v.line, err)
			}
			if !proto.Equal(got, want) {
				t.Fatalf("line %d: decoded %v, want %v", v.line, got, want)
			}
			for name, m := range map[string]proto.Message{"decoded": got, "from text": want} {
				b, err := deterministic.Marshal(m)
				if err != nil {
					t.Fatalf("line %d: encode %s: %v", v.line, name, err)
				}
				if !bytes.Equal(b, v.wire) {
					t.Fatalf("line %d: encode %s = %x, want %x", v.line, name, b, v.wire)
				}
			}
		})
	}
}

// TestVectorFields asserts fields directly through the generated getters,
// so a broken text parser could not hide a wrong schema.
func TestVectorFields(t *testing.T) {
	byLabel := map[string]vector{}
	for _, v := range loadVectors(t) {
		byLabel[v.label] = v
	}
	decode := func(label string, m proto.Message) {
		t.Helper()
		v, ok := byLabel[label]
		if !ok {
			t.Fatalf("vector %q missing", label)
		}
		if err := proto.Unmarshal(v.wire, m); err != nil {
			t.Fatalf("%s: %v", label, err)
		}
	}

	var au AddUser
	decode("adduser-member", &au)
	if au.GetType() != AddUser_MEMBER || au.GetUsername() != "test1" || au.GetPassword() != "hunter22" ||
		au.GetRealname() != "Test One" || au.GetProgram() != "MAT/Mathematics" || au.GetEmail() != "test1@example.com" {
		t.Errorf("adduser-member: %v", &au)
	}
	var club AddUser
	decode("adduser-club", &club)
	if club.GetType() != AddUser_CLUB || club.Password != nil || club.Program != nil || club.Email != nil {
		t.Errorf("adduser-club: %v", &club)
	}
	var rep AddUser
	decode("adduser-clubrep", &rep)
	if rep.GetType() != AddUser_CLUB_REP || rep.GetUsername() != "rep1" {
		t.Errorf("adduser-clubrep: %v", &rep)
	}
	var uni AddUser
	decode("adduser-unicode", &uni)
	if uni.GetRealname() != "Zoë Ünïcode" {
		t.Errorf("adduser-unicode realname = %q", uni.GetRealname())
	}

	var aur AddUserResponse
	decode("adduser-response", &aur)
	if len(aur.Messages) != 2 || aur.Messages[0].GetStatus() != 0 || aur.Messages[1].GetStatus() != -2 ||
		aur.Messages[1].GetMessage() != "unable to create kerberos principal test1" {
		t.Errorf("adduser-response: %v", &aur)
	}

	var clear, none UpdateMail
	decode("updatemail-clear", &clear)
	decode("updatemail-noforward", &none)
	if clear.Forward == nil || clear.GetForward() != "" || none.Forward != nil {
		t.Errorf("forward presence: clear=%v noforward=%v", clear.Forward, none.Forward)
	}

	var myr AddMySQLUserResponse
	decode("mysql-response", &myr)
	if myr.GetPassword() != "abcdefghij0123456789" || len(myr.Messages) != 1 || myr.Messages[0].GetMessage() != "ok" {
		t.Errorf("mysql-response: %v", &myr)
	}

	var st StatusMessage
	decode("status-negative", &st)
	if st.GetStatus() != -5 {
		t.Errorf("status-negative status = %d", st.GetStatus())
	}
	if w := byLabel["status-negative"].wire; w[1] != 0xfb || len(w) < 12 || w[10] != 0x01 {
		t.Errorf("status -5 is not a 10-byte varint: % x", w[:12])
	}
}

// TestRequiredFields checks a missing required field fails both ways with
// an error that names the field.
func TestRequiredFields(t *testing.T) {
	tests := []struct {
		name  string
		msg   proto.Message
		wire  string // hex; the message encoded without the field
		field string
	}{
		{"AddUser.type", &AddUser{Username: proto.String("test1")}, "12057465737431", "ceo.AddUser.type"},
		{"AddUser.username", &AddUser{Type: AddUser_MEMBER.Enum()}, "0801", "ceo.AddUser.username"},
		{"StatusMessage.message", &StatusMessage{Status: proto.Int32(0)}, "0800", "ceo.StatusMessage.message"},
		{"StatusMessage.status", &StatusMessage{Message: proto.String("x")}, "120178", "ceo.StatusMessage.status"},
		{"UpdateMail.username", &UpdateMail{Forward: proto.String("a@b")}, "1203614062", "ceo.UpdateMail.username"},
		{"AddMySQLUser.username", &AddMySQLUser{}, "", "ceo.AddMySQLUser.username"},
		{"AddPostgreSQLUser.username", &AddPostgreSQLUser{}, "", "ceo.AddPostgreSQLUser.username"},
		{"PingResponse.principal", &PingResponse{}, "", "ceo.PingResponse.principal"},
		{"nested StatusMessage", &AddUserResponse{Messages: []*StatusMessage{{Status: proto.Int32(1)}}}, "0a020801", "ceo.StatusMessage.message"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := deterministic.Marshal(tc.msg); err == nil || !strings.Contains(err.Error(), tc.field) {
				t.Errorf("marshal: err = %v, want one naming %s", err, tc.field)
			}
			b, err := hex.DecodeString(tc.wire)
			if err != nil {
				t.Fatal(err)
			}
			m := tc.msg.ProtoReflect().New().Interface()
			if err := proto.Unmarshal(b, m); err == nil || !strings.Contains(err.Error(), tc.field) {
				t.Errorf("unmarshal %s: err = %v, want one naming %s", tc.wire, err, tc.field)
			}
		})
	}
}

// TestNewMessages pins the wire form of the messages that are not in the
// legacy vector file.
func TestNewMessages(t *testing.T) {
	tests := []struct {
		msg  proto.Message
		wire string
	}{
		{&AddPostgreSQLUser{Username: proto.String("club1")}, "0a05636c756231"},
		{&AddPostgreSQLUserResponse{
			Messages: []*StatusMessage{{Status: proto.Int32(0), Message: proto.String("ok")}},
			Password: proto.String("abcdefghij0123456789"),
		}, "0a06080012026f6b12146162636465666768696a30313233343536373839"},
		{&PingResponse{Principal: proto.String("alice@CSCLUB.INTERNAL")}, "0a15616c69636540435343" + "4c55422e494e5445524e414c"},
	}
	for _, tc := range tests {
		b, err := deterministic.Marshal(tc.msg)
		if err != nil {
			t.Fatal(err)
		}
		if hex.EncodeToString(b) != tc.wire {
			t.Errorf("%T = %x, want %s", tc.msg, b, tc.wire)
		}
		back := tc.msg.ProtoReflect().New().Interface()
		if err := proto.Unmarshal(b, back); err != nil || !proto.Equal(back, tc.msg) {
			t.Errorf("%T round trip: %v, %v", tc.msg, back, err)
		}
	}
}

// TestUnknownFieldsSkipped: a newer peer may add fields; they must not
// break decoding and must survive a re-encode.
func TestUnknownFieldsSkipped(t *testing.T) {
	b, _ := hex.DecodeString("0a05636c756231" + "1a03787878" + "f80101")
	var m AddMySQLUser
	if err := proto.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if m.GetUsername() != "club1" {
		t.Fatalf("username = %q", m.GetUsername())
	}
	out, err := deterministic.Marshal(&m)
	if err != nil || !bytes.Equal(out, b) {
		t.Fatalf("re-encode = %x, %v; want %x", out, err, b)
	}
}

func TestEnumValues(t *testing.T) {
	if AddUser_MEMBER != 1 || AddUser_CLUB != 2 || AddUser_CLUB_REP != 3 {
		t.Fatal("AddUser.Type values changed")
	}
	// Go's protobuf runtime treats proto2 enums as open: an unknown value
	// decodes into the field instead of the unknown-field set. Callers
	// must validate AddUser.type themselves; this pins that behaviour.
	var m AddUser
	if err := proto.Unmarshal([]byte{0x08, 0x07, 0x12, 0x01, 'x'}, &m); err != nil {
		t.Fatalf("unknown enum value: %v", err)
	}
	if m.GetType() != AddUser_Type(7) {
		t.Fatalf("type = %v, want 7", m.GetType())
	}
}
