// Package daemon is the ceod command: it reads flags, the environment
// and $CEO_CONFIG_DIR, builds the op table and the server, serves until
// SIGTERM or SIGINT, and then shuts down gracefully.
//
// Usage:
//
//	ceod [-config DIR] [-listen ADDR] [-hostname FQDN]
//	     [-log-level debug|info|warn|error] [-log-format text|json]
//	     [-check] [-journal] [-pprof 127.0.0.1:PORT]
//
// Settings come from DIR/ceod.cf (see package ceod/config for its keys),
// the ops from DIR/ops/*. The environment supplies defaults only:
// CEO_CONFIG_DIR (default /etc/csc), CEO_LIB_DIR (overrides lib_dir) and
// KRB5_KTNAME (the keytab when ceod.cf names none). SIGHUP rereads
// ceod.cf: the limits and the caller rules change at once, and the log
// names every setting that changed (those that need a restart say so).
// ceod runs in the foreground and logs to stderr with log/slog: one
// audit record per authentication and per op, and connections that
// fail before authenticating counted per address (at most one line per
// address per ceod/server.FailureLogInterval).
//
// Before serving, and alone with -check, ceod checks everything it will
// need (package ceod/check) and names each problem. Exit status: 0
// after a clean shutdown (or a clean -check), ExitConfig (78) when the
// configuration or the host must change, ExitTempFail (75) when the
// problem may pass by itself (DNS or a service not up yet: systemd
// retries), 1 on another run-time error, 2 on a usage error. A second
// signal during the shutdown grace ends ceod at once.
//
// The multi-step ops (adduser) keep a write-ahead journal (ceod.cf key
// journal). Before serving, ceod rolls back the requests the journal
// lists as unfinished (bounded by StartupRecoveryBudget), and again every
// recovery_interval. On SIGTERM it stops within shutdown_grace +
// CloseWait (at most 35s, under systemd's 45s); whatever an op could
// not finish stays in the journal. -check also reports unfinished
// requests; -journal lists them with their steps.
//
// It is a package of its own (the command's main is one call) so that
// tests can run a whole daemon in-process.
package daemon

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"net"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jcmturner/gokrb5/v8/keytab"

	"github.com/csclub/ceo/ceoc/opsfile"
	"github.com/csclub/ceo/ceod/builtin"
	"github.com/csclub/ceo/ceod/check"
	"github.com/csclub/ceo/ceod/config"
	"github.com/csclub/ceo/ceod/opexec"
	"github.com/csclub/ceo/ceod/registry"
	"github.com/csclub/ceo/ceod/server"
	"github.com/csclub/ceo/ops"
	"github.com/csclub/ceo/ops/acl"
	"github.com/csclub/ceo/wire"
	"github.com/csclub/ceo/wire/krb5"
	"github.com/csclub/ceo/wire/krb5/rcache"
)

// DefaultKeytab is the keytab used when neither ceod.cf nor
// $KRB5_KTNAME names one.
const DefaultKeytab = "/etc/krb5.keytab"

// Options are the inputs of Run, taken from the process by Main.
type Options struct {
	Args   []string            // command-line arguments, without the program name
	Getenv func(string) string // environment lookup; nil means os.Getenv
	Stderr io.Writer           // log and usage output; nil means os.Stderr
	// Ready, if set, is called once the listener is open, with the op
	// table being served.
	Ready func(addr net.Addr, ops []registry.Entry)
	Canon registry.CanonFunc // canonical-name lookup; nil means DNS
	// Reload, if set, asks for the configuration to be read again
	// (SIGHUP in Main).
	Reload <-chan struct{}
}

// errUsage marks a command-line error; Main exits 2 for it.
var errUsage = errors.New("usage")

// Exit statuses besides 0, 1 and 2 (sysexits.h): ceod.service restarts
// ceod after ExitTempFail and never after ExitConfig.
const (
	ExitTempFail = 75 // EX_TEMPFAIL: may pass by itself; try again later
	ExitConfig   = 78 // EX_CONFIG: the configuration or the host must change
)

// Errors wrapped by Run's error for the two statuses above.
var (
	ErrConfig    = errors.New("configuration")
	ErrTransient = errors.New("not ready yet")
)

