// Package procrun runs a child program the way ceod must: directly (no
// shell), in a process group of its own that is killed as a whole when
// the context ends, with a bound on how long Wait waits for pipes that
// a grandchild keeps open, and with bounded output. ceod/opexec, the
// adduser hooks and ops/kadmin all run their programs through it.
package procrun

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// WaitDelay is how long Run waits for the output pipes to close after
// the program exited or was killed: a grandchild holding stdout open
// must not keep the caller waiting.
const WaitDelay = 2 * time.Second

// ErrOutputTooLarge is the stdout writer's error once a Cmd's
// StdoutMax is exceeded without StdoutTruncate.
var ErrOutputTooLarge = errors.New("procrun: output too large")

// Cmd is one program run. Path and Args are the program and its
// arguments (without argv[0]); Env is its whole environment.
type Cmd struct {
	Path  string
	Args  []string
	Env   []string
	Dir   string
	Stdin io.Reader
	// StdoutMax and StderrMax bound what is kept of each stream. A
	// program writing more than StdoutMax to stdout fails (EPIPE for it,
	// ErrOutputTooLarge in Result.Overflow) unless StdoutTruncate is
	// set; stderr past StderrMax is always dropped silently.
	StdoutMax      int
	StdoutTruncate bool
	StderrMax      int
	// Combined sends stderr to the stdout buffer (bounded by StdoutMax,
	// truncating).
	Combined bool
	// Credential, if set, runs the program as another user.
	Credential *syscall.Credential
	// NewSession detaches the program from any controlling terminal
	// (setsid); otherwise it only gets a process group of its own.
	NewSession bool
	// KillWithParent asks the kernel to SIGKILL the program if ceod
	// dies first, so a killed ceod leaves no kadmin half-way through a
	// change that nobody will record.
	KillWithParent bool
}

// Result is what a run produced.
type Result struct {
	Stdout, Stderr []byte
	// Overflow reports that stdout exceeded StdoutMax.
	Overflow bool
	// Started reports whether the program was started at all.
	Started bool
}

// Run runs c until it exits or ctx ends; then the whole process group is
// killed. The error is the program's (an *exec.ExitError for a
// non-zero status), or wraps ctx.Err() if the context ended first.
func Run(ctx context.Context, c Cmd) (Result, error) {
	cmd := exec.CommandContext(ctx, c.Path, c.Args...)
	c.setup(cmd)
	cmd.Stdin = c.Stdin
	stdout := &Bounded{Max: c.StdoutMax, Truncate: c.StdoutTruncate || c.Combined}
	stderr := &Bounded{Max: c.StderrMax, Truncate: true}
	cmd.Stdout = stdout
	cmd.Stderr = stderr
	if c.Combined {
		cmd.Stderr = stdout
	}
	cmd.Cancel = func() error { return killGroup(cmd.Process) }
	cmd.WaitDelay = WaitDelay
	err := cmd.Run()
	res := Result{Stdout: stdout.Bytes(), Stderr: stderr.Bytes(), Overflow: stdout.Overflow, Started: cmd.ProcessState != nil}
	if err != nil && ctx.Err() != nil {
		return res, errors.Join(err, ctx.Err())
	}
	if err != nil && stdout.Overflow && !stdout.Truncate {
		return res, errors.Join(ErrOutputTooLarge, err)
	}
	return res, err
}

// setup gives cmd c's environment (none of ceod's own), directory,
// credential and process group or session.
func (c Cmd) setup(cmd *exec.Cmd) {
	cmd.Env = c.Env
	if cmd.Env == nil {
		cmd.Env = []string{} // never ceod's own environment
	}
	cmd.Dir = c.Dir
	attr := &syscall.SysProcAttr{Credential: c.Credential}
	if c.NewSession {
		attr.Setsid = true // a new session is a new process group too
	} else {
		attr.Setpgid = true
	}
	if c.KillWithParent {
		attr.Pdeathsig = syscall.SIGKILL
	}
	cmd.SysProcAttr = attr
}

// killGroup SIGKILLs p's process group (setup made p its leader): the
// negative pid names the group, so its children die too.
func killGroup(p *os.Process) error { return syscall.Kill(-p.Pid, syscall.SIGKILL) }

// Bounded collects at most Max bytes (Max <= 0: nothing). Past the bound
// it either fails the write (so the copy stops and the program gets
// EPIPE) or, with Truncate, silently drops the rest. It deliberately has
// no ReadFrom method: io.Copy would use it and bypass the bound.
type Bounded struct {
	buf      bytes.Buffer
	Max      int
	Truncate bool
	Overflow bool
}

func (b *Bounded) Write(p []byte) (int, error) {
	if room := b.Max - b.buf.Len(); len(p) > room {
		b.Overflow = true
		b.buf.Write(p[:max(room, 0)])
		if b.Truncate {
			return len(p), nil
		}
		return 0, ErrOutputTooLarge
	}
	return b.buf.Write(p)
}

// Bytes returns what was kept.
func (b *Bounded) Bytes() []byte { return b.buf.Bytes() }
