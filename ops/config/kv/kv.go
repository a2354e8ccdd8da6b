// Package kv parses the legacy "name = value" syntax of the ceo
// configuration files (accounts.cf, mysql.cf, ceod.cf, ...). It is the
// one parser every program uses, and it depends on nothing, so that
// small clients such as ceoc can use it.
package kv

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// MaxLine bounds one line: configuration files (and the ops files) are
// small and written by administrators, and the bound keeps a wrong path
// (a binary file) from being read whole.
const MaxLine = 64 << 10

// Lines calls f with each line of r that is neither blank nor a comment
// ('#' first), trimmed of white space, and its 1-based number, and stops
// at f's first error, which it returns. It returns a read error, or
// bufio.ErrTooLong for a line longer than MaxLine, with the number of the
// line it could not read.
func Lines(r io.Reader, f func(n int, line string) error) (int, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), MaxLine)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		if err := f(n, line); err != nil {
			return n, err
		}
	}
	return n + 1, sc.Err()
}

// SyntaxError reports a malformed line of a "name = value" file.
type SyntaxError struct {
	File string // file name, "" when parsing a bare reader
	Line int    // 1-based
	Msg  string
}

func (e *SyntaxError) Error() string {
	if e.File == "" {
		return fmt.Sprintf("config: line %d: %s", e.Line, e.Msg)
	}
	return fmt.Sprintf("config: %s:%d: %s", e.File, e.Line, e.Msg)
}

// ParseKV parses the legacy "name = value" syntax:
//
//   - blank lines and lines whose first non-blank character is '#' are
//     skipped;
//   - a name is letters, digits and '_' and must not start with a digit;
//   - an unquoted value is the text after '=' with surrounding blanks
//     removed, up to a '#' preceded by a blank (a trailing comment);
//   - a value in double quotes is taken literally, blanks and '#'
//     included; inside it, \" stands for a quote and \\ for a backslash,
//     and any other backslash is kept as is, so that regular expressions
//     such as "^\w+$" survive;
//   - a name given twice is an error naming both lines.
//
// Errors are *SyntaxError values carrying the line number. They never
// quote a value, which may be a password.
func ParseKV(r io.Reader) (map[string]string, error) {
	entries, err := ParseEntries(r)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(entries))
	for _, e := range entries {
		out[e.Name] = e.Value
	}
	return out, nil
}

// ReadFile parses the file at path with ParseKV; a *SyntaxError names
// the file. The error of opening it is returned as it is (so callers may
// test for fs.ErrNotExist).
func ReadFile(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	m, err := ParseKV(f)
	if se, ok := errors.AsType[*SyntaxError](err); ok {
		se.File = path
		return nil, se
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// Entry is one "name = value" line.
type Entry struct {
	Name  string
	Value string // with surrounding double quotes removed
	Line  int    // 1-based, for error messages
}

// ParseEntries is ParseKV returning the lines in file order with their
// line numbers, for callers that report errors by line.
func ParseEntries(r io.Reader) ([]Entry, error) {
	var out []Entry
	lines := map[string]int{}
	n, err := Lines(r, func(n int, line string) error {
		key, val, ok := strings.Cut(line, "=")
		if !ok {
			// The line is not quoted back: it may be a password.
			return &SyntaxError{Line: n, Msg: `expected "name = value"`}
		}
		key = strings.TrimSpace(key)
		if !validName(key) {
			return &SyntaxError{Line: n, Msg: fmt.Sprintf("invalid name %q", key)}
		}
		if prev, dup := lines[key]; dup {
			return &SyntaxError{Line: n, Msg: fmt.Sprintf("%s already set on line %d", key, prev)}
		}
		v, err := parseValue(strings.TrimSpace(val))
		if err != nil {
			return &SyntaxError{Line: n, Msg: fmt.Sprintf("value of %s: %v", key, err)}
		}
		out = append(out, Entry{Name: key, Value: v, Line: n})
		lines[key] = n
		return nil
	})
	var se *SyntaxError
	switch {
	case errors.As(err, &se):
		return nil, se
	case errors.Is(err, bufio.ErrTooLong):
		return nil, &SyntaxError{Line: n, Msg: fmt.Sprintf("line longer than %d bytes", MaxLine)}
	case err != nil:
		return nil, fmt.Errorf("config: reading line %d: %w", n, err)
	}
	return out, nil
}

func validName(s string) bool {
	if s == "" || ('0' <= s[0] && s[0] <= '9') {
		return false
	}
	for _, c := range s {
		if !(c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

// parseValue interprets the text after '=' (already trimmed).
func parseValue(s string) (string, error) {
	if !strings.HasPrefix(s, `"`) {
		if strings.HasPrefix(s, "#") {
			return "", nil
		}
		for i := 1; i < len(s); i++ {
			if s[i] == '#' && (s[i-1] == ' ' || s[i-1] == '\t') {
				return strings.TrimSpace(s[:i]), nil
			}
		}
		return s, nil
	}
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			if i+1 < len(s) && (s[i+1] == '"' || s[i+1] == '\\') {
				i++
				b.WriteByte(s[i])
			} else {
				b.WriteByte(c)
			}
		case '"':
			rest := strings.TrimSpace(s[i+1:])
			if rest != "" && rest[0] != '#' {
				// Not quoted back: values may be passwords.
				return "", errors.New("unexpected text after the closing quote")
			}
			return b.String(), nil
		default:
			b.WriteByte(c)
		}
	}
	return "", errors.New("missing closing double quote")
}