// Main runs ceod as a command and returns its exit status: 0 after a
// clean shutdown or -help, 1 on a runtime error, 2 on a usage error.
func Main() int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	go func() {
		// After the first signal, restore the default action so that a
		// second one kills the process without waiting for the grace.
		<-ctx.Done()
		stop()
	}()
	// SIGHUP reloads the configuration; a reload in progress absorbs
	// further signals.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	reload := make(chan struct{}, 1)
	go func() {
		for range hup {
			select {
			case reload <- struct{}{}:
			default:
			}
		}
	}()
	err := Run(ctx, Options{Args: os.Args[1:], Reload: reload})
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		// -help printed the usage as asked: not a failure.
		return 0
	case errors.Is(err, errUsage):
		return 2
	}
	fmt.Fprintf(os.Stderr, "ceod: %v\n", err)
	return ExitStatus(err)
}

// ExitStatus is Main's exit status for an error of Run other than a
// usage error.
func ExitStatus(err error) int {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, ErrConfig):
		return ExitConfig
	case errors.Is(err, ErrTransient):
		return ExitTempFail
	}
	return 1
}

// settings are the resolved inputs of the daemon.
type settings struct {
	configDir string
	cf        *config.Ceod
	logLevel  slog.Level
	logJSON   bool
	check     bool
	// ignored are the legacy flags given (-d/--detach, -q/--quiet): old
	// init scripts pass them; under systemd they mean nothing.
	ignored []string
	listJ   bool
	pprof   string // loopback address for net/http/pprof; empty: off
}

func parseArgs(o Options) (*settings, error) {
	fs := flag.NewFlagSet("ceod", flag.ContinueOnError)
	fs.SetOutput(o.Stderr)
	dir := o.Getenv("CEO_CONFIG_DIR")
	if dir == "" {
		dir = config.DefaultDir
	}
	var (
		configDir = fs.String("config", dir, "configuration directory (default $CEO_CONFIG_DIR or /etc/csc)")
		listen    = fs.String("listen", "", "listen address, overriding ceod.cf (e.g. :9987)")
		hostname  = fs.String("hostname", "", "this host's FQDN, overriding ceod.cf and the system's (decides which ops are local)")
		level     = fs.String("log-level", "info", "log level: debug, info, warn or error")
		format    = fs.String("log-format", "text", "log format: text or json")
		check     = fs.Bool("check", false, "check everything ceod needs, name each problem (or print the op table and unfinished requests) and exit")
		listJ     = fs.Bool("journal", false, "list the journal's unfinished requests with their steps, and exit")
		pprofAddr = fs.String("pprof", "", "serve net/http/pprof on this loopback address (e.g. 127.0.0.1:6060); off by default")
	)
	legacy := map[string]*bool{}
	for _, f := range []struct{ name, usage string }{
		{"d", "legacy: detach; ignored (ceod stays in the foreground for systemd)"},
		{"detach", "legacy: same as -d; ignored"},
		{"q", "legacy: quiet; ignored (set -log-level instead)"},
		{"quiet", "legacy: same as -q; ignored"},
	} {
		legacy[f.name] = fs.Bool(f.name, false, f.usage)
	}
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: ceod [flags]\n\nServes the ops of this host from $CEO_CONFIG_DIR/ops (see ceod.cf for settings).\n\n")
		fs.PrintDefaults()
	}
	// usage reports a command-line error; the flag package has already
	// printed its own.
	usage := func(format string, args ...any) error {
		err := fmt.Errorf(format, args...)
		fmt.Fprintf(o.Stderr, "ceod: %v\n", err)
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	if err := fs.Parse(o.Args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %w", errUsage, err)
	}
	if fs.NArg() > 0 {
		return nil, usage("unexpected argument %q", fs.Arg(0))
	}
	st := &settings{configDir: *configDir, check: *check, listJ: *listJ, pprof: *pprofAddr}
	if st.pprof != "" {
		if err := checkLoopback(st.pprof); err != nil {
			return nil, usage("%v", err)
		}
	}
	for _, name := range []string{"d", "detach", "q", "quiet"} {
		if *legacy[name] {
			st.ignored = append(st.ignored, "-"+name)
		}
	}
	if err := st.logLevel.UnmarshalText([]byte(*level)); err != nil {
		return nil, usage("-log-level: %v", err)
	}
	switch *format {
	case "text":
	case "json":
		st.logJSON = true
	default:
		return nil, usage("-log-format must be text or json")
	}
	cf, err := config.LoadCeod(st.configDir)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	if *listen != "" {
		cf.Listen = *listen
	}
	if *hostname != "" {
		cf.Hostname = *hostname
	}
	if env := o.Getenv("CEO_LIB_DIR"); env != "" {
		cf.LibDir = env
	}
	if cf.Keytab == "" {
		cf.Keytab = strings.TrimPrefix(o.Getenv("KRB5_KTNAME"), "FILE:")
	}
	if cf.Keytab == "" {
		cf.Keytab = DefaultKeytab
	}
	st.cf = cf
	return st, nil
}

