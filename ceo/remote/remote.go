// Package remote sends the front end's account operations to ceod
// through the ceoc relay library (adduser, mail, mysql, postgresql),
// encoding the legacy protobuf requests and turning the replies' status
// messages into errors, and writes the database info files the legacy
// front end left in a user's home directory.
package remote

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/csclub/ceo/wire/ceopb"
)

// Caller sends one op; *ceoc.Client implements it.
type Caller interface {
	Call(ctx context.Context, op string, request []byte) ([]byte, error)
}

// Status is one step's outcome, as ceod reports it.
type Status struct {
	Code    int32 // 0 success, else an errno or a legacy code
	Message string
}

// OpError is a reply whose status messages report a failure. As the
// legacy front end did, any non-zero status fails the whole op and all
// messages are shown.
type OpError struct {
	Op       string
	Messages []Status
}

func (e *OpError) Error() string {
	var lines []string
	for _, m := range e.Messages {
		lines = append(lines, m.Message)
	}
	return e.Op + " failed:\n" + strings.Join(lines, "\n")
}

// Client sends ops with a Caller.
type Client struct{ c Caller }

// New returns a Client sending through c.
func New(c Caller) *Client { return &Client{c: c} }

func (c *Client) call(ctx context.Context, op string, req, rep proto.Message) error {
	b, err := proto.Marshal(req)
	if err != nil {
		return fmt.Errorf("%s: encoding the request: %w", op, err)
	}
	out, err := c.c.Call(ctx, op, b)
	if err != nil {
		return err // ceoc's errors already name the op and the host
	}
	if err := proto.Unmarshal(out, rep); err != nil {
		return fmt.Errorf("%s: ceod sent a reply that is not a %T: %w", op, rep, err)
	}
	return nil
}

func statuses(op string, ms []*ceopb.StatusMessage) ([]Status, error) {
	out := make([]Status, 0, len(ms))
	failed := false
	for _, m := range ms {
		out = append(out, Status{Code: m.GetStatus(), Message: m.GetMessage()})
		failed = failed || m.GetStatus() != 0
	}
	if failed {
		return out, &OpError{Op: op, Messages: out}
	}
	return out, nil
}

// Kind of account AddUser creates.
type Kind int

// Account kinds, as in AddUser.Type.
const (
	Member Kind = iota
	ClubRep
	Club
)

// NewAccount is what adduser needs. Password is required for members
// and club reps and must be empty for clubs.
type NewAccount struct {
	Kind     Kind
	Username string
	Password string
	Name     string
	Program  string
	Email    string // written to ~/.forward if set
}

// AddUser creates an account (adduser op) and returns ceod's step
// messages; a failed step gives an *OpError with all of them.
func (c *Client) AddUser(ctx context.Context, a NewAccount) ([]Status, error) {
	req := &ceopb.AddUser{Username: proto.String(a.Username), Realname: proto.String(a.Name)}
	switch a.Kind {
	case Member:
		req.Type = ceopb.AddUser_MEMBER.Enum()
	case ClubRep:
		req.Type = ceopb.AddUser_CLUB_REP.Enum()
	case Club:
		req.Type = ceopb.AddUser_CLUB.Enum()
		if a.Password != "" || a.Program != "" {
			return nil, errors.New("adduser: a club account has no password and no program")
		}
	default:
		return nil, fmt.Errorf("adduser: unknown account kind %d", a.Kind)
	}
	if a.Password != "" {
		req.Password = proto.String(a.Password)
	}
	if a.Program != "" {
		req.Program = proto.String(a.Program)
	}
	if a.Email != "" {
		req.Email = proto.String(a.Email)
	}
	var rep ceopb.AddUserResponse
	if err := c.call(ctx, "adduser", req, &rep); err != nil {
		return nil, err
	}
	out, err := statuses("adduser", rep.GetMessages())
	if err != nil && accountMade(out) {
		return out, nil // the failures are shown with the other messages
	}
	return out, err
}

// afterAccount are the adduser statuses of steps after the account
// exists that do not undo it: the quota (EQUOTA, legacy) and the members
// list subscription (ours, -6).
var afterAccount = map[int32]bool{-5: true, -6: true}

// accountMade reports whether every failure in an adduser reply is one
// that leaves the account made and working.
func accountMade(ms []Status) bool {
	for _, m := range ms {
		if m.Code != 0 && !afterAccount[m.Code] {
			return false
		}
	}
	return true
}

// SetForward sets (or, with "", removes) user's mail forward (mail op).
func (c *Client) SetForward(ctx context.Context, user, forward string) error {
	req := &ceopb.UpdateMail{Username: proto.String(user), Forward: proto.String(forward)}
	var rep ceopb.UpdateMailResponse
	if err := c.call(ctx, "mail", req, &rep); err != nil {
		return err
	}
	_, err := statuses("mail", rep.GetMessages())
	return err
}

// Database kinds.
const (
	MySQL      = "mysql"
	PostgreSQL = "postgresql"
)

// CreateDatabase creates (or resets the password of) user's database of
// kind MySQL or PostgreSQL and returns the new password.
func (c *Client) CreateDatabase(ctx context.Context, kind, user string) (string, error) {
	switch kind {
	case MySQL:
		return createDatabase(ctx, c, kind, &ceopb.AddMySQLUser{Username: proto.String(user)}, &ceopb.AddMySQLUserResponse{})
	case PostgreSQL:
		return createDatabase(ctx, c, kind, &ceopb.AddPostgreSQLUser{Username: proto.String(user)}, &ceopb.AddPostgreSQLUserResponse{})
	}
	return "", fmt.Errorf("unknown database kind %q", kind)
}

// createDatabase sends the database op kind's request req and returns
// the password of its reply rep.
func createDatabase[Resp interface {
	proto.Message
	GetMessages() []*ceopb.StatusMessage
	GetPassword() string
}](ctx context.Context, c *Client, kind string, req proto.Message, rep Resp) (string, error) {
	if err := c.call(ctx, kind, req, rep); err != nil {
		return "", err
	}
	if _, err := statuses(kind, rep.GetMessages()); err != nil {
		return "", err
	}
	if rep.GetPassword() == "" {
		return "", fmt.Errorf("%s: ceod reported success but sent no password", kind)
	}
	return rep.GetPassword(), nil
}
