package remote

import (
	"context"
	"errors"

	"google.golang.org/protobuf/proto"

	"github.com/csclub/ceo/wire/ceopb"
)

// member sends one member op and returns ceod's messages; a failed step
// gives an *OpError with all of them.
func (c *Client) member(ctx context.Context, op string, req proto.Message) (*ceopb.MemberResponse, []Status, error) {
	var rep ceopb.MemberResponse
	if err := c.call(ctx, op, req, &rep); err != nil {
		return nil, nil, err
	}
	st, err := statuses(op, rep.GetMessages())
	return &rep, st, err
}

// Renew registers user for terms (op renew), as a club rep if clubRep.
func (c *Client) Renew(ctx context.Context, user string, terms []string, clubRep bool) ([]Status, error) {
	_, st, err := c.member(ctx, "renew", &ceopb.Renew{Username: proto.String(user), Terms: terms, ClubRep: proto.Bool(clubRep)})
	return st, err
}

// ChangeGroup adds users to group, or removes them, with the cascades
// (op group).
func (c *Client) ChangeGroup(ctx context.Context, group string, add bool, users []string) ([]Status, error) {
	action := ceopb.GroupChange_REMOVE
	if add {
		action = ceopb.GroupChange_ADD
	}
	_, st, err := c.member(ctx, "group", &ceopb.GroupChange{Action: action.Enum(), Group: proto.String(group), Usernames: users})
	return st, err
}

// SetPosition makes users the holders of position (op positions).
func (c *Client) SetPosition(ctx context.Context, position string, users []string) ([]Status, error) {
	_, st, err := c.member(ctx, "positions", &ceopb.SetPosition{Position: proto.String(position), Usernames: users})
	return st, err
}

// SetShell changes user's login shell (op shell).
func (c *Client) SetShell(ctx context.Context, user, shell string) ([]Status, error) {
	_, st, err := c.member(ctx, "shell", &ceopb.ChangeShell{Username: proto.String(user), Shell: proto.String(shell)})
	return st, err
}

// SetProgram sets user's program of study (op program); "" removes it.
func (c *Client) SetProgram(ctx context.Context, user, program string) ([]Status, error) {
	_, st, err := c.member(ctx, "program", &ceopb.SetProgram{Username: proto.String(user), Program: proto.String(program)})
	return st, err
}

// ResetPassword sets user's password (op passwd), to password or, if it
// is "", to a random one that it returns.
func (c *Client) ResetPassword(ctx context.Context, user, password string, needChange bool) (string, []Status, error) {
	req := &ceopb.ResetPassword{Username: proto.String(user), NeedChange: proto.Bool(needChange)}
	if password != "" {
		req.Password = proto.String(password)
	}
	rep, st, err := c.member(ctx, "passwd", req)
	if err != nil {
		return "", st, err
	}
	if password == "" {
		if rep.GetPassword() == "" {
			return "", st, errors.New("passwd: ceod reported success but sent no password")
		}
		return rep.GetPassword(), st, nil
	}
	return password, st, nil
}

// DeleteUser deletes user's account (op deluser), and its home if
// removeHome.
func (c *Client) DeleteUser(ctx context.Context, user string, removeHome bool) ([]Status, error) {
	_, st, err := c.member(ctx, "deluser", &ceopb.DeleteUser{Username: proto.String(user), RemoveHome: proto.Bool(removeHome)})
	return st, err
}