// Run runs the daemon until ctx ends, then shuts it down: it stops
// accepting, gives running ops ShutdownGrace to finish, closes what is
// left and returns nil. It returns an error if the configuration is
// invalid or the listener fails.
func Run(ctx context.Context, o Options) error {
	if o.Getenv == nil {
		o.Getenv = os.Getenv
	}
	if o.Stderr == nil {
		o.Stderr = os.Stderr
	}
	st, err := parseArgs(o)
	if err != nil {
		return err
	}
	log := newLogger(o.Stderr, st.logLevel, st.logJSON)
	parsed := *st // as read, before the host's defaults: what a reload compares
	parsed.cf = new(*st.cf)
	cf := st.cf
	for _, f := range st.ignored {
		log.Info("legacy flag ignored: ceod runs in the foreground and logs to stderr (journald)", "flag", f)
	}
	if st.listJ {
		return reportJournal(o.Stderr, cf.Journal, true)
	}

	if cf.Hostname == "" {
		if cf.Hostname, err = registry.FQDN(ctx); err != nil {
			return fmt.Errorf("%w: this host's name: %w", ErrTransient, err)
		}
	}
	if cf.ServicePrincipal == "" {
		cf.ServicePrincipal = "ceod/" + cf.Hostname
	}
	// The acceptor matches the principal without realm: the realm is
	// whatever the keytab entry and the ticket say.
	cf.ServicePrincipal, _, _ = strings.Cut(cf.ServicePrincipal, "@")
	all, err := opsfile.ReadOps(st.configDir)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
	local, skipped := registry.Local(ctx, all, cf.Hostname, o.Canon)
	for _, err := range skipped {
		log.Warn("op host not resolvable; op not served here", "err", err)
	}
	if err := runChecks(ctx, log, o, st, local, skipped); err != nil {
		return err
	}
	table, builtins, err := buildTable(ctx, log, st.configDir, cf, o, local, st.check)
	if err != nil {
		// The checks passed a moment ago: a service went away since.
		if check.Transient(err) {
			return fmt.Errorf("%w: %w", ErrTransient, err)
		}
		return err
	}
	defer func() {
		if err := builtins.Close(); err != nil {
			log.Warn("closing op connections", "err", err)
		}
	}()
	entries := registry.Entries(table, builtins.Handlers)
	described := strings.Join(registry.Describe(table, builtins.Handlers), " ")
	if st.check {
		fmt.Fprintf(o.Stderr, "host %s, principal %s, ops: %s\n", cf.Hostname, cf.ServicePrincipal, described)
		if err := checkACL(o.Stderr, st.configDir); err != nil {
			return err
		}
		if !journaled(table) {
			return nil
		}
		return reportJournal(o.Stderr, cf.Journal, false)
	}
	kf, err := loadKeytab(cf.Keytab, cf.ServicePrincipal)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
	rc, err := rcache.Open(cf.ReplayCache)
	if err != nil {
		return fmt.Errorf("%w: replay cache (replay_cache in ceod.cf): %w", ErrConfig, err)
	}
	defer func() {
		if err := rc.Close(); err != nil {
			log.Warn("closing the replay cache", "err", err)
		}
	}()

	srv := &server.Server{
		Keys:        newLoggedKeytab(kf, log),
		ReplayCache: rc,
		Principal:   cf.ServicePrincipal,
		Ops:         table,
		Limits:      cf.Limits,
		Callers:     callers(cf.Callers, builtins.Trusted),
		Log:         log,
	}
	// Unfinished requests are rolled back before anyone can send the
	// same request again, then on a timer until the journal is empty.
	recoverAtStart(ctx, builtins.Recoverer, log)
	recoveryCtx, stopRecovery := context.WithCancel(context.WithoutCancel(ctx))
	defer stopRecovery()
	if builtins.Recoverer != nil {
		go builtins.Recoverer.Run(recoveryCtx)
	}
	if st.pprof != "" {
		stopPprof, err := startPprof(log, st.pprof)
		if err != nil {
			return err
		}
		defer stopPprof()
	}
	// No TCP keepalive: the server's timeouts (handshake, idle, write)
	// bound every wait for a peer, so probes would find nothing they
	// miss, and enabling them cost four setsockopt calls per connection.
	lc := net.ListenConfig{KeepAlive: -1}
	ln, err := lc.Listen(context.Background(), "tcp", cf.Listen)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", cf.Listen, err)
	}
	log.Info("ceod listening", "addr", ln.Addr().String(), "principal", cf.ServicePrincipal,
		"config", st.configDir, "ops", described)
	if o.Ready != nil {
		o.Ready(ln.Addr(), entries)
	}

	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	running := &parsed
