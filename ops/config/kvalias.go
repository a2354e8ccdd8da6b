// Package config loads the legacy configuration files of the CSC
// Electronic Office that the ops need: accounts.cf (the account layout,
// LDAP and Kerberos settings), mysql.cf, mailman.cf and library.cf. They
// all use the legacy "name = value" syntax, read by package kv.
//
// The loaders only read the directory they are given; they consult no
// environment variables. ceod decides which directory to read and fills
// the extension fields of Accounts (AdminKeytab, QuotaPrototype, ...)
// from its own ceod.cf.
package config

import (
	"io"

	"github.com/csclub/ceo/ops/config/kv"
)

// The "name = value" parser's types, from package kv.
type (
	Entry       = kv.Entry
	SyntaxError = kv.SyntaxError
)

// ParseKV is kv.ParseKV; see there for the syntax.
func ParseKV(r io.Reader) (map[string]string, error) { return kv.ParseKV(r) }

// ParseEntries is kv.ParseEntries.
func ParseEntries(r io.Reader) ([]Entry, error) { return kv.ParseEntries(r) }
