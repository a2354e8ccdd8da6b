// Command ceoc sends one op to the ceod that owns it, like the legacy
// relay program:
//
//	ceoc [flags] OP < request > reply
//
// It reads the whole request from stdin (it may be empty, as for ping),
// writes the reply to stdout and exits 0. The reply is the op's raw
// bytes (protobuf for most ops), except for ping, whose reply is
// printed decoded: the principal ceod saw, on one line. On failure it prints one line
// saying why on stderr and exits 1 (2 for a usage error).
//
// By default it authenticates with the tickets in $KRB5CCNAME (run
// kinit first); scripts can use -keytab with -principal, or
// -password-file with -principal.
//
//	ceoc bench [flags]
//
// runs the load tool instead; see "ceoc bench -h". "bench" is therefore
// not usable as an op name.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/csclub/ceo/ceoc"
	"github.com/csclub/ceo/wire"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// clientFlags are the flags shared by ceoc OP and ceoc bench.
type clientFlags struct {
	configDir, ccache, keytab, principal, passwordFile string
	port                                               int
}

func (f *clientFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.configDir, "config", os.Getenv("CEO_CONFIG_DIR"), "configuration directory with ops/ and ceod.cf (default $CEO_CONFIG_DIR or /etc/csc)")
	fs.StringVar(&f.ccache, "ccache", "", "credentials cache (default $KRB5CCNAME)")
	fs.StringVar(&f.keytab, "keytab", "", "authenticate with this keytab (needs -principal)")
	fs.StringVar(&f.principal, "principal", "", "principal for -keytab or -password-file")
	fs.StringVar(&f.passwordFile, "password-file", "", "authenticate with the password in this file (needs -principal)")
	fs.IntVar(&f.port, "port", 0, "ceod port (default: port in ceod.cf, or 9987)")
}

func (f *clientFlags) client() (*ceoc.Client, error) {
	c := &ceoc.Client{ConfigDir: f.configDir, Port: f.port}
	switch {
	case f.keytab != "" && f.passwordFile != "":
		return nil, errors.New("use -keytab or -password-file, not both")
	case f.keytab != "" || f.passwordFile != "":
		if f.principal == "" {
			return nil, errors.New("-keytab and -password-file need -principal")
		}
	case f.principal != "":
		return nil, errors.New("-principal needs -keytab or -password-file")
	}
	switch {
	case f.keytab != "":
		c.Credentials = ceoc.Keytab(f.principal, f.keytab)
	case f.passwordFile != "":
		b, err := os.ReadFile(f.passwordFile)
		if err != nil {
			return nil, err
		}
		pw, _, _ := strings.Cut(string(b), "\n")
		c.Credentials = ceoc.Password(f.principal, pw)
	default:
		c.Credentials = ceoc.CCache(f.ccache)
	}
	return c, nil
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "bench" {
		return runBench(ctx, args[1:], stdout, stderr)
	}
	fs := flag.NewFlagSet("ceoc", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cf clientFlags
	cf.register(fs)
	timeout := fs.Duration("timeout", 5*time.Minute, "give up after this long")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: ceoc [flags] OP < request > reply\n       ceoc bench [flags]\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return 2
	}
	op := fs.Arg(0)
	c, err := cf.client()
	if err != nil {
		fmt.Fprintf(stderr, "ceoc: %v\n", err)
		return 2
	}
	// Read one byte more than a frame can hold, to detect a request
	// that is too large without reading an unbounded stdin.
	req, err := io.ReadAll(io.LimitReader(stdin, wire.DefaultMaxFrame+1))
	if err != nil {
		fmt.Fprintf(stderr, "ceoc: reading the request from stdin: %v\n", err)
		return 1
	}
	if len(req) > wire.DefaultMaxFrame {
		fmt.Fprintf(stderr, "ceoc: request on stdin is larger than %d bytes\n", wire.DefaultMaxFrame)
		return 1
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	reply, err := c.Call(ctx, op, req)
	if err != nil {
		fmt.Fprintln(stderr, oneLine(err.Error()))
		return 1
	}
	if op == "ping" {
		if reply, err = decodePing(reply); err != nil {
			fmt.Fprintf(stderr, "ceoc: %v\n", err)
			return 1
		}
	}
	if _, err := stdout.Write(reply); err != nil {
		fmt.Fprintf(stderr, "ceoc: writing the reply: %v\n", err)
		return 1
	}
	return 0
}

// oneLine keeps an error message on one line, as the legacy front end
// shows only the first line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
