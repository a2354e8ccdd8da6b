package ceopb

import (
	"testing"

	"google.golang.org/protobuf/proto"
)

// fuzzTypes are the messages FuzzDecode exercises, selected by index.
var fuzzTypes = []func() proto.Message{
	func() proto.Message { return new(StatusMessage) },
	func() proto.Message { return new(AddUser) },
	func() proto.Message { return new(AddUserResponse) },
	func() proto.Message { return new(UpdateMail) },
	func() proto.Message { return new(UpdateMailResponse) },
	func() proto.Message { return new(AddMySQLUser) },
	func() proto.Message { return new(AddMySQLUserResponse) },
	func() proto.Message { return new(AddPostgreSQLUser) },
	func() proto.Message { return new(AddPostgreSQLUserResponse) },
	func() proto.Message { return new(PingResponse) },
}

// FuzzDecode checks decode -> encode -> decode is stable for every message
// type: whatever decodes must re-encode (required fields present) and decode
// back to an equal message, and deterministic encoding must be a fixed point.
func FuzzDecode(f *testing.F) {
	for _, v := range loadVectors(f) {
		for i, nm := range fuzzTypes {
			if string(nm().ProtoReflect().Descriptor().Name()) == v.typeName {
				f.Add(v.wire, uint8(i))
			}
		}
	}
	f.Add([]byte{0x08, 0x07}, uint8(1))
	f.Add([]byte{0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f}, uint8(2))
	f.Fuzz(func(t *testing.T, in []byte, which uint8) {
		newMsg := fuzzTypes[int(which)%len(fuzzTypes)]
		m := newMsg()
		if err := proto.Unmarshal(in, m); err != nil {
			return
		}
		b, err := deterministic.Marshal(m)
		if err != nil {
			t.Fatalf("decoded %v but cannot encode it: %v", m, err)
		}
		m2 := newMsg()
		if err := proto.Unmarshal(b, m2); err != nil {
			t.Fatalf("re-decode of %x: %v", b, err)
		}
		if !proto.Equal(m, m2) {
			t.Fatalf("round trip changed %v to %v", m, m2)
		}
		b2, err := deterministic.Marshal(m2)
		if err != nil || string(b2) != string(b) {
			t.Fatalf("deterministic encoding not stable: %x then %x (%v)", b, b2, err)
		}
	})
}
