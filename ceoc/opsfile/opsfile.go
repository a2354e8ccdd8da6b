// Package opsfile reads the legacy ops files ($CEO_CONFIG_DIR/ops/*):
// one line per op, "HOST OPNAME USER ID", naming the host that owns the
// op and the msgtype of its frames. Both sides read them: ceoc to route
// an op to its owner, ceod to find the ops it serves.
package opsfile

import (
	"io/fs"
	"strconv"

	"errors"
	"fmt"
	"github.com/csclub/ceo/ops/config/kv"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// OpsDir is the directory, inside the configuration directory, holding
// the legacy ops files.
const OpsDir = "ops"

// ParseError reports a malformed line in an ops file.
type ParseError struct {
	File string // file name as given to the parser
	Line int    // 1-based; 0 if the error concerns the whole file
	Err  error
}

func (e *ParseError) Error() string {
	if e.Line == 0 {
		return fmt.Sprintf("config: %s: %v", e.File, e.Err)
	}
	return fmt.Sprintf("config: %s:%d: %v", e.File, e.Line, e.Err)
}

func (e *ParseError) Unwrap() error { return e.Err }

// Reserved message types that can never be op ids (see package wire).
const (
	msgAuth    = 0x08000000
	msgExplode = 0x08000001
)

// Op is one line of a legacy ops file: "HOST OPNAME USER ID".
type Op struct {
	Host string // host word: the owning host, also the host part of the service name
	Name string // op name; the legacy program is $CEO_LIB_DIR/op-NAME
	User string // account the legacy program runs as
	ID   uint32 // msgtype of the op's frames

	Source string // "file:line", for messages
}

// ParseOps parses one legacy ops file read from r. Blank lines and lines
// starting with '#' are skipped; every other line must hold exactly four
// white-space separated words, HOST OPNAME USER ID, where ID is read like
// C strtol with base 0 ("0x10", "16" and "020" are the same id). name is
// used in error messages and in Op.Source.
func ParseOps(r io.Reader, name string) ([]Op, error) {
	var out []Op
	n, err := kv.Lines(r, func(n int, line string) error {
		w := strings.Fields(line)
		if len(w) != 4 {
			return fmt.Errorf("want \"HOST OPNAME USER ID\", got %d words", len(w))
		}
		if !validOpName(w[1]) {
			return fmt.Errorf("invalid op name %q (letters, digits, '_' and '-' only)", w[1])
		}
		id, err := ParseID(w[3])
		if err != nil {
			return err
		}
		if id == 0 || id == msgAuth || id == msgExplode {
			return fmt.Errorf("op id %s is reserved", w[3])
		}
		out = append(out, Op{Host: w[0], Name: w[1], User: w[2], ID: id, Source: fmt.Sprintf("%s:%d", name, n)})
		return nil
	})
	if err != nil {
		return nil, &ParseError{File: name, Line: n, Err: err}
	}
	return out, nil
}

// ReadOps reads every ops file in dir/ops, in name order, and checks that
// no op name or id appears twice. Hidden files and editor backups (names
// starting with '.' or ending in '~') are skipped. A missing or empty ops
// directory is an error: a ceod or ceoc without ops is misconfigured.
func ReadOps(dir string) ([]Op, error) {
	opsDir := filepath.Join(dir, OpsDir)
	ents, err := os.ReadDir(opsDir)
	if err != nil {
		return nil, fmt.Errorf("config: reading ops directory: %w", err)
	}
	var all []Op
	for _, de := range ents {
		n := de.Name()
		if strings.HasPrefix(n, ".") || strings.HasSuffix(n, "~") || de.IsDir() {
			continue
		}
		ops, err := readOpsFile(filepath.Join(opsDir, n))
		if err != nil {
			return nil, err
		}
		all = append(all, ops...)
	}
	if len(all) == 0 {
		return nil, fmt.Errorf("config: no ops defined in %s", opsDir)
	}
	if err := checkUnique(all); err != nil {
		return nil, err
	}
	return all, nil
}

func readOpsFile(path string) ([]Op, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	return ParseOps(f, filepath.Join(OpsDir, filepath.Base(path)))
}

func checkUnique(ops []Op) error {
	byName := map[string]Op{}
	byID := map[uint32]Op{}
	for _, op := range ops {
		if prev, ok := byName[op.Name]; ok {
			return fmt.Errorf("config: %s: op %q already defined at %s", op.Source, op.Name, prev.Source)
		}
		if prev, ok := byID[op.ID]; ok {
			return fmt.Errorf("config: %s: op id %#x already used by %q at %s", op.Source, op.ID, prev.Name, prev.Source)
		}
		byName[op.Name] = op
		byID[op.ID] = op
	}
	return nil
}

// FindOp returns the op called name.
func FindOp(ops []Op, name string) (Op, bool) {
	i := slices.IndexFunc(ops, func(o Op) bool { return o.Name == name })
	if i < 0 {
		return Op{}, false
	}
	return ops[i], true
}

// validOpName reports whether s can be an op name. The name becomes part
// of a file name (op-NAME), so it must not be able to leave lib_dir.
func validOpName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range s {
		if !(c == '_' || c == '-' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

var errBadID = errors.New("invalid op id")

// ParseID parses an op id the way the legacy daemon does, with C strtol
// in base 0: "0x"/"0X" introduces hexadecimal, a leading "0" octal, and
// anything else is decimal. Unlike strtol it rejects trailing garbage,
// signs and values that do not fit in 32 bits, which the legacy daemon
// would have silently misread.
func ParseID(s string) (uint32, error) {
	digits, base := s, uint64(10)
	switch {
	case len(s) > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X'):
		digits, base = s[2:], 16
	case len(s) > 1 && s[0] == '0':
		digits, base = s[1:], 8
	}
	if digits == "" {
		return 0, fmt.Errorf("%w %q", errBadID, s)
	}
	var v uint64
	for _, c := range digits {
		var d uint64
		switch {
		case '0' <= c && c <= '9':
			d = uint64(c - '0')
		case 'a' <= c && c <= 'f':
			d = uint64(c-'a') + 10
		case 'A' <= c && c <= 'F':
			d = uint64(c-'A') + 10
		default:
			return 0, fmt.Errorf("%w %q", errBadID, s)
		}
		if d >= base {
			return 0, fmt.Errorf("%w %q", errBadID, s)
		}
		v = v*base + d
		if v > 0xffffffff {
			return 0, fmt.Errorf("%w %q: larger than 32 bits", errBadID, s)
		}
	}
	return uint32(v), nil
}

// DefaultDir is the configuration directory used when $CEO_CONFIG_DIR is
// not set, as in the legacy system.
const DefaultDir = "/etc/csc"

// DefaultPort is the TCP port of every ceod unless ceod.cf says otherwise.
const DefaultPort = 9987

// Client is what clients need from dir/ceod.cf (the rest of the file
// belongs to the daemon and is not checked here).
type Client struct {
	// Port is ceod's "port"; DefaultPort when the file or the key is
	// absent.
	Port int
	// DelegateOps are the ops listed in delegate_ops (names separated by
	// spaces or commas): the ops whose ceod needs the caller's
	// credentials (ldap_writes = delegated), for which ceoc forwards the
	// caller's TGT. No key, or no ceod.cf, means none: ceoc never
	// delegates to a ceod that does not ask for it.
	DelegateOps map[string]bool
}

// ReadClient reads the client settings of dir/ceod.cf, with one read of
// the file.
func ReadClient(dir string) (Client, error) {
	kv, err := readCeodCF(dir)
	if err != nil {
		return Client{}, err
	}
	c := Client{Port: DefaultPort, DelegateOps: map[string]bool{}}
	if v, ok := kv["port"]; ok {
		p, err := strconv.Atoi(v)
		if err != nil || p < 1 || p > 65535 {
			return Client{}, fmt.Errorf("config: ceod.cf: port: want 1..65535, got %q", v)
		}
		c.Port = p
	}
	for _, name := range SplitOpList(kv["delegate_ops"]) {
		c.DelegateOps[name] = true
	}
	return c, nil
}

// ReadPort returns Client.Port of dir/ceod.cf.
func ReadPort(dir string) (int, error) {
	c, err := ReadClient(dir)
	return c.Port, err
}

// ReadDelegateOps returns Client.DelegateOps of dir/ceod.cf.
func ReadDelegateOps(dir string) (map[string]bool, error) {
	c, err := ReadClient(dir)
	return c.DelegateOps, err
}

// SplitOpList splits a list of op names separated by spaces or commas.
func SplitOpList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' })
}

// readCeodCF parses dir/ceod.cf; a missing file is an empty one.
func readCeodCF(dir string) (map[string]string, error) {
	f, err := os.Open(filepath.Join(dir, "ceod.cf"))
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]string{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	kv, err := kv.ParseKV(f)
	if err != nil {
		return nil, fmt.Errorf("config: ceod.cf: %w", err)
	}
	return kv, nil
}
