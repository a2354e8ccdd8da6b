package krb5

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/jcmturner/gokrb5/v8/config"
)

// DefaultConfigPath is used when $KRB5_CONFIG is unset or empty.
const DefaultConfigPath = "/etc/krb5.conf"

// LoadConfig loads the Kerberos configuration named by $KRB5_CONFIG (the
// first path if it is a colon-separated list) or else DefaultConfigPath.
// See LoadConfigFile for what is checked.
func LoadConfig() (*config.Config, error) {
	path := DefaultConfigPath
	if env := os.Getenv("KRB5_CONFIG"); env != "" {
		path, _, _ = strings.Cut(env, ":")
	}
	return LoadConfigFile(path)
}

// LoadConfigFile loads one krb5.conf as gokrb5's config.Load would. An
// unsupported directive (for example a v4 section) is ignored, as MIT would; any other parse error is
// returned. It also fails if one of default_tkt_enctypes,
// default_tgs_enctypes or permitted_enctypes ends up empty, which is what
// gokrb5 makes of MIT keywords such as DEFAULT or aes; the fix is explicit
// names like aes256-cts-hmac-sha1-96.
//
// gokrb5's parser panics on some inputs, such as a realm block opened and
// closed on one line (R = { kdc = h:88 }); LoadConfigFile returns an error
// instead, naming the first such line.
func LoadConfigFile(path string) (*config.Config, error) {
	cfg, err := loadConfig(path)
	if err != nil && !(errors.Is(err, errUnsupported) && cfg != nil) {
		return nil, fmt.Errorf("krb5: loading %s: %w", path, err)
	}
	lists := []struct {
		name string
		ids  []int32
	}{
		{"default_tkt_enctypes", cfg.LibDefaults.DefaultTktEnctypeIDs},
		{"default_tgs_enctypes", cfg.LibDefaults.DefaultTGSEnctypeIDs},
		{"permitted_enctypes", cfg.LibDefaults.PermittedEnctypeIDs},
	}
	for _, l := range lists {
		if len(l.ids) == 0 {
			return nil, fmt.Errorf("krb5: %s: %s names no enctype gokrb5 knows; use explicit names such as aes256-cts-hmac-sha1-96 (not DEFAULT or aes)", path, l.name)
		}
	}
	return cfg, nil
}

// loadConfig reads path with parseConfig (gokrb5's parser), turning a
// panic of the parser into an error.
func loadConfig(path string) (cfg *config.Config, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	defer func() {
		if r := recover(); r != nil {
			cfg, err = nil, parsePanicError(path, r)
		}
	}()
	return parseConfig(f)
}

// parsePanicError explains a panic in gokrb5's parser. The usual cause is
// a block that opens and closes on one line, which MIT accepts and gokrb5
// does not; if the file has one, the error names it.
func parsePanicError(path string, r any) error {
	cause, ok := r.(error)
	if !ok {
		cause = fmt.Errorf("%v", r)
	}
	hint := ""
	if b, err := os.ReadFile(path); err == nil {
		for i, line := range strings.Split(string(b), "\n") {
			_, rest, ok := strings.Cut(line, "{")
			if ok && strings.TrimSpace(rest) != "" {
				hint = fmt.Sprintf(": line %d, %q, opens a block and has more on the same line; put each relation and the closing } on lines of their own", i+1, strings.TrimSpace(line))
				break
			}
		}
	}
	return fmt.Errorf("gokrb5's parser failed (%w)%s", cause, hint)
}
