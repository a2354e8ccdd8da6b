package groups

import (
	"errors"
	"fmt"
	"io/fs"

	"github.com/csclub/ceo/ops/config/kv"
)

// File is the configuration file holding the group_cascade_* keys, in
// the configuration directory (/etc/csc): ceo.cf, where legacy's front
// end kept its settings and where ceod's group op now reads them.
const File = "ceo.cf"

// Load reads the cascades from path (Parse of its group_cascade_* keys);
// a missing file means Default.
func Load(path string) (Cascades, error) {
	m, err := kv.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Default(), nil
	}
	if err != nil {
		return nil, fmt.Errorf("group cascades: %w", err)
	}
	c, err := Parse(m)
	if err != nil {
		return nil, fmt.Errorf("group cascades: %s: %w", path, err)
	}
	return c, nil
}
