package krb

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

// LoadConfigFile loads one krb5.conf. A config.UnsupportedDirective (for
// example a v4 section) is ignored, as MIT would; any other parse error is
// returned. It also fails if one of default_tkt_enctypes,
// default_tgs_enctypes or permitted_enctypes ends up empty, which is what
// gokrb5 makes of MIT keywords such as DEFAULT or aes; the fix is explicit
// names like aes256-cts-hmac-sha1-96.
func LoadConfigFile(path string) (*config.Config, error) {
	cfg, err := config.Load(path)
	var unsupported config.UnsupportedDirective
	if err != nil && !(errors.As(err, &unsupported) && cfg != nil) {
		return nil, fmt.Errorf("krb: loading %s: %w", path, err)
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
			return nil, fmt.Errorf("krb: %s: %s names no enctype gokrb5 knows; use explicit names such as aes256-cts-hmac-sha1-96 (not DEFAULT or aes)", path, l.name)
		}
	}
	return cfg, nil
}
