package wire

import "fmt"

// MsgType is the second header word of a frame: MsgAuth, MsgExplode or an
// op id from the ops table.
type MsgType uint32

// Message types. The op ids are those of the ops shipped with the legacy
// system; sites may configure others.
const (
	// MsgAuth carries a GSS-API context token. Note: 0x08000000, not
	// 0x80000000.
	MsgAuth MsgType = 0x08000000
	// MsgExplode is reserved; the legacy daemon treats it as an unknown op.
	MsgExplode MsgType = 0x08000001

	MsgAddUser MsgType = 0x01 // AddUser -> AddUserResponse
	MsgMail    MsgType = 0x02 // UpdateMail -> UpdateMailResponse
	MsgMySQL   MsgType = 0x03 // AddMySQLUser -> AddMySQLUserResponse
	MsgMailman MsgType = 0x04 // "username\n" -> plain text
)

var msgTypeNames = map[MsgType]string{
	MsgAuth:    "auth",
	MsgExplode: "explode",
	MsgAddUser: "adduser",
	MsgMail:    "mail",
	MsgMySQL:   "mysql",
	MsgMailman: "mailman",
}

// String returns the legacy name of a known message type ("auth",
// "adduser", ...) and "msgtype(0x...)" for any other value.
func (t MsgType) String() string {
	if s, ok := msgTypeNames[t]; ok {
		return s
	}
	return fmt.Sprintf("msgtype(%#x)", uint32(t))
}
