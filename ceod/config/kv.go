// Package config reads the files in a ceo configuration directory
// ($CEO_CONFIG_DIR, default /etc/csc): the legacy "name = value" files
// such as accounts.cf, the legacy ops files in ops/, and ceod.cf, the
// one file of our own that holds the daemon's network settings.
//
// The package only parses; it reads no environment variables. Callers
// (the ceod and ceoc commands) decide which directory to read.
package config

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// DefaultDir is the configuration directory used when $CEO_CONFIG_DIR is
// not set, as in the legacy system.
const DefaultDir = "/etc/csc"

// maxLine bounds one line of a configuration file. Configuration files
// are written by administrators, but a bound keeps a wrong path (a
// binary file) from being read into memory whole.
const maxLine = 64 << 10

// Entry is one "name = value" line of a legacy configuration file.
type Entry struct {
	Name  string
	Value string // with surrounding double quotes removed
	Line  int    // 1-based line number, for error messages
}

// ParseError reports a malformed line in a configuration file.
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

// ParseKV parses a legacy "name = value" file such as accounts.cf.
// Blank lines and lines whose first non-blank character is '#' are
// skipped; an unquoted value ends at a '#' preceded by white space. A
// value may be enclosed in double quotes, in which case it is taken
// literally (it may contain '#' and leading or trailing spaces), except
// that \" stands for a quote and \\ for a backslash; any other backslash
// is kept. name is used in error messages.
//
// Duplicate names are returned as they appear; callers decide whether a
// later line overrides an earlier one.
func ParseKV(r io.Reader, name string) ([]Entry, error) {
	var out []Entry
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxLine)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		key, val, ok := strings.Cut(line, "=")
		if !ok {
			// The line is not quoted back: it may be a password.
			return nil, &ParseError{File: name, Line: n, Err: errors.New(`expected "name = value"`)}
		}
		key = strings.TrimSpace(key)
		if !validName(key) {
			return nil, &ParseError{File: name, Line: n, Err: fmt.Errorf("invalid name %q", key)}
		}
		v, err := parseValue(strings.TrimSpace(val))
		if err != nil {
			return nil, &ParseError{File: name, Line: n, Err: fmt.Errorf("value of %s: %w", key, err)}
		}
		out = append(out, Entry{Name: key, Value: v, Line: n})
	}
	if err := sc.Err(); err != nil {
		return nil, &ParseError{File: name, Line: n + 1, Err: err}
	}
	return out, nil
}

// ReadKV parses the legacy "name = value" file at path. See ParseKV.
func ReadKV(path string) ([]Entry, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	return ParseKV(f, filepath.Base(path))
}

func validName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if !(c == '_' || c == '-' || c == '.' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

// parseValue interprets the text after '=' (already trimmed).
func parseValue(s string) (string, error) {
	if !strings.HasPrefix(s, `"`) {
		// An unquoted value ends at a comment.
		for i := 1; i < len(s); i++ {
			if s[i] == '#' && (s[i-1] == ' ' || s[i-1] == '\t') {
				s = strings.TrimSpace(s[:i])
				break
			}
		}
		if strings.HasPrefix(s, "#") {
			s = ""
		}
		return s, nil
	}
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			if i+1 == len(s) {
				return "", fmt.Errorf("backslash at end of line")
			}
			// Only \" and \\ are escapes; any other backslash is kept,
			// so that regular expressions such as "^\w+$" survive.
			if n := s[i+1]; n == '"' || n == '\\' {
				i++
			}
			b.WriteByte(s[i])
		case '"':
			rest := strings.TrimSpace(s[i+1:])
			if rest != "" && rest[0] != '#' {
				// Not quoted back: values may be passwords.
				return "", errors.New("unexpected text after closing quote")
			}
			return b.String(), nil
		default:
			b.WriteByte(c)
		}
	}
	return "", fmt.Errorf("missing closing quote")
}
