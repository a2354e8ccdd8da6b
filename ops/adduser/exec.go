package adduser

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/csclub/ceo/ops/procrun"
)

// progEnv is the whole environment of the programs adduser runs (the
// notify hook, setquota): nothing of ceod's own environment leaks.
var progEnv = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C", "LC_ALL=C"}

// maxProgramOutput bounds what is kept of a hook's or setquota's
// output: only its first line is ever logged or reported.
const maxProgramOutput = 4096

// runProgram runs path with args and stdin (no shell, its own process
// group, killed with it at the timeout) and returns its combined
// output, at most maxProgramOutput bytes of it.
func runProgram(ctx context.Context, timeout time.Duration, path string, args []string, stdin string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	res, err := procrun.Run(ctx, procrun.Cmd{Path: path, Args: args, Env: progEnv, Stdin: strings.NewReader(stdin),
		StdoutMax: maxProgramOutput, Combined: true, NewSession: true})
	if ctx.Err() != nil && err != nil {
		err = fmt.Errorf("%w (%w)", err, ctx.Err())
	}
	return string(res.Stdout), err
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}

// setQuota copies the prototype user's quota to uid on every file system
// with quotas: `setquota -a -p PROTO UID`. The error is meant for the
// operator: it says what to do when quotas are unavailable.
func (h *Handler) setQuota(ctx context.Context, proto string, uid int) error {
	args := []string{"-a", "-p", proto, strconv.Itoa(uid)}
	out, err := runProgram(ctx, h.progTimeout, h.cfg.SetquotaPath, args, "")
	if err == nil {
		return nil
	}
	if errors.Is(err, exec.ErrNotFound) || errors.Is(err, syscall.ENOENT) {
		return fmt.Errorf("quotas are unavailable: %s not found (install the quota package, or set the quota prototypes empty in ceod.cf to disable quotas)", h.cfg.SetquotaPath)
	}
	detail := firstLine(out)
	if detail == "" {
		detail = err.Error()
	}
	return fmt.Errorf("setquota -a -p %s %d failed: %s (are quotas enabled on the home file systems, and does %s have a quota? set the quota prototypes empty in ceod.cf to disable quotas)", proto, uid, detail, proto)
}

// notify runs the notify hook with the legacy argv
// `addmember|addclubrep|addclub CALLER USERNAME REALNAME PROGRAM
// success|failure` and the status messages on stdin, one per line. Its
// failure is logged, not reported: the account is what it is.
func (h *Handler) notify(ctx context.Context, r *request, caller string, ok bool, lines []string) {
	if h.cfg.NotifyHook == "" {
		return
	}
	result := "failure"
	if ok {
		result = "success"
	}
	args := []string{r.hookWord(), caller, r.name, r.realname, r.program, result}
	out, err := runProgram(ctx, h.progTimeout, h.cfg.NotifyHook, args, strings.Join(lines, "\n")+"\n")
	if err != nil {
		h.log.Warn("adduser: notify hook failed", "hook", h.cfg.NotifyHook, "user", r.name, "err", err, "output", firstLine(out))
	}
}
