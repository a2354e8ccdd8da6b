package krb5

import (
	"bufio"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jcmturner/gokrb5/v8/config"
	"github.com/jcmturner/gokrb5/v8/iana/etypeID"
)

// This file is gokrb5 v8.4.4's krb5.conf parser (config.NewFromScanner
// and the section parsers it calls), with the same results and errors,
// but without its regular expressions: gokrb5 compiles five of them for
// every line, which took most of a ceoc call's CPU time (3 ms for a
// 20-line file). TestParseConfigMatchesGokrb5 and FuzzParseConfig compare
// the two. Its quirks are kept on purpose: a value ends at the next "=",
// a comment starts at the first "#" or ";" anywhere in a line, and a
// realm block opened and closed on one line panics (LoadConfigFile turns
// that into an error naming the line).

// errUnsupported is gokrb5's config.UnsupportedDirective: the config is
// returned with it and is usable (LoadConfigFile ignores it).
var errUnsupported = errors.New("v4 configurations are not supported")

// whitespace is what \s matches in Go's regular expressions.
const whitespace = "\t\n\f\r "

// Section names as gokrb5's NewFromScanner records them.
const (
	secLibdefaults = "libdefaults"
	secRealms      = "realms"
	secDomainRealm = "domain_realm"
	secUnknown     = "unknown_section"
)

// sectionOf classifies a line as gokrb5's regular expressions do:
// comment (skipped), a section header, or a content line ("").
func sectionOf(line string) (section string, comment bool) {
	t := strings.TrimLeft(line, whitespace)
	switch {
	case strings.HasPrefix(t, "#"), strings.HasPrefix(t, ";"):
		return "", true
	case strings.HasPrefix(t, "[libdefaults]"):
		return secLibdefaults, false
	case strings.HasPrefix(t, "[realms]"):
		return secRealms, false
	case strings.HasPrefix(t, "[domain_realm]"):
		return secDomainRealm, false
	case strings.HasPrefix(t, "[") && strings.Contains(t[1:], "]"):
		return secUnknown, false
	}
	return "", false
}

