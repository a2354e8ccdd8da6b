// Package builtin builds the handlers of the ops ceod implements in Go
// (package ops and its sub-packages) from the configuration directory.
// It opens only what the local ops need: a host that serves ping alone
// needs no accounts.cf, a host without the mysql op never reads mysql.cf.
package builtin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	ceodconfig "github.com/csclub/ceo/ceod/config"
	"github.com/csclub/ceo/ops"
	"github.com/csclub/ceo/ops/acl"
	"github.com/csclub/ceo/ops/adduser"
	"github.com/csclub/ceo/ops/config"
	"github.com/csclub/ceo/ops/database"
	"github.com/csclub/ceo/ops/directory"
	"github.com/csclub/ceo/ops/journal"
	"github.com/csclub/ceo/ops/kadmin"
	"github.com/csclub/ceo/ops/mail"
	"github.com/csclub/ceo/ops/mailman"
)

// makers build the built-in handlers, by legacy op name, from
// accounts.cf and the shared LDAP client. ping, which needs neither, is
// not among them.
var makers = map[string]func(b *builder, acc *config.Accounts, dir *directory.Client) (ops.Handler, error){
	"adduser":    (*builder).adduser,
	"mail":       (*builder).mail,
	"mailman":    (*builder).mailman,
	"mysql":      (*builder).mysql,
	"postgresql": (*builder).postgresql,
	"renew":      memberOp("renew"),
	"group":      memberOp("group"),
	"positions":  memberOp("positions"),
	"shell":      memberOp("shell"),
	"passwd":     memberOp("passwd"),
	"deluser":    memberOp("deluser"),
	"program":    memberOp("program"),
}

// Has reports whether op has a built-in handler.
func Has(op string) bool {
	_, ok := makers[op]
	return ok || op == "ping"
}

// Env is what Build reads besides the op names.
type Env struct {
	// ConfigDir holds accounts.cf, mysql.cf, postgresql.cf, mailman.cf.
	ConfigDir string
	// Ceod is the parsed ceod.cf; its Extensions complete accounts.cf.
	Ceod *ceodconfig.Ceod
	// KRB5Config is the krb5.conf for LDAP binds and kadmin; "" means
	// $KRB5_CONFIG, else /etc/krb5.conf.
	KRB5Config string
	// Log receives the handlers' own records. Nil means no logging.
	Log *slog.Logger
	// Journal is the options of the journal of the multi-step ops (see
	// Journaled), opened at Ceod.Journal if one of them is built; NoJournal
	// skips it (ceod -check, which must not take a running ceod's lock).
	Journal   journal.Options
	NoJournal bool
}

// Journaled reports whether op changes more than one system and so
// needs the journal.
func Journaled(op string) bool {
	return op == "adduser" || op == "mysql" || op == "postgresql" || op == "deluser"
}

// Set holds built handlers and the connections they keep open.
type Set struct {
	// Handlers are the built handlers by op name.
	Handlers map[string]ops.Handler
	// Recoverer rolls back the journal's unfinished requests; nil when
	// no journaled op is built.
	Recoverer *journal.Recoverer
	// Trusted are the service principals (without realm, such as
	// "ceod/host") that the ops trust by name: ceod must admit them as
	// callers of that same name (see ceod/server.Callers).
	Trusted []string
	closers []func() error
}

// Close releases the handlers' connections (LDAP, database pools).
func (s *Set) Close() error {
	var errs []error
	for i := len(s.closers) - 1; i >= 0; i-- {
		errs = append(errs, s.closers[i]())
	}
	s.closers = nil
	return errors.Join(errs...)
}

// dialTimeout bounds the connection checks made at startup: LDAP and
// the databases answer in milliseconds; 30 s rides out one that is
// restarting beside ceod, and fails the start rather than hang it.
const dialTimeout = 30 * time.Second

// Build builds the handlers of the named ops; names without a built-in
// are ignored. It checks every configuration file they need and reaches
// the services they use (LDAP, MariaDB, PostgreSQL) once, so that a
// misconfigured host fails at startup rather than at its first request.
// On error nothing is left open.
func Build(ctx context.Context, env Env, names []string) (_ *Set, err error) {
	if env.Log == nil {
		env.Log = slog.New(slog.DiscardHandler)
	}
	s := &Set{Handlers: map[string]ops.Handler{}}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	b := &builder{ctx: ctx, env: env, set: s, names: names}
	for _, n := range names {
		if _, ok := makers[n]; ok {
			b.governed = append(b.governed, n)
		}
	}
	if !env.NoJournal && slices.ContainsFunc(names, Journaled) {
		if err := b.openJournal(); err != nil {
			return nil, err
		}
	}
	for _, name := range names {
		if !Has(name) {
			continue
		}
		h, err := b.build(name)
		if err != nil {
			return nil, fmt.Errorf("op %s: %w", name, err)
		}
		s.Handlers[name] = h
	}
	return s, nil
}

