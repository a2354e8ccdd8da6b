package daemon

import (
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"

	"github.com/csclub/ceo/ceod/config"
	"github.com/csclub/ceo/ceod/server"
	"github.com/csclub/ceo/wire/krb5"
)

// reload rereads the keytab and the configuration (SIGHUP), applies
// what a running server can change (the keys, the limits, the caller
// rules, the shutdown grace) and logs every setting that changed,
// saying whether it took effect or needs a restart. A configuration
// that does not parse changes nothing. It returns the settings now in
// force.
func reload(log *slog.Logger, o Options, old *settings, srv *server.Server, kf *krb5.KeytabFile, trusted []string) *settings {
	// The keytab is also reread on the first handshake after the file
	// changes; SIGHUP shows the operator the result.
	if changed, err := kf.Reload(); err != nil {
		log.Warn("reload: keytab not reloaded; keeping the keys read before", "err", err)
	} else {
		log.Info("reload: keytab reread", "path", kf.Path(), "changed", changed, "keys", kf.Describe())
	}
	st, err := parseArgs(o)
	if err != nil {
		log.Error("reload: configuration unchanged", "err", err)
		return old
	}
	srv.Reconfigure(st.cf.Limits, callers(st.cf.Callers, trusted))
	changes := 0
	before, after := values(old.cf), values(st.cf)
	for _, key := range slices.Sorted(maps.Keys(after)) {
		b, a := before[key], after[key]
		if b.value == a.value {
			continue
		}
		changes++
		log.Info("reload: setting changed", "key", key, "old", b.value, "new", a.value, "applied", a.live)
	}
	log.Info("reload: configuration read", "config", st.configDir, "changed", changes)
	return st
}

// value is a setting as the reload log shows it; live says whether a
// running ceod applies a change (else it needs a restart).
type value struct {
	value string
	live  bool
}

// values lists the settings of cf by ceod.cf key.
func values(cf *config.Ceod) map[string]value {
	l := cf.Limits
	restart := func(v any) value { return value{fmt.Sprint(v), false} }
	live := func(v any) value { return value{fmt.Sprint(v), true} }
	var ext []string
	for _, e := range cf.Extensions {
		ext = append(ext, e.Name+"="+e.Value)
	}
	var inst []string
	for _, p := range slices.Sorted(maps.Keys(cf.Callers.Instances)) {
		inst = append(inst, p+"="+cf.Callers.Instances[p])
	}
	return map[string]value{
		"listen":                  restart(cf.Listen),
		"port":                    restart(cf.Port),
		"hostname":                restart(cf.Hostname),
		"keytab":                  restart(cf.Keytab),
		"service_principal":       restart(cf.ServicePrincipal),
		"replay_cache":            restart(cf.ReplayCache),
		"journal":                 restart(cf.Journal),
		"recovery_interval":       restart(cf.RecoveryInterval),
		"lib_dir":                 restart(cf.LibDir),
		"account ops settings":    restart(strings.Join(ext, " ")),
		"shutdown_grace":          live(cf.ShutdownGrace),
		"max_frame":               live(l.MaxFrame),
		"handshake_timeout":       live(l.HandshakeTimeout),
		"idle_timeout":            live(l.IdleTimeout),
		"write_timeout":           live(l.WriteTimeout),
		"op_timeout":              live(l.OpTimeout),
		"max_conns":               live(l.MaxConns),
		"max_startups":            live(l.MaxStartups),
		"max_startups_per_ip":     live(l.MaxStartupsPerAddr),
		"max_conns_per_principal": live(l.MaxConnsPerPrincipal),
		"preauth_bytes":           live(l.PreAuthBytes),
		"caller_realms":           live(strings.Join(cf.Callers.Realms, " ")),
		"caller_instances":        live(strings.Join(inst, " ")),
	}
}
