// Command realm starts and stops throwaway ceo test realms (see package
// internal/realm).
//
//	realm up [-state FILE] [-seed N] start a realm in the background (with N seeded members), print its env file
//	realm down [-state FILE] [DIR]   stop it and remove its directory
//	realm run [-state FILE] -- CMD   start a realm, run CMD in it in the foreground, stop the realm when CMD exits
//	realm seed [-state FILE] N       add N members with term histories, clubs and big groups to the background realm
//	realm club [-state FILE] CEOD    start a realm and the club's topology (admin, db and mail hosts, each running CEOD, and Mailman 3) in the foreground
//	realm shell [-state FILE]        a shell that sees the club topology's host names, with its environment
//
// A background realm is held by a supervisor process (`realm serve`); its
// daemons are the supervisor's children and die with it.
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/csclub/ceo/internal/realm"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	cmd, args := os.Args[1], os.Args[2:]
	fs := flag.NewFlagSet(cmd, flag.ExitOnError)
	state := fs.String("state", ".realm", "file that records the background realm's directory")
	seedN := fs.Int("seed", 0, "up: load this many seeded members with slapadd before slapd starts")
	fs.Parse(args)
	var err error
	switch cmd {
	case "up":
		err = up(*state, *seedN)
	case "down":
		err = down(*state, fs.Arg(0))
	case "serve":
		err = serve(fs.Arg(0), *seedN)
	case "run":
		err = runIn(fs.Args())
	case "seed":
		err = seed(*state, fs.Arg(0))
	case "club":
		err = club(*state+"-club", fs.Arg(0))
	case "shell":
		err = shell(*state + "-club")
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "realm:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: realm up|down|run|seed|club|shell [-state FILE] [DIR | -- CMD ARGS... | N | CEOD]")
	os.Exit(2)
}

func logf(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) }

// up starts `realm serve DIR` detached and waits until it reports ready.
func up(state string, seedN int) error {
	if b, err := os.ReadFile(state); err == nil {
		dir := strings.TrimSpace(string(b))
		if supervisorAlive(dir) {
			return fmt.Errorf("a realm is already running at %s (run `make realm-down` first)", dir)
		}
	}
	dir, err := os.MkdirTemp("", "realm-")
	if err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	logPath := dir + ".log"
	logFile, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer logFile.Close()
	pr, pw, err := os.Pipe()
	if err != nil {
		return err
	}
	cmd := exec.Command(self, "serve", "-seed", strconv.Itoa(seedN), dir)
	cmd.Stdout = pw
	cmd.Stderr = logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		return err
	}
	pw.Close()
	line, _ := bufio.NewReader(pr).ReadString('\n')
	if !strings.HasPrefix(line, "ready ") {
		cmd.Wait()
		b, _ := os.ReadFile(logPath)
		return fmt.Errorf("realm did not start:\n%s", b)
	}
	pid := cmd.Process.Pid
	cmd.Process.Release()
	if err := os.WriteFile(state, []byte(dir+"\n"), 0o644); err != nil {
		return err
	}
	logf("realm: up in %v (supervisor pid %d, log %s)", time.Since(t0).Round(time.Millisecond), pid, logPath)
	fmt.Println(filepath.Join(dir, "env"))
	return nil
}

// serve starts a realm in dir, reports "ready" on stdout, and holds it
// until SIGTERM or SIGINT.
func serve(dir string, seedN int) error {
	if dir == "" {
		return errors.New("serve needs a directory")
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	opts := realm.Options{Dir: dir, Log: logf}
	if seedN > 0 {
		opts.Seed = &realm.SeedOptions{Members: seedN}
	}
	r, err := realm.Start(opts)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "run", "supervisor.pid"), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		r.Remove()
		return err
	}
	fmt.Printf("ready %s\n", r.EnvFile())
	os.Stdout.Close()
	s := <-sigs
	logf("realm: stopping on %v", s)
	return r.Remove()
}