wait:
	for {
		select {
		case err := <-serveErr:
			srv.Close()
			return fmt.Errorf("serving: %w", err)
		case <-o.Reload:
			running = reload(log, o, running, srv, kf, builtins.Trusted)
		case <-ctx.Done():
			break wait
		}
	}

	grace := running.cf.ShutdownGrace
	log.Info("shutting down", "grace", grace)
	stopRecovery()
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("grace period over; closing remaining connections", "err", err)
	}
	closed := make(chan struct{})
	go func() {
		srv.Close()
		<-serveErr // ErrServerClosed
		close(closed)
	}()
	select {
	case <-closed:
		log.Info("ceod stopped")
	case <-time.After(CloseWait):
		// An op ignores its cancelled context (a rollback on a hung
		// service): leave it; the journal has its record.
		log.Warn("ops still running after the grace; stopping without them (the journal keeps their state)", "wait", CloseWait)
	}
	return nil
}

// runChecks runs the checks of package ceod/check: with -check it
// prints each problem, otherwise it logs them; either way a problem is
// an error wrapping ErrConfig, or ErrTransient if every problem may pass.
func runChecks(ctx context.Context, log *slog.Logger, o Options, st *settings, local []opsfile.Op, skipped []error) error {
	report := check.Run(ctx, check.Host{ConfigDir: st.configDir, Ceod: st.cf, KRB5Config: o.Getenv("KRB5_CONFIG"),
		Local: local, Unresolved: skipped})
	if len(report) == 0 {
		return nil
	}
	for _, p := range report {
		switch {
		case st.check && p.Transient:
			fmt.Fprintf(o.Stderr, "problem (may pass by itself): %s\n", p)
		case st.check:
			fmt.Fprintf(o.Stderr, "problem: %s\n", p)
		default:
			log.Error("cannot start", "problem", p.What, "err", p.Err, "transient", p.Transient)
		}
	}
	kind := ErrTransient
	if report.Fatal() {
		kind = ErrConfig
	}
	return fmt.Errorf("%w: %d problem(s) on %s; see above", kind, len(report), st.cf.Hostname)
}

