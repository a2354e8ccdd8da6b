package realm

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/csclub/ceo/ops/mailman/mailmantest"
)

// A club runs ceod on several hosts: the admin host holds the ceod/admin
// key and runs adduser, the database host runs mysql and postgresql
// (their root accounts are local only), the mail host runs mailman (its
// list server's API listens on localhost). A Topology is that layout on
// one machine: each host has its own loopback address, FQDN, service
// principal, keytab, configuration directory and ceod process, and the
// shared ops file routes every op to its owner by the short host names
// legacy ops files use.
//
// Name resolution: the hosts' names are in a hosts file bind-mounted over
// /etc/hosts inside a private mount namespace that only the topology's
// processes (and what a test or `realm shell` starts in it) see. Go's
// resolver, glibc and MIT's libraries all read /etc/hosts, so ceoc, ceod
// and the legacy C programs resolve the same names, and the machine's own
// /etc/hosts is never touched: the namespace ends with its last process,
// even after a kill -9.

// TopologyHost is one ceod host of a Topology.
type TopologyHost struct {
	Short     string // the ops files' host word: "admin"
	FQDN      string // canonical name: "admin.csclub.internal"
	Addr      string // its loopback address
	Principal string // "ceod/admin.csclub.internal"
	Keytab    string
	ConfigDir string // its CEO_CONFIG_DIR
	Log       string // ceod's log
	Ops       []string
}

// topologyHosts are the club's hosts and the ops each owns, as the legacy
// and later ceo deployments split them.
var topologyHosts = []struct {
	short, addr string
	ops         []string
}{
	// The member ops need kadmin (passwd, deluser) and write LDAP as
	// ceod/admin: the admin host, which holds that key.
	{"admin", "127.0.0.2", []string{"adduser", "mail", "renew", "group", "positions", "shell", "passwd", "deluser", "program", "ping"}},
	{"db", "127.0.0.3", []string{"mysql", "postgresql"}},
	{"mail", "127.0.0.4", []string{"mailman"}},
}

// Topology is a running set of ceod hosts in a realm.
type Topology struct {
	r         *Realm
	Hosts     []*TopologyHost
	HostsFile string // the /etc/hosts the topology's processes see
	ns        *daemon
	ceods     map[string]*daemon
	ceodPath  string
	opts      TopologyOptions
	// Mailman is the mail host's list server when opts.Mailman is set.
	Mailman *mailmantest.Mailman3
}

// Realm is the realm the topology runs in.
func (t *Topology) Realm() *Realm { return t.r }

// Host returns the host with short name s, or nil.
func (t *Topology) Host(s string) *TopologyHost {
	for _, h := range t.Hosts {
		if h.Short == s {
			return h
		}
	}
	return nil
}

// Owner returns the host owning op, or nil.
func (t *Topology) Owner(op string) *TopologyHost {
	for _, h := range t.Hosts {
		for _, o := range h.Ops {
			if o == op {
				return h
			}
		}
	}
	return nil
}

// TopologyOptions tune StartTopology. The zero value is valid.
type TopologyOptions struct {
	// Mailman starts a real Mailman 3 core for the mail host with the
	// members list MembersList ("csc-general") and points the mail
	// host's mailman.cf at it; without it the mailman op is off.
	Mailman bool
}

// MembersList is the list new members join when the topology runs
// Mailman, as at the club.
const MembersList = "csc-general"

// StartTopology sets up the topology's hosts (principals, keytabs, config
// directories, the name space holding their names) and starts ceod,
// built at ceodPath, on each. The topology stops with the realm.
func (r *Realm) StartTopology(ceodPath string, opts TopologyOptions) (*Topology, error) {
	domain := strings.ToLower(r.Name)
	t := &Topology{r: r, HostsFile: r.path("topology/hosts"), ceods: map[string]*daemon{}, ceodPath: ceodPath, opts: opts}
	for _, th := range topologyHosts {
		fqdn := th.short + "." + domain
		dir := r.path("topology/" + th.short)
		t.Hosts = append(t.Hosts, &TopologyHost{
			Short: th.short, FQDN: fqdn, Addr: th.addr,
			Principal: "ceod/" + fqdn,
			Keytab:    filepath.Join(dir, "ceod.keytab"),
			ConfigDir: filepath.Join(dir, "config"),
			Log:       filepath.Join(dir, "ceod.log"),
			Ops:       th.ops,
		})
	}
	steps := []func() error{t.writeHostsFile, t.startNamespace, t.addPrincipals, t.writeConfigs, t.startMailman}
	for _, step := range steps {
		if err := step(); err != nil {
			t.stop()
			return nil, fmt.Errorf("realm: topology: %w", err)
		}
	}
	for _, h := range t.Hosts {
		if err := t.StartHost(h.Short); err != nil {
			t.stop()
			return nil, fmt.Errorf("realm: topology: %w", err)
		}
	}
	r.topology = t
	return t, nil
}