func supervisorPID(dir string) (int, bool) {
	b, err := os.ReadFile(filepath.Join(dir, "run", "supervisor.pid"))
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0, false
	}
	// A stale pid file must not make us signal an unrelated process.
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || !strings.Contains(string(cmdline), "\x00serve\x00") || !strings.HasSuffix(string(cmdline), "\x00"+dir+"\x00") {
		return 0, false
	}
	return pid, realm.ProcessAlive(pid)
}

func supervisorAlive(dir string) bool {
	_, ok := supervisorPID(dir)
	return ok
}

func down(state, dir string) error {
	if dir == "" {
		b, err := os.ReadFile(state)
		if err != nil {
			return fmt.Errorf("no realm recorded in %s", state)
		}
		dir = strings.TrimSpace(string(b))
	}
	pid, ok := supervisorPID(dir)
	if !ok {
		os.Remove(state)
		return fmt.Errorf("no realm running at %s", dir)
	}
	t0 := time.Now()
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		return err
	}
	for realm.ProcessAlive(pid) {
		if time.Since(t0) > 30*time.Second {
			return fmt.Errorf("supervisor %d did not stop", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
	os.Remove(state)
	os.Remove(dir + ".log")
	logf("realm: %s down in %v", dir, time.Since(t0).Round(time.Millisecond))
	return nil
}

// seed adds n members (and clubs and big groups) to the background
// realm recorded in state, with one bulk LDIF load.
func seed(state, n string) error {
	members, err := strconv.Atoi(n)
	if err != nil || members < 1 {
		return fmt.Errorf("seed needs a number of members, got %q", n)
	}
	b, err := os.ReadFile(state)
	if err != nil {
		return fmt.Errorf("no realm recorded in %s (run `make realm` first)", state)
	}
	dir := strings.TrimSpace(string(b))
	if !supervisorAlive(dir) {
		return fmt.Errorf("no realm running at %s", dir)
	}
	r, err := realm.Attach(dir)
	if err != nil {
		return err
	}
	st, err := r.Seed(realm.SeedOptions{Members: members, Random: uint64(time.Now().UnixNano())})
	if err != nil {
		return err
	}
	logf("realm: seeded %d members, %d clubs, %d club reps (%d entries) in %v; %d registered for %s",
		st.Members, st.Clubs, st.ClubReps, st.Entries, st.Took.Round(time.Millisecond), st.ByTerm[st.Current], st.Current)
	return nil
}

// runIn starts a realm, runs argv in it with the realm's environment, and
// stops the realm when argv exits or on SIGINT/SIGTERM.
func runIn(argv []string) error {
	if len(argv) == 0 {
		return errors.New("run needs a command")
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	t0 := time.Now()
	r, err := realm.Start(realm.Options{})
	if err != nil {
		return err
	}
	defer r.Remove()
	logf("realm: %s up in %v at %s", r.Name, time.Since(t0).Round(time.Millisecond), r.Dir)
	printWelcome(r)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), r.Env()...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err = <-done:
	case s := <-sigs:
		cmd.Process.Signal(s)
		select {
		case err = <-done:
		case <-time.After(40 * time.Second):
			cmd.Process.Kill()
			err = <-done
		}
		if _, ok := err.(*exec.ExitError); ok {
			err = nil // stopped by us
		}
	}
	logf("realm: stopping")
	return err
}

func printWelcome(r *realm.Realm) {
	bin, _ := filepath.Abs("bin")
	fmt.Fprintf(os.Stderr, `
ceod is starting on 127.0.0.1:%d for the throwaway realm %s.
In another terminal:

    . %s
    kinit office1            # password: %s (see %s/passwords)
    %s/ceoc ping </dev/null
    %s/ceo

Press Ctrl-C here to stop ceod and remove the realm.

`, r.CeodPort, r.Name, r.EnvFile(), r.Users["office1"].Password, r.Dir, bin, bin)
}