// builder loads shared inputs once, on first use.
type builder struct {
	ctx   context.Context
	env   Env
	set   *Set
	names []string // the ops this host serves
	// governed are those of names ceod.acl governs: the built-in ops
	// but ping.
	governed []string
	acc      *config.Accounts
	dir      *directory.Client

	journal *journal.Journal
	rules   *acl.ACL // ceod.acl (see member.go)
	// kadm is the one kadmin session of adduser and the member ops.
	kadm *kadmin.Client
	// members are the member ops, built together (see member.go).
	members map[string]ops.Handler
}

// openJournal opens ceod.cf's journal and makes the Set's Recoverer.
func (b *builder) openJournal() error {
	path := ceodconfig.DefaultJournal
	interval := ceodconfig.DefaultRecoveryInterval
	if b.env.Ceod != nil {
		path, interval = b.env.Ceod.Journal, b.env.Ceod.RecoveryInterval
	}
	j, err := journal.Open(path, b.env.Journal)
	if err != nil {
		return err
	}
	b.set.closers = append(b.set.closers, j.Close)
	b.journal = j
	b.set.Recoverer = &journal.Recoverer{J: j, Log: b.env.Log.WithGroup("journal"), Interval: interval}
	return nil
}

func (b *builder) build(name string) (ops.Handler, error) {
	if name == "ping" {
		return ops.Ping, nil
	}
	acc, err := b.accounts()
	if err != nil {
		return nil, err
	}
	if name == "adduser" && acc.AdminKeytab == "" {
		// Say what is missing rather than fail dialing anonymously.
		return nil, adduser.ErrNoAdminKeytab
	}
	dir, err := b.directory()
	if err != nil {
		return nil, err
	}
	return makers[name](b, acc, dir)
}

func (b *builder) adduser(acc *config.Accounts, dir *directory.Client) (ops.Handler, error) {
	a, err := b.acl()
	if err != nil {
		return nil, err
	}
	h, err := adduser.Setup(b.ctx, acc, adduser.Options{KRB5Config: b.env.KRB5Config, Directory: dir, ACL: a, Log: b.env.Log,
		Journal: b.journal, Recoverer: b.set.Recoverer, Kadmin: b.kadmin(acc)})
	if err != nil {
		return nil, err
	}
	b.set.closers = append(b.set.closers, h.Close)
	sub, err := b.subscriber(acc)
	if err != nil {
		return nil, err
	}
	h.SetSubscriber(sub)
	return h, nil
}

// kadmin is the kadmin client of the account ops, made once: one
// session for all of them, ended when the Set closes.
func (b *builder) kadmin(acc *config.Accounts) *kadmin.Client {
	if b.kadm == nil {
		b.kadm = adduser.NewKadmin(acc, b.env.KRB5Config, b.env.Log)
		b.set.closers = append(b.set.closers, b.kadm.Close)
	}
	return b.kadm
}

func (b *builder) mail(acc *config.Accounts, dir *directory.Client) (ops.Handler, error) {
	a, err := b.acl()
	if err != nil {
		return nil, err
	}
	d := mail.Deps{Dir: dir, ACL: a, Log: b.env.Log}
	if acc.ForwardDNSServer != "" {
		d.Resolver = mail.ResolverAt(acc.ForwardDNSServer)
	}
	return mail.New(d)
}

// accounts loads accounts.cf and applies ceod.cf's account settings.
func (b *builder) accounts() (*config.Accounts, error) {
	if b.acc != nil {
		return b.acc, nil
	}
	acc, err := LoadAccounts(b.env.ConfigDir, b.env.Ceod)
	if err != nil {
		return nil, err
	}
	if len(acc.Unknown) > 0 {
		b.env.Log.Warn("accounts.cf has keys this version does not use", "keys", acc.Unknown)
	}
	b.acc = acc
	return acc, nil
}