func (t *Topology) writeHostsFile() error {
	if err := os.MkdirAll(filepath.Dir(t.HostsFile), 0o755); err != nil {
		return err
	}
	base, err := os.ReadFile("/etc/hosts")
	if err != nil {
		base = []byte("127.0.0.1\tlocalhost\n")
	}
	var b bytes.Buffer
	b.Write(base)
	b.WriteString("\n# ceo test realm topology\n")
	for _, h := range t.Hosts {
		fmt.Fprintf(&b, "%s\t%s %s\n", h.Addr, h.FQDN, h.Short)
	}
	return os.WriteFile(t.HostsFile, b.Bytes(), 0o644)
}

// startNamespace starts the process that holds the private mount
// namespace with the hosts file over /etc/hosts.
func (t *Topology) startNamespace() error {
	unshare, err := findBinary("unshare")
	if err != nil {
		return err
	}
	sh := `mount --bind "$0" /etc/hosts && echo ready && exec sleep 2147483647`
	d, err := startDaemon("topology-ns", t.r.path("log/topology-ns.log"), os.Environ(), t.r.Dir, nil, syscall.SIGKILL,
		unshare, "--mount", "--propagation", "private", "--", "/bin/sh", "-c", sh, t.HostsFile)
	if err != nil {
		return err
	}
	t.ns = d
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if b, _ := os.ReadFile(t.r.path("log/topology-ns.log")); bytes.Contains(b, []byte("ready")) {
			return nil
		}
		if d.exited() {
			b, _ := os.ReadFile(t.r.path("log/topology-ns.log"))
			return fmt.Errorf("mount namespace for the hosts file: %s", bytes.TrimSpace(b))
		}
		time.Sleep(20 * time.Millisecond)
	}
	return errors.New("mount namespace for the hosts file: not ready after 10s")
}

