// Package config reads the files in a ceo configuration directory
// ($CEO_CONFIG_DIR, default /etc/csc): the legacy "name = value" files
// such as accounts.cf, and ceod.cf, the
// one file of our own that holds the daemon's network settings.
//
// The package only parses; it reads no environment variables. Callers
// (the ceod and ceoc commands) decide which directory to read.
package config

import (
	"errors"
	"fmt"
	"io"

	"github.com/csclub/ceo/ceoc/opsfile"
	opsconfig "github.com/csclub/ceo/ops/config"
)

// DefaultDir is the configuration directory used when $CEO_CONFIG_DIR is
// not set, as in the legacy system.
const DefaultDir = opsfile.DefaultDir

// Entry is one "name = value" line of a legacy configuration file.
type Entry = opsconfig.Entry

// ParseError reports a malformed line in a configuration file; the ops
// files' reader reports the same type.
type ParseError = opsfile.ParseError

// ParseKV parses a legacy "name = value" file such as accounts.cf with
// the ops' parser (ops/config.ParseEntries, which documents the syntax),
// naming the file in errors. A name given twice is an error.
func ParseKV(r io.Reader, name string) ([]Entry, error) {
	entries, err := opsconfig.ParseEntries(r)
	if se, ok := errors.AsType[*opsconfig.SyntaxError](err); ok {
		return nil, &ParseError{File: name, Line: se.Line, Err: errors.New(se.Msg)}
	}
	if err != nil {
		return nil, fmt.Errorf("config: %s: %w", name, err)
	}
	return entries, nil
}