// LoadAccounts loads dir/accounts.cf and applies the account settings
// of ceod.cf (cf may be nil), as the built-in ops see them.
func LoadAccounts(dir string, cf *ceodconfig.Ceod) (*config.Accounts, error) {
	acc, err := config.LoadAccounts(dir)
	if err != nil {
		return nil, err
	}
	if cf != nil {
		for _, e := range cf.Extensions {
			if _, err := acc.SetExtension(e.Name, e.Value); err != nil {
				return nil, fmt.Errorf("config: %s:%d: %w", ceodconfig.CeodFile, e.Line, err)
			}
		}
	}
	return acc, nil
}

// directory returns the one LDAP client of the built-in ops (see
// directory.DialAccounts): bound as ldap_admin_principal when ceod.cf
// names an admin_keytab, anonymous otherwise (the directory is
// world-readable on club machines; only adduser writes).
func (b *builder) directory() (*directory.Client, error) {
	if b.dir != nil {
		return b.dir, nil
	}
	ctx, cancel := context.WithTimeout(b.ctx, dialTimeout)
	defer cancel()
	dir, err := directory.DialAccounts(ctx, b.acc, directory.AccountsOptions{KRB5Config: b.env.KRB5Config,
		Log: b.env.Log.WithGroup("directory")})
	if err != nil {
		return nil, err
	}
	b.set.closers = append(b.set.closers, dir.Close)
	b.dir = dir
	return dir, nil
}

func (b *builder) mysql(acc *config.Accounts, dir *directory.Client) (ops.Handler, error) {
	cf, err := config.LoadMySQL(b.env.ConfigDir)
	if err != nil {
		return nil, err
	}
	db, err := database.OpenMariaDB(database.MariaDBConfig{AdminUser: cf.AdminUsername, AdminPassword: cf.AdminPassword,
		Host: cf.Host, Port: cf.Port, Socket: cf.Socket})
	if err != nil {
		return nil, err
	}
	b.set.closers = append(b.set.closers, db.Close)
	ctx, cancel := context.WithTimeout(b.ctx, dialTimeout)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		return nil, fmt.Errorf("connecting to MariaDB as %s: %w", cf.AdminUsername, err)
	}
	d, err := b.databaseDeps(acc, dir)
	if err != nil {
		return nil, err
	}
	return database.New(d, &database.MariaDB{DB: db, AdminUser: cf.AdminUsername})
}

func (b *builder) postgresql(acc *config.Accounts, dir *directory.Client) (ops.Handler, error) {
	cf, err := config.LoadPostgreSQL(b.env.ConfigDir)
	if err != nil {
		return nil, err
	}
	pool, err := database.OpenPostgreSQL(b.ctx, cf.AdminURL)
	if err != nil {
		return nil, err
	}
	b.set.closers = append(b.set.closers, func() error { pool.Close(); return nil })
	ctx, cancel := context.WithTimeout(b.ctx, dialTimeout)
	defer cancel()
	if err := pool.Ping(ctx); err != nil {
		return nil, fmt.Errorf("connecting to PostgreSQL (postgresql_admin_url): %w", err)
	}
	admin := pool.Config().ConnConfig.User
	d, err := b.databaseDeps(acc, dir)
	if err != nil {
		return nil, err
	}
	return database.New(d, &database.PostgreSQL{Pool: pool, AdminRole: admin, LockDatabases: cf.LockDatabases})
}

// databaseDeps are what the two database ops share.
func (b *builder) databaseDeps(acc *config.Accounts, dir *directory.Client) (database.Deps, error) {
	a, err := b.acl()
	return database.Deps{Dir: dir, ACL: a, Log: b.env.Log, Reserved: acc.Reserved,
		Journal: b.journal, Recoverer: b.set.Recoverer}, err
}

func (b *builder) mailman(acc *config.Accounts, dir *directory.Client) (ops.Handler, error) {
	cf, err := config.LoadMailman(b.env.ConfigDir)
	if err != nil {
		return nil, err
	}
	a, err := b.acl()
	if err != nil {
		return nil, err
	}
	d := mailman.Deps{Dir: dir, ACL: a, MembersList: cf.MembersList,
		ListDomain: cf.ListDomain, ListID: cf.ListID, NameRule: acc.UsernameRegex, Log: b.env.Log,
		Trusted: b.trusted(acc)}
	b.set.Trusted = append(b.set.Trusted, d.Trusted...)
	if !cf.Disabled() {
		d.Lists = &mailman.Client{URL: cf.APIURL, User: cf.APIUser, Password: cf.APIPassword}
	}
	return mailman.New(d)
}