// Command returns a command that runs in the topology's name space (it
// sees the hosts' names), with env as its environment.
func (t *Topology) Command(env []string, name string, args ...string) *exec.Cmd {
	argv := t.inNamespace(name, args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = env
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	return cmd
}

// inNamespace is the argv that runs name with args in the name space.
func (t *Topology) inNamespace(name string, args ...string) []string {
	return append([]string{"nsenter", "-t", strconv.Itoa(t.ns.pid()), "-m", "--", name}, args...)
}

// NamespacePID is the pid of the process holding the name space:
// `nsenter -t PID -m` enters it.
func (t *Topology) NamespacePID() int { return t.ns.pid() }

func (t *Topology) addPrincipals() error {
	kadmin, err := findBinary("kadmin.local")
	if err != nil {
		return err
	}
	var q strings.Builder
	for _, h := range t.Hosts {
		if err := os.MkdirAll(filepath.Dir(h.Keytab), 0o755); err != nil {
			return err
		}
		fmt.Fprintf(&q, "addprinc -randkey %s\nktadd -k %s %s\n", h.Principal, h.Keytab, h.Principal)
	}
	out, err := run(t.r.krbEnv(), t.r.Dir, q.String(), nil, kadmin, "-r", t.r.Name)
	if err != nil {
		return err
	}
	if strings.Contains(out, "while ") {
		return fmt.Errorf("kadmin.local: %s", out)
	}
	return nil
}

// opsFile routes each op to its owner by short host name, as a club's
// shared ops file does.
func (t *Topology) opsFile() string {
	var b strings.Builder
	b.WriteString("# HOST OPNAME USER ID: the realm topology's hosts, by their short names\n")
	for _, op := range shippedOps {
		if h := t.Owner(op.name); h != nil {
			fmt.Fprintf(&b, "%s %s %s %#x\n", h.Short, op.name, op.user, op.id)
		}
	}
	return b.String()
}

// hostKeys are the ceod.cf keys each host sets for itself; stateKeys
// name state a ceod locks for itself, so each host gets its own path.
var hostKeys = []string{"listen", "hostname", "keytab", "service_principal", "mailman_trusted_principals", "replay_cache", "journal"}

var stateKeys = [][2]string{{"replay_cache", "replay-cache"}, {"journal", "journal"}}

// writeConfigs gives each host the realm's configuration with the
// topology's ops file and a ceod.cf of its own.
func (t *Topology) writeConfigs() error {
	ceodCf, err := os.ReadFile(filepath.Join(t.r.ConfigDir, "ceod.cf"))
	if err != nil {
		return err
	}
	var shared []string
	present := map[string]bool{}
	for _, l := range strings.Split(string(ceodCf), "\n") {
		k, _, _ := strings.Cut(l, "=")
		k = strings.TrimSpace(k)
		present[k] = true
		if !slices.Contains(hostKeys, k) && l != "" {
			shared = append(shared, l)
		}
	}
	for _, h := range t.Hosts {
		if err := copyDir(t.r.ConfigDir, h.ConfigDir); err != nil {
			return err
		}
		cf := strings.Join(shared, "\n") + fmt.Sprintf("\nlisten = %s:%d\nhostname = %s\nkeytab = %s\nservice_principal = %s\n",
			h.Addr, t.r.CeodPort, h.FQDN, h.Keytab, h.Principal)
		if slices.Contains(h.Ops, "mailman") {
			// The admin host's ceod subscribes new members here, as
			// its own service principal; nothing is trusted by address.
			cf += fmt.Sprintf("mailman_trusted_principals = %s@%s\n", t.Owner("adduser").Principal, t.r.Name)
		}
		for _, kn := range stateKeys {
			if present[kn[0]] {
				cf += fmt.Sprintf("%s = %s\n", kn[0], filepath.Join(filepath.Dir(h.ConfigDir), kn[1]))
			}
		}
		if err := writeFileMode(filepath.Join(h.ConfigDir, "ceod.cf"), []byte(cf), 0o644); err != nil {
			return err
		}
		if err := writeFileMode(filepath.Join(h.ConfigDir, "ops", "ceo"), []byte(t.opsFile()), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// Env is the environment for ceod, ceoc and MIT tools on the topology's
// hosts: the realm's, with CEO_CONFIG_DIR of host h ("" for the
// realm's shared files with the topology's ops file, as on a client
// machine).
func (t *Topology) Env(h string) []string {
	dir := t.Hosts[0].ConfigDir
	if th := t.Host(h); th != nil {
		dir = th.ConfigDir
	}
	var out []string
	for _, kv := range t.r.Env() {
		if !strings.HasPrefix(kv, "CEO_CONFIG_DIR=") && !strings.HasPrefix(kv, "PATH=") {
			out = append(out, kv)
		}
	}
	// ceod runs kadmin and setquota: the system's sbin directories too.
	return append(out, "CEO_CONFIG_DIR="+dir, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
}

// StartHost starts ceod on host s (again, after StopHost) and waits for
// it to listen.
func (t *Topology) StartHost(s string) error {
	h := t.Host(s)
	if h == nil {
		return fmt.Errorf("no host %q", s)
	}
	if d := t.ceods[s]; d != nil && !d.exited() {
		return fmt.Errorf("ceod on %s is running", s)
	}
	d, err := startDaemon("ceod-"+s, h.Log, t.Env(s), t.r.Dir, nil, syscall.SIGTERM, t.inNamespace(t.ceodPath)...)
	if err != nil {
		return err
	}
	t.ceods[s] = d
	return waitTCP(d, fmt.Sprintf("%s:%d", h.Addr, t.r.CeodPort), 20*time.Second, h.Log)
}

// StopHost stops ceod on host s, as a host going down.
func (t *Topology) StopHost(s string) error {
	d := t.ceods[s]
	if d == nil {
		return nil
	}
	return d.stop(10 * time.Second)
}

func (t *Topology) stop() {
	names := make([]string, 0, len(t.ceods))
	for n := range t.ceods {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		t.ceods[n].stop(10 * time.Second)
	}
	if t.ns != nil {
		t.ns.stop(time.Second)
	}
	if t.Mailman != nil {
		t.Mailman.Stop()
	}
}

// startMailman runs the mail host's list server with the members list.
func (t *Topology) startMailman() error {
	if !t.opts.Mailman {
		return nil
	}
	dir := t.r.path("topology/mail/mailman")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	m, err := mailmantest.Start(dir)
	if err != nil {
		return fmt.Errorf("mailman: %w", err)
	}
	t.Mailman = m
	domain := strings.ToLower(t.r.Name)
	if err := m.AddList(MembersList + "@" + domain); err != nil {
		return fmt.Errorf("mailman: %w", err)
	}
	cf := fmt.Sprintf("members_list = %s\nlist_domain = %s\nmailman_api_url = %s\nmailman_api_user = %s\nmailman_api_password = \"%s\"\n",
		MembersList, domain, m.URL, m.User, m.Password)
	return writeFileMode(filepath.Join(t.Host("mail").ConfigDir, "mailman.cf"), []byte(cf), 0o600)
}

// copyDir copies the regular files of src (one level of subdirectories,
// as a config directory has) to dst, keeping their modes.
func copyDir(src, dst string) error {
	return filepath.WalkDir(src, func(p string, de os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if de.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if !de.Type().IsRegular() {
			return nil
		}
		st, err := de.Info()
		if err != nil {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return writeFileMode(target, b, st.Mode().Perm())
	})
}
