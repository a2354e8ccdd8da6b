// Package opexec runs legacy-style op programs: $CEO_LIB_DIR/op-NAME,
// executed as the user named in the ops file, with the request on stdin
// and the reply read from stdout.
//
// The contract with the program is the legacy one: the process runs
// with exactly three environment variables, LANG=C, CEO_USER (the
// authenticated caller without realm) and CEO_CONFIG_DIR; its
// supplementary groups, group and user are those of the run-as user
// (initgroups, setgid, setuid); it is started directly, never through a
// shell. A non-zero exit status is a failure. Unlike the legacy daemon,
// the reply is bounded in size and the program (with its process group)
// is killed when the op's context ends.
package opexec

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/user"
	"strconv"
	"syscall"

	"github.com/csclub/ceo/ops"
	"github.com/csclub/ceo/ops/procrun"
	"github.com/csclub/ceo/wire"
)

// DefaultMaxOutput bounds a reply read from a program's stdout when
// Program.MaxOutput is zero. It is the legacy frame limit: a larger reply
// could not be sent anyway.
const DefaultMaxOutput = wire.DefaultMaxFrame

// maxStderr bounds how much of a program's stderr is kept for the log.
const maxStderr = 4096

// Program is an ops.Handler that runs one legacy op program.
// A Program must not be modified once in use.
type Program struct {
	// Path is the program to execute, normally $CEO_LIB_DIR/op-NAME.
	Path string
	// RunAs is the user the program runs as (the ops file's USER); it
	// is looked up on every call, so account changes need no restart.
	RunAs string
	// ConfigDir is passed to the program as CEO_CONFIG_DIR.
	ConfigDir string
	// MaxOutput bounds the reply. Zero means DefaultMaxOutput. A program
	// writing more fails the op.
	MaxOutput int
	// Log receives the program's stderr (at most 4 KiB of it) when it is
	// not empty. Nil means stderr is discarded unless the op fails, in
	// which case it is part of the returned error.
	Log *slog.Logger
}

var _ ops.Handler = (*Program)(nil)

// ExitError reports a program that exited unsuccessfully.
type ExitError struct {
	Path   string
	Err    error  // usually an *exec.ExitError
	Stderr string // the start of the program's stderr
}

func (e *ExitError) Error() string {
	if e.Stderr == "" {
		return fmt.Sprintf("opexec: %s: %v", e.Path, e.Err)
	}
	return fmt.Sprintf("opexec: %s: %v: stderr %q", e.Path, e.Err, e.Stderr)
}

func (e *ExitError) Unwrap() error { return e.Err }

// Serve runs the program for one request. It returns the program's
// stdout if the program exits with status 0. It returns an error that
// wraps ctx.Err() if the context ended first (the program's process
// group is then killed), an *ExitError for any other failure of the
// program, and a plain error if the program could not be started.
func (p *Program) Serve(ctx context.Context, req ops.Request) (ops.Reply, error) {
	cred, err := credential(p.RunAs)
	if err != nil {
		return ops.Reply{}, err
	}
	maxOut := p.MaxOutput
	if maxOut <= 0 {
		maxOut = DefaultMaxOutput
	}
	res, err := procrun.Run(ctx, procrun.Cmd{
		Path:       p.Path,
		Env:        []string{"LANG=C", "CEO_USER=" + req.Caller.User, "CEO_CONFIG_DIR=" + p.ConfigDir},
		Dir:        "/",
		Stdin:      bytes.NewReader(req.Body),
		StdoutMax:  maxOut,
		StderrMax:  maxStderr,
		Credential: cred,
	})
	if p.Log != nil && len(res.Stderr) > 0 {
		p.Log.LogAttrs(ctx, slog.LevelInfo, "op program stderr",
			slog.String("program", p.Path), slog.String("stderr", string(res.Stderr)))
	}
	if err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return ops.Reply{}, fmt.Errorf("opexec: %s killed: %w", p.Path, cerr)
		}
		if !res.Started {
			return ops.Reply{}, fmt.Errorf("opexec: starting %s: %w", p.Path, err)
		}
		if res.Overflow {
			err = fmt.Errorf("reply larger than %d bytes: %w", maxOut, err)
		}
		return ops.Reply{}, &ExitError{Path: p.Path, Err: err, Stderr: string(res.Stderr)}
	}
	return ops.Reply{Body: res.Stdout}, nil
}

// credential returns the credential of user name: its uid, primary gid
// and supplementary groups (what initgroups would set). When ceod is not
// root it can only run programs as itself, without changing groups.
func credential(name string) (*syscall.Credential, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return nil, fmt.Errorf("opexec: looking up run-as user: %w", err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("opexec: user %s has a non-numeric uid or gid", name)
	}
	if os.Geteuid() != 0 {
		if uint64(os.Geteuid()) != uid {
			return nil, fmt.Errorf("opexec: cannot run an op as %s: ceod is not running as root", name)
		}
		return nil, nil // run as ourselves
	}
	gids, err := u.GroupIds()
	if err != nil {
		return nil, fmt.Errorf("opexec: looking up groups of %s: %w", name, err)
	}
	groups := make([]uint32, 0, len(gids))
	for _, g := range gids {
		n, err := strconv.ParseUint(g, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("opexec: user %s has a non-numeric group id %q", name, g)
		}
		groups = append(groups, uint32(n))
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: groups}, nil
}
