package procrun

import (
	"errors"
	"io"
	"os"
	"os/exec"
	"sync"
	"syscall"
)

// Proc is a long-lived child started by Start: the caller writes its
// stdin and reads its stdout and stderr, which share one pipe so that
// what the program writes keeps its order.
type Proc struct {
	cmd    *exec.Cmd
	Stdin  io.WriteCloser
	Output io.Reader
	out    *os.File // read end of the output pipe, closed by Kill
	done   chan struct{}
	err    error // Wait's, once done is closed
	once   sync.Once
}

// Start starts c (Path, Args, Env, Dir, Credential, NewSession and
// KillWithParent as for Run; Stdin and the output bounds are ignored)
// and returns it running. The caller must Kill it: nothing else ends
// it before ceod exits.
func Start(c Cmd) (*Proc, error) {
	cmd := exec.Command(c.Path, c.Args...)
	c.setup(cmd)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	r, w, err := os.Pipe()
	if err != nil {
		stdin.Close()
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		stdin.Close()
		r.Close()
		w.Close()
		return nil, err
	}
	w.Close() // the child holds its own copy: EOF on r once it is gone
	p := &Proc{cmd: cmd, Stdin: stdin, Output: r, out: r, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// Pid is the program's process id (and its process group's).
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Kill ends the program's whole process group with SIGKILL, closes the
// pipes and waits for it to be reaped. It is safe to call more than
// once and from any goroutine.
func (p *Proc) Kill() {
	p.once.Do(func() {
		if err := killGroup(p.cmd.Process); err != nil && !errors.Is(err, syscall.ESRCH) {
			p.cmd.Process.Kill()
		}
		p.Stdin.Close()
		p.out.Close()
	})
	<-p.done
}

// Done is closed once the program has exited and been reaped.
func (p *Proc) Done() <-chan struct{} { return p.done }
