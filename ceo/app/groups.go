package app

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/csclub/ceo/ceo/members"
)

// GroupChange is what ChangeGroup did.
type GroupChange struct {
	Changed []string // groups changed, the chosen one first
	Notes   []string // cascade groups left alone, and why
}

// ChangeGroup adds uid to group (add) or removes uid from it, then does
// the same for the groups that cascade from it (Config.Cascades, legacy
// groups.py's by default). A cascade group that does not exist, or that
// uid is already in (or already out of), is noted and skipped. A failure
// of the chosen group changes nothing; a later one stops there and is
// returned with what was done.
func (a *App) ChangeGroup(ctx context.Context, group, uid string, add bool) (GroupChange, error) {
	var res GroupChange
	for i, ch := range a.Config.Cascades.Plan(group, add) {
		if i > 0 {
			g, err := a.Dir.GetGroup(ctx, ch.Group)
			if errors.Is(err, members.ErrNoSuchGroup) {
				res.Notes = append(res.Notes, "no group "+ch.Group)
				continue
			}
			if err != nil {
				return res, err
			}
			if slices.Contains(g.Members, uid) == ch.Add {
				continue
			}
		}
		var err error
		if ch.Add {
			err = a.Dir.AddGroupMember(ctx, ch.Group, uid)
		} else {
			err = a.Dir.RemoveGroupMember(ctx, ch.Group, uid)
		}
		if err != nil {
			if i > 0 {
				err = fmt.Errorf("%w (done: %v)", err, res.Changed)
			}
			return res, err
		}
		res.Changed = append(res.Changed, ch.Group)
	}
	return res, nil
}