// parseConfig reads a krb5.conf as gokrb5's config.NewFromReader does.
// The error is errUnsupported (with a usable config) or a parse error
// (with a nil config).
func parseConfig(r io.Reader) (*config.Config, error) {
	c := config.New()
	var (
		unsupported error
		sections    = map[int]string{}
		starts      []int
		lines       []string
	)
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		sec, comment := sectionOf(line)
		switch {
		case comment:
		case sec != "":
			sections[len(lines)] = sec
			starts = append(starts, len(lines))
		default:
			lines = append(lines, line)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	for i, start := range starts {
		end := len(lines)
		if i+1 < len(starts) {
			end = starts[i+1]
		}
		var err error
		switch sections[start] {
		case secLibdefaults:
			if err = parseLibDefaults(&c.LibDefaults, lines[start:end]); err != nil {
				err = fmt.Errorf("error processing libdefaults section: %v", err)
			}
		case secRealms:
			var realms []config.Realm
			realms, err = parseRealms(lines[start:end])
			if err != nil && err != errUnsupported {
				err = fmt.Errorf("error processing realms section: %v", err)
			}
			c.Realms = realms
		case secDomainRealm:
			if err = parseDomainRealm(c.DomainRealm, lines[start:end]); err != nil {
				err = fmt.Errorf("error processing domaain_realm section: %v", err)
			}
		}
		switch {
		case err == errUnsupported:
			unsupported = err
		case err != nil:
			return nil, err
		}
	}
	return c, unsupported
}

// content strips a trailing comment, as gokrb5 does: from the first "#"
// or ";" on.
func content(line string) string {
	if i := strings.IndexAny(line, "#;"); i != -1 {
		return line[:i]
	}
	return line
}

func parseLibDefaults(l *config.LibDefaults, lines []string) error {
	for _, line := range lines {
		line = strings.TrimSpace(content(line))
		if line == "" {
			continue
		}
		if !strings.Contains(line, "=") {
			return config.InvalidErrorf("libdefaults section line (%s)", line)
		}
		p := strings.Split(line, "=")
		if err := setLibDefault(l, strings.TrimSpace(strings.ToLower(p[0])), p[1], line); err != nil {
			return err
		}
	}
	l.DefaultTGSEnctypeIDs = parseETypes(l.DefaultTGSEnctypes, l.AllowWeakCrypto)
	l.DefaultTktEnctypeIDs = parseETypes(l.DefaultTktEnctypes, l.AllowWeakCrypto)
	l.PermittedEnctypeIDs = parseETypes(l.PermittedEnctypes, l.AllowWeakCrypto)
	return nil
}

// boolLibDefault returns the boolean keys of [libdefaults].
func boolLibDefault(l *config.LibDefaults, key string) *bool {
	switch key {
	case "allow_weak_crypto":
		return &l.AllowWeakCrypto
	case "canonicalize":
		return &l.Canonicalize
	case "dns_canonicalize_hostname":
		return &l.DNSCanonicalizeHostname
	case "dns_lookup_kdc":
		return &l.DNSLookupKDC
	case "dns_lookup_realm":
		return &l.DNSLookupRealm
	case "forwardable":
		return &l.Forwardable
	case "ignore_acceptor_hostname":
		return &l.IgnoreAcceptorHostname
	case "k5login_authoritative":
		return &l.K5LoginAuthoritative
	case "noaddresses":
		return &l.NoAddresses
	case "proxiable":
		return &l.Proxiable
	case "rdns":
		return &l.RDNS
	case "verify_ap_req_nofail":
		return &l.VerifyAPReqNofail
	}
	return nil
}

// durationLibDefault returns the duration keys of [libdefaults].
func durationLibDefault(l *config.LibDefaults, key string) *time.Duration {
	switch key {
	case "clockskew":
		return &l.Clockskew
	case "renew_lifetime":
		return &l.RenewLifetime
	case "ticket_lifetime":
		return &l.TicketLifetime
	}
	return nil
}

// intLibDefault returns the integer keys of [libdefaults] with their
// bounds.
func intLibDefault(l *config.LibDefaults, key string) (v *int, unsigned bool, min, max int64) {
	switch key {
	case "ccache_type":
		return &l.CCacheType, true, 0, 4
	case "kdc_timesync":
		return &l.KDCTimeSync, false, 0, 1<<31 - 1
	case "realm_try_domains":
		return &l.RealmTryDomains, false, -1, 1<<31 - 1
	case "safe_checksum_type":
		return &l.SafeChecksumType, false, 0, 1<<31 - 1
	case "udp_preference_limit":
		return &l.UDPPreferenceLimit, true, 0, 32700
	}
	return nil, false, 0, 0
}

// setLibDefault sets one [libdefaults] relation; val is the text between
// the first and second "=".
func setLibDefault(l *config.LibDefaults, key, val, line string) error {
	if b := boolLibDefault(l, key); b != nil {
		v, err := parseBoolean(val)
		if err != nil {
			return config.InvalidErrorf("libdefaults section line (%s): %v", line, err)
		}
		*b = v
		return nil
	}
	if d := durationLibDefault(l, key); d != nil {
		v, err := parseDuration(val)
		if err != nil {
			return config.InvalidErrorf("libdefaults section line (%s): %v", line, err)
		}
		*d = v
		return nil
	}
	if n, unsigned, min, max := intLibDefault(l, key); n != nil {
		var v int64
		var err error
		if unsigned {
			var u uint64
			u, err = strconv.ParseUint(strings.TrimSpace(val), 10, 32)
			v = int64(u)
		} else {
			v, err = strconv.ParseInt(strings.TrimSpace(val), 10, 32)
		}
		if err != nil || v < min || v > max {
			return config.InvalidErrorf("libdefaults section line (%s)", line)
		}
		*n = int(v)
		return nil
	}
	strs := map[string]*string{
		"default_client_keytab_name": &l.DefaultClientKeytabName, "default_keytab_name": &l.DefaultKeytabName,
		"default_realm": &l.DefaultRealm, "k5login_directory": &l.K5LoginDirectory,
	}
	if p := strs[key]; p != nil {
		*p = strings.TrimSpace(val)
		return nil
	}
	lists := map[string]*[]string{
		"default_tgs_enctypes": &l.DefaultTGSEnctypes, "default_tkt_enctypes": &l.DefaultTktEnctypes,
		"permitted_enctypes": &l.PermittedEnctypes,
	}
	if p := lists[key]; p != nil {
		*p = strings.Fields(val)
		return nil
	}
	switch key {
	case "extra_addresses":
		for _, ip := range strings.Split(strings.TrimSpace(val), ",") {
			if eip := net.ParseIP(ip); eip != nil {
				l.ExtraAddresses = append(l.ExtraAddresses, eip)
			}
		}
	case "kdc_default_options":
		b, err := hex.DecodeString(strings.ReplaceAll(strings.TrimSpace(val), "0x", ""))
		if err != nil {
			return config.InvalidErrorf("libdefaults section line (%s): %v", line, err)
		}
		l.KDCDefaultOptions.Bytes = b
		l.KDCDefaultOptions.BitLength = len(b) * 8
	case "preferred_preauth_types":
		var v []int
		for _, s := range strings.Split(strings.TrimSpace(val), ",") {
			i, err := strconv.ParseInt(s, 10, 32)
			if err != nil {
				return config.InvalidErrorf("libdefaults section line (%s): %v", line, err)
			}
			v = append(v, int(i))
		}
		l.PreferredPreauthTypes = v
	}
	return nil
}

// parseRealms parses the [realms] section; a realm block must span
// several lines (see the file comment).
func parseRealms(lines []string) (realms []config.Realm, err error) {
	var name string
	var start, depth int
	for i, l := range lines {
		l = strings.TrimSpace(content(l))
		if l == "" {
			continue
		}
		if strings.Contains(l, "{") {
			depth++
			if !strings.Contains(l, "=") {
				return nil, fmt.Errorf("realm configuration line invalid: %s", l)
			}
			if depth == 1 {
				start = i
				name = strings.TrimSpace(strings.Split(l, "=")[0])
			}
		}
		if strings.Contains(l, "}") {
			if depth < 1 {
				return nil, errors.New("invalid Realms section in configuration")
			}
			depth--
			if depth == 0 {
				r, e := parseRealm(name, lines[start+1:i])
				if e != nil {
					err = e
					if e != errUnsupported {
						return realms, err
					}
				}
				realms = append(realms, r)
			}
		}
	}
	return realms, err
}

// parseRealm parses the relations of one realm block. v4 settings are
// skipped, with errUnsupported.
func parseRealm(name string, lines []string) (r config.Realm, err error) {
	r.Realm = name
	var adminFinal, kdcFinal, kpasswdFinal, masterFinal, ignore bool
	var depth int // of nested { } blocks
	for _, line := range lines {
		if ignore && depth > 0 && !strings.Contains(line, "{") && !strings.Contains(line, "}") {
			continue
		}
		line = strings.TrimSpace(content(line))
		if line == "" {
			continue
		}
		if !strings.Contains(line, "=") && !strings.Contains(line, "}") {
			return r, config.InvalidErrorf("realms section line (%s)", line)
		}
		if strings.Contains(line, "v4_") {
			ignore = true
			err = errUnsupported
		}
		if strings.Contains(line, "{") {
			depth++
			if ignore {
				continue
			}
		}
		if strings.Contains(line, "}") {
			depth--
			if depth < 0 {
				return r, config.InvalidErrorf("unpaired curly brackets")
			}
			if ignore {
				if depth < 1 {
					depth = 0
					ignore = false
				}
				continue
			}
		}
		p := strings.Split(line, "=")
		v := strings.TrimSpace(p[1])
		switch strings.TrimSpace(strings.ToLower(p[0])) {
		case "admin_server":
			appendUntilFinal(&r.AdminServer, v, &adminFinal)
		case "default_domain":
			r.DefaultDomain = v
		case "kdc":
			if !strings.Contains(v, ":") {
				// No port: Kerberos's 88.
				if strings.HasSuffix(v, "*") {
					v = strings.TrimSpace(strings.TrimSuffix(v, "*")) + ":88*"
				} else {
					v = strings.TrimSpace(v) + ":88"
				}
			}
			appendUntilFinal(&r.KDC, v, &kdcFinal)
		case "kpasswd_server":
			appendUntilFinal(&r.KPasswdServer, v, &kpasswdFinal)
		case "master_kdc":
			appendUntilFinal(&r.MasterKDC, v, &masterFinal)
		}
	}
	if len(r.KPasswdServer) < 1 {
		for _, a := range r.AdminServer {
			r.KPasswdServer = append(r.KPasswdServer, strings.Split(a, ":")[0]+":464")
		}
	}
	return r, err
}

func parseDomainRealm(d config.DomainRealm, lines []string) error {
	for _, line := range lines {
		line = content(line)
		if strings.TrimSpace(line) == "" {
			continue
		}
		if !strings.Contains(line, "=") {
			return config.InvalidErrorf("realm line (%s)", line)
		}
		p := strings.Split(line, "=")
		d[strings.TrimSpace(strings.ToLower(p[0]))] = strings.TrimSpace(p[1])
	}
	return nil
}

// parseETypes turns enctype names into IDs, dropping unknown ones and,
// unless weak is allowed, config.WeakETypeList.
func parseETypes(names []string, weak bool) []int32 {
	var ids []int32
	weakNames := strings.Fields(config.WeakETypeList)
	for _, et := range names {
		if !weak && slices.Contains(weakNames, et) {
			continue
		}
		if id := etypeID.EtypeSupported(et); id != 0 {
			ids = append(ids, id)
		}
	}
	return ids
}

// parseDuration reads a krb5.conf duration: Nd[duration], a Go duration,
// N seconds, or h:m[:s].
func parseDuration(s string) (time.Duration, error) {
	s = strings.ReplaceAll(strings.TrimSpace(s), " ", "")
	if strings.Contains(s, "d") {
		ds := strings.SplitN(s, "d", 2)
		dn, err := strconv.ParseUint(ds[0], 10, 32)
		if err != nil {
			return 0, errors.New("invalid time duration")
		}
		d := time.Duration(dn*24) * time.Hour
		if ds[1] != "" {
			dp, err := time.ParseDuration(ds[1])
			if err != nil {
				return 0, errors.New("invalid time duration")
			}
			d += dp
		}
		return d, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		return d, nil
	}
	if v, err := strconv.ParseUint(s, 10, 32); err == nil && v > 0 {
		return time.Duration(v) * time.Second, nil
	}
	if strings.Contains(s, ":") {
		t := strings.Split(s, ":")
		if len(t) > 3 {
			return 0, errors.New("invalid time duration value")
		}
		var n []int
		for _, f := range t {
			j, err := strconv.ParseInt(f, 10, 16)
			if err != nil {
				return 0, errors.New("invalid time duration value")
			}
			n = append(n, int(j))
		}
		d := time.Duration(n[0])*time.Hour + time.Duration(n[1])*time.Minute
		if len(n) == 3 {
			d += time.Duration(n[2]) * time.Second
		}
		return d, nil
	}
	return 0, errors.New("invalid time duration value")
}

func parseBoolean(s string) (bool, error) {
	s = strings.TrimSpace(s)
	if v, err := strconv.ParseBool(s); err == nil {
		return v, nil
	}
	switch strings.ToLower(s) {
	case "yes", "y":
		return true, nil
	case "no", "n":
		return false, nil
	}
	return false, errors.New("invalid boolean value")
}

// appendUntilFinal appends value unless a value ending in "*" (final)
// came before.
func appendUntilFinal(s *[]string, value string, final *bool) {
	if *final {
		return
	}
	if last := len(value) - 1; last >= 0 && value[last] == '*' {
		*final = true
		value = value[:last]
	}
	*s = append(*s, value)
}
