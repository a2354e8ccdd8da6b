package main

import (
	"errors"
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

// club starts a realm and the club's topology in the foreground (make
// run): three ceod hosts and Mailman 3, until SIGINT or SIGTERM. The
// state file records what `realm shell` needs.
func club(state, ceod string) error {
	if ceod == "" {
		return errors.New("club needs the path of the ceod binary")
	}
	ceod, err := filepath.Abs(ceod)
	if err != nil {
		return err
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	t0 := time.Now()
	// Strict LDAP: the front end must do everything through the hosts' ops.
	r, err := realm.Start(realm.Options{Log: logf, StrictLDAP: true})
	if err != nil {
		return err
	}
	defer r.Remove()
	tp, err := r.StartTopology(ceod, realm.TopologyOptions{Mailman: true})
	if err != nil {
		return err
	}
	// The shell's rc: the realm's environment with the client
	// configuration (the shared ops file routes ops to the hosts).
	rc := fmt.Sprintf(". %s\nexport CEO_CONFIG_DIR=%s\nexport PS1='[ceo club] \\w# '\n", r.EnvFile(), tp.Host("admin").ConfigDir)
	rcPath := filepath.Join(r.Dir, "club.rc")
	if err := os.WriteFile(rcPath, []byte(rc), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(state, []byte(fmt.Sprintf("%d %s\n", tp.NamespacePID(), rcPath)), 0o644); err != nil {
		return err
	}
	defer os.Remove(state)
	logf("realm: %s and the club topology up in %v at %s", r.Name, time.Since(t0).Round(time.Millisecond), r.Dir)
	bin, _ := filepath.Abs("bin")
	var hosts strings.Builder
	for _, h := range tp.Hosts {
		fmt.Fprintf(&hosts, "    %-6s %-24s %-10s %s (log %s)\n", h.Short, h.FQDN, h.Addr, strings.Join(h.Ops, " "), h.Log)
	}
	fmt.Fprintf(os.Stderr, `
The club's ceod hosts are up for the throwaway realm %s (port %d):

%s
Their names resolve only inside the realm's name space. In another
terminal, as root:

    %s/realm shell           # a shell there, with the realm's environment
    kinit office1            # password: %s (see %s/passwords)
    %s/ceoc ping </dev/null
    %s/ceo                   # New Member: the account is made on admin,
                             # the subscription to %s on mail

Press Ctrl-C here to stop the hosts and remove the realm.

`, r.Name, r.CeodPort, hosts.String(), bin, r.Users["office1"].Password, r.Dir, bin, bin, realm.MembersList)
	s := <-sigs
	logf("realm: stopping on %v", s)
	return nil
}

// shell execs a login shell in the running club topology's name space.
func shell(state string) error {
	b, err := os.ReadFile(state)
	if err != nil {
		return fmt.Errorf("no club topology running (start one with `make run`): %w", err)
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return fmt.Errorf("%s: malformed", state)
	}
	pid, err := strconv.Atoi(f[0])
	if err != nil || !realm.ProcessAlive(pid) {
		return fmt.Errorf("the club topology recorded in %s is gone", state)
	}
	nsenter, err := exec.LookPath("nsenter")
	if err != nil {
		return fmt.Errorf("%w (util-linux)", err)
	}
	wd, err := os.Getwd()
	if err != nil {
		wd = "/"
	}
	return syscall.Exec(nsenter, []string{"nsenter", "-t", f[0], "-m", "--wd=" + wd, "--", "/bin/bash", "--rcfile", f[1], "-i"}, os.Environ())
}
