package adduser

import (
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/csclub/ceo/ops/config"
	"github.com/csclub/ceo/wire/ceopb"
)

// Hard limits, applied whatever accounts.cf says.
const (
	maxUsernameLen = 32 // useradd's limit; utmp and ps truncate longer names
	maxRealnameLen = 256
	maxPasswordLen = 256
	maxProgramLen  = 128
	maxEmailLen    = 254
)

// safeName is a second line of defence behind username_regex: a name
// that passes it is harmless in a DN, a filter, a path, a kadmin query
// and an argv, even if an administrator loosens the regex. Letters,
// digits, '_', '-' and '.', starting with a letter or '_'.
var safeName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.-]*$`)

// emailRe is what may go into .forward: one plain address. No '|'
// (a pipe to a program), no '/' (a file), no ',' or blanks (several
// recipients), no quotes or backslashes, no ':' (":include:").
var emailRe = regexp.MustCompile(`^[A-Za-z0-9_+=%][A-Za-z0-9._+=%-]*@[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$`)

// request is a validated AddUser.
type request struct {
	typ      ceopb.AddUser_Type
	kind     config.Kind
	name     string
	password string
	realname string
	program  string
	email    string
}

// hookWord is the legacy first argument of the notify hook.
func (r *request) hookWord() string {
	switch r.typ {
	case ceopb.AddUser_CLUB:
		return "addclub"
	case ceopb.AddUser_CLUB_REP:
		return "addclubrep"
	}
	return "addmember"
}

// validate checks m against the legacy rules and the configuration and
// returns the request, or every problem found (for one EINVAL reply).
func validate(m *ceopb.AddUser, cfg *config.Accounts) (*request, []string) {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	r := &request{
		typ:      m.GetType(),
		name:     m.GetUsername(),
		password: m.GetPassword(),
		realname: m.GetRealname(),
		program:  m.GetProgram(),
		email:    m.GetEmail(),
	}
	switch r.typ {
	case ceopb.AddUser_MEMBER, ceopb.AddUser_CLUB_REP:
		r.kind = config.KindMember
	case ceopb.AddUser_CLUB:
		r.kind = config.KindClub
	default:
		bad("unknown account type %d", int32(r.typ))
	}

	switch {
	case r.name == "":
		bad("username is empty")
	case cfg.Reserved(r.name):
		bad("username %q is reserved: it names a service or system account (built-in list, or reserved_names in accounts.cf)", r.name)
	case len(r.name) > maxUsernameLen:
		bad("username is %d characters long; the limit is %d", len(r.name), maxUsernameLen)
	case !cfg.UsernameRegex.MatchString(r.name):
		bad("invalid username %q: it must match %s", r.name, cfg.UsernamePattern)
	case !safeName.MatchString(r.name):
		bad("invalid username %q: only letters, digits, '_', '-' and '.' are allowed", r.name)
	}

	if strings.TrimSpace(r.realname) == "" {
		bad("real name is empty")
	} else if msg := textProblem(r.realname, maxRealnameLen); msg != "" {
		bad("real name %s", msg)
	}

	if r.kind == config.KindClub {
		if r.password != "" {
			bad("a club has no password (club members use their own accounts)")
		}
		if r.program != "" {
			bad("a club has no program")
		}
	} else if r.typ != 0 {
		switch n := utf8.RuneCountInString(r.password); {
		case r.password == "":
			bad("password is empty")
		case n < cfg.MinPasswordLength:
			bad("password is too short: it needs at least %d characters", cfg.MinPasswordLength)
		case len(r.password) > maxPasswordLen:
			bad("password is too long: the limit is %d bytes", maxPasswordLen)
		case hasControl(r.password) || !utf8.ValidString(r.password):
			bad("password contains control characters or invalid UTF-8")
		}
		if r.program != "" {
			if msg := textProblem(r.program, maxProgramLen); msg != "" {
				bad("program %s", msg)
			}
		}
	}

	if r.email != "" && (len(r.email) > maxEmailLen || !emailRe.MatchString(r.email)) {
		bad("invalid email address %q: want one plain address such as name@example.org", r.email)
	}
	return r, problems
}

// textProblem describes what is wrong with a free-text field, or "".
func textProblem(s string, max int) string {
	switch {
	case !utf8.ValidString(s):
		return "is not valid UTF-8"
	case len(s) > max:
		return fmt.Sprintf("is too long: the limit is %d bytes", max)
	case hasControl(s):
		return "contains control characters"
	case s != strings.TrimSpace(s):
		return "has leading or trailing blanks"
	}
	return ""
}

func hasControl(s string) bool {
	for _, c := range s {
		if unicode.IsControl(c) || c == '\u2028' || c == '\u2029' || unicode.Is(unicode.Cf, c) {
			return true
		}
	}
	return false
}
