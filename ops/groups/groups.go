// Package groups holds the group cascades of legacy ceo's groups.py:
// adding someone to one group also adds them to others (office brings
// cdrom, audio, video and www; syscom brings office, staff, adm and src),
// and removing them from it removes them from those too. It is pure
// logic (and Load, reading its configuration): ceod's group op makes
// the directory changes in the order Plan gives.
package groups

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
)

// Cascades maps a group to the groups that follow it. They apply one
// level deep, as legacy did: syscom brings office, not office's cascade.
type Cascades map[string][]string

// Default returns legacy ceo's cascades.
func Default() Cascades {
	return Cascades{
		"office": {"cdrom", "audio", "video", "www"},
		"syscom": {"office", "staff", "adm", "src"},
	}
}

// KeyPrefix starts the configuration keys: "group_cascade_GROUP = G1 G2"
// (space- or comma-separated; empty turns GROUP's cascade off).
const KeyPrefix = "group_cascade_"

var groupName = regexp.MustCompile(`^[a-z_][-a-z0-9_]*$`)

// Parse starts from Default and applies the group_cascade_* keys of kv;
// other keys are ignored.
func Parse(kv map[string]string) (Cascades, error) {
	c := Default()
	for _, k := range slices.Sorted(maps.Keys(kv)) {
		g, ok := strings.CutPrefix(k, KeyPrefix)
		if !ok {
			continue
		}
		if !groupName.MatchString(g) {
			return nil, fmt.Errorf("%s: invalid group name %q", k, g)
		}
		var to []string
		for _, f := range strings.FieldsFunc(kv[k], func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }) {
			if !groupName.MatchString(f) {
				return nil, fmt.Errorf("%s: invalid group name %q", k, f)
			}
			if f != g && !slices.Contains(to, f) {
				to = append(to, f)
			}
		}
		if len(to) == 0 {
			delete(c, g)
			continue
		}
		c[g] = to
	}
	return c, nil
}

// Change is one membership change.
type Change struct {
	Group string
	Add   bool // false: remove
}

// Plan lists the changes that adding a member to group (add) or removing
// them from it makes: group itself first, then its cascade in order.
func (c Cascades) Plan(group string, add bool) []Change {
	out := []Change{{Group: group, Add: add}}
	for _, g := range c[group] {
		out = append(out, Change{Group: g, Add: add})
	}
	return out
}

// String is the configuration that gives c, one key per line, sorted.
func (c Cascades) String() string {
	var b strings.Builder
	for _, g := range slices.Sorted(maps.Keys(c)) {
		fmt.Fprintf(&b, "%s%s = %s\n", KeyPrefix, g, strings.Join(c[g], " "))
	}
	return b.String()
}