// buildTable binds this host's ops to handlers: the built-in ones
// (built here, with their configuration checked and their services
// reached) and op-NAME programs for the rest.
func buildTable(ctx context.Context, log *slog.Logger, dir string, cf *config.Ceod, o Options, local []opsfile.Op, check bool) (map[wire.MsgType]server.Op, *builtin.Set, error) {
	names := make([]string, 0, len(local))
	for _, op := range local {
		names = append(names, op.Name)
	}
	set, err := builtin.Build(ctx, builtin.Env{ConfigDir: dir, Ceod: cf, KRB5Config: o.Getenv("KRB5_CONFIG"),
		Log: log.WithGroup("ops"), Journal: journalOptions(o.Getenv),
		NoJournal: check || o.Getenv(NoJournalEnv) == "1"}, names)
	if err != nil {
		return nil, nil, err
	}
	for _, op := range local {
		if _, ok := set.Handlers[op.Name]; ok {
			continue
		}
		if err := registry.CheckProgram(registry.ProgramPath(cf.LibDir, op.Name)); err != nil {
			set.Close()
			return nil, nil, fmt.Errorf("op %s: %w", op.Name, err)
		}
	}
	progLog := log.WithGroup("program")
	table, err := registry.Table(local, set.Handlers, func(op opsfile.Op) ops.Handler {
		return &opexec.Program{
			Path:      registry.ProgramPath(cf.LibDir, op.Name),
			RunAs:     op.User,
			ConfigDir: dir,
			MaxOutput: cf.Limits.MaxFrame,
			Log:       progLog.With("op", op.Name),
		}
	})
	if err != nil {
		set.Close()
		return nil, nil, err
	}
	return table, set, nil
}

// callers returns the caller rules of ceod.cf with the service
// principals the ops trust by name (builtin.Set.Trusted) admitted as
// callers of that same name: a principal with an instance is otherwise
// refused before any op runs.
func callers(c server.Callers, trusted []string) server.Callers {
	inst := maps.Clone(c.Instances)
	for _, p := range trusted {
		if strings.Contains(p, "/") && !strings.Contains(p, "@") {
			if inst == nil {
				inst = map[string]string{}
			}
			if _, set := inst[p]; !set {
				inst[p] = p
			}
		}
	}
	c.Instances = inst
	return c
}

// loadKeytab loads the service keytab and checks that it has a key for
// principal, so that a wrong keytab fails at startup, not at the first
// client. The server rereads the file when it changes.
func loadKeytab(path, principal string) (*krb5.KeytabFile, error) {
	kf, err := krb5.OpenKeytab(path)
	if err != nil {
		return nil, err
	}
	kt, err := kf.Keytab()
	if err != nil {
		return nil, err
	}
	if !check.HasKey(kt, principal) {
		return nil, fmt.Errorf("keytab %s has no key for %s (add one with kadmin ktadd, or set keytab/service_principal in ceod.cf)", path, principal)
	}
	return kf, nil
}

// loggedKeytab is the server's keytab source: the file, reread when it
// changes, with a log line naming the keys each reread brought.
type loggedKeytab struct {
	kf   *krb5.KeytabFile
	log  *slog.Logger
	last atomic.Pointer[keytab.Keytab]
}

func newLoggedKeytab(kf *krb5.KeytabFile, log *slog.Logger) *loggedKeytab {
	l := &loggedKeytab{kf: kf, log: log}
	if kt, err := kf.Keytab(); err == nil {
		l.last.Store(kt)
	}
	return l
}

func (l *loggedKeytab) Keytab() (*keytab.Keytab, error) {
	return l.logged(l.kf.Keytab())
}

// Refresh is Keytab looking at the file now: the acceptor asks for it
// when a ticket needs a key the keytab it got lacks (gss.KeytabRefresher).
func (l *loggedKeytab) Refresh() (*keytab.Keytab, error) {
	return l.logged(l.kf.Refresh())
}

func (l *loggedKeytab) logged(kt *keytab.Keytab, err error) (*keytab.Keytab, error) {
	if err == nil && l.last.Swap(kt) != kt {
		l.log.Info("keytab changed; reread", "path", l.kf.Path(), "keys", l.kf.Describe())
	}
	return kt, err
}

// newLogger returns the daemon's logger, writing to w.
func newLogger(w io.Writer, level slog.Level, json bool) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if json {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// checkACL validates the ACL file for -check, if there is one (only hosts
// serving member ops need it, and they refuse to start without it).
func checkACL(w io.Writer, configDir string) error {
	path := builtin.ACLPath(configDir)
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	a, err := acl.Load(path)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "%s: rules for %s\n", path, strings.Join(a.Ops(), " "))
	return nil
}
