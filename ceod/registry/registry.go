// Package registry builds ceod's op table from the legacy ops files: it
// decides which ops this host owns and binds each one to a handler,
// either a built-in Go handler from package ops (by op name) or the
// legacy-style program $CEO_LIB_DIR/op-NAME.
package registry

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/csclub/ceo/ceoc/opsfile"
	"github.com/csclub/ceo/ceod/server"
	"github.com/csclub/ceo/ops"
	"github.com/csclub/ceo/wire"
)

// CanonFunc returns the canonical name of a host, as the legacy daemon
// got it from gethostbyname.
type CanonFunc func(ctx context.Context, host string) (string, error)

// Canonical returns host's canonical name from the system resolver
// (hosts file, then DNS), lower-cased and without a trailing dot.
func Canonical(ctx context.Context, host string) (string, error) {
	c, err := opsfile.Canonical(ctx, nil, host)
	if err != nil {
		return "", fmt.Errorf("registry: %w", err)
	}
	return c, nil
}

// FQDN returns this host's fully qualified name: the canonical name of
// its host name (uname), or the host name itself if it has none.
func FQDN(ctx context.Context) (string, error) {
	h, err := os.Hostname()
	if err != nil {
		return "", fmt.Errorf("registry: host name: %w", err)
	}
	if c, err := Canonical(ctx, h); err == nil && c != "" {
		return c, nil
	}
	return opsfile.Normalize(h), nil
}

// Local returns the ops owned by the host called self, in the order
// given. An op is local if its host word, or the host word's canonical
// name, equals self (case-insensitively). A host word whose canonical
// name cannot be found is not local; its error is returned in skipped
// so that the caller can log it.
//
// canon nil means Canonical.
func Local(ctx context.Context, all []opsfile.Op, self string, canon CanonFunc) (local []opsfile.Op, skipped []error) {
	if canon == nil {
		canon = Canonical
	}
	self = opsfile.Normalize(self)
	memo := map[string]bool{}
	for _, op := range all {
		h := opsfile.Normalize(op.Host)
		isLocal, seen := memo[h]
		if !seen {
			if h == self {
				isLocal = true
			} else if c, err := canon(ctx, op.Host); err != nil {
				skipped = append(skipped, fmt.Errorf("%s: op %s: %w", op.Source, op.Name, err))
			} else {
				isLocal = opsfile.Normalize(c) == self
			}
			memo[h] = isLocal
		}
		if isLocal {
			local = append(local, op)
		}
	}
	return local, skipped
}

// ProgramFunc makes the handler for a local op that has no built-in.
type ProgramFunc func(op opsfile.Op) ops.Handler

// Table binds each local op to its handler: builtins[op.Name] if there
// is one, else program(op). It fails if program is nil and some op has
// no built-in.
func Table(local []opsfile.Op, builtins map[string]ops.Handler, program ProgramFunc) (map[wire.MsgType]server.Op, error) {
	t := make(map[wire.MsgType]server.Op, len(local))
	for _, op := range local {
		h, ok := builtins[op.Name]
		if !ok {
			if program == nil {
				return nil, fmt.Errorf("registry: %s: op %s has no built-in handler", op.Source, op.Name)
			}
			h = program(op)
		}
		t[wire.MsgType(op.ID)] = server.Op{Name: op.Name, Handler: h}
	}
	return t, nil
}

// ProgramPath returns the legacy program of op name in libDir.
func ProgramPath(libDir, name string) string {
	return filepath.Join(libDir, "op-"+name)
}

// CheckProgram checks that path is an executable regular file: the
// legacy daemon refused to start ("cannot add op") when a local op's
// program was missing, rather than failing every call.
func CheckProgram(path string) error {
	fi, err := os.Stat(path)
	switch {
	case err != nil:
		return fmt.Errorf("cannot add op: %w", err)
	case !fi.Mode().IsRegular():
		return fmt.Errorf("cannot add op: %s is not a regular file", path)
	case fi.Mode().Perm()&0o111 == 0:
		return fmt.Errorf("cannot add op: %s is not executable", path)
	}
	return nil
}

// Entry is one op of a table.
type Entry struct {
	Name    string
	ID      wire.MsgType
	Builtin bool // a Go handler, not an op-NAME program
}

// String is "name=0x10(builtin)" or "name=0x4(program)".
func (e Entry) String() string {
	kind := "program"
	if e.Builtin {
		kind = "builtin"
	}
	return fmt.Sprintf("%s=%#x(%s)", e.Name, uint32(e.ID), kind)
}

// Entries lists a table sorted by id; builtins are the built-in handlers
// by op name.
func Entries(t map[wire.MsgType]server.Op, builtins map[string]ops.Handler) []Entry {
	ids := make([]wire.MsgType, 0, len(t))
	for id := range t {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	out := make([]Entry, 0, len(ids))
	for _, id := range ids {
		_, builtin := builtins[t[id].Name]
		out = append(out, Entry{Name: t[id].Name, ID: id, Builtin: builtin})
	}
	return out
}

// Describe lists a table as "name=0x10(builtin)" words, sorted by id,
// for the startup log.
func Describe(t map[wire.MsgType]server.Op, builtins map[string]ops.Handler) []string {
	var out []string
	for _, e := range Entries(t, builtins) {
		out = append(out, e.String())
	}
	return out
}
