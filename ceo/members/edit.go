package members

import (
	"context"
	"fmt"
	"sort"

	"github.com/csclub/ceo/ops/member"
)

// Shells reads the shells a member may choose from shells_file (see
// ops/member.Shells, which ceod's shell op checks against).
func Shells(path string) ([]string, error) { return member.Shells(path) }

// Positions are the club's positions, in display order (ceod's
// positions op accepts these).
var Positions = member.Positions

// HoldersOf maps each position to the sorted user names holding it.
func (d *Directory) HoldersOf(ctx context.Context) (map[string][]string, error) {
	ms, err := d.find(ctx, "(position=*)")
	if err != nil {
		return nil, fmt.Errorf("listing positions: %w", err)
	}
	out := map[string][]string{}
	for _, m := range ms {
		for _, p := range m.Positions {
			out[p] = append(out[p], m.UID)
		}
	}
	for _, v := range out {
		sort.Strings(v)
	}
	return out, nil
}
