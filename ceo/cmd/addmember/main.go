// Command addmember is legacy ceo-clients' addmember: see package
// github.com/csclub/ceo/ceo/scripts and addmember(1).
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/csclub/ceo/ceo/scripts"
	"github.com/csclub/ceo/ceoc"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := scripts.AddMember.Run(ctx, os.Args[1:], scripts.IO{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr,
		Password: scripts.TerminalPassword()}, ceoc.FromEnv())
	stop()
	os.Exit(code)
}
