package adduser_test

import (
	"google.golang.org/protobuf/proto"

	"github.com/csclub/ceo/ops"
	"github.com/csclub/ceo/wire/ceopb"
)

type adduserMsg = ceopb.AddUser

func protoMarshal(m *ceopb.AddUser) ([]byte, error) { return proto.Marshal(m) }

func opsRequest(user, principal string, body []byte) ops.Request {
	return ops.Request{Caller: ops.Caller{User: user, Principal: principal}, Body: body}
}

func withPassword(m *ceopb.AddUser, pw string) *ceopb.AddUser {
	m.Password = proto.String(pw)
	return m
}
func withProgram(m *ceopb.AddUser, p string) *ceopb.AddUser { m.Program = proto.String(p); return m }
func withType(m *ceopb.AddUser, typ int32) *ceopb.AddUser {
	m.Type = ceopb.AddUser_Type(typ).Enum()
	return m
}
