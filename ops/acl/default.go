package acl

import (
	_ "embed"
	"strings"
)

// Default is the shipped ceod.acl (debian/conf/ceod.acl is a copy, kept
// equal by a test).
//
//go:embed ceod.acl
var Default string

// ParseDefault parses Default.
func ParseDefault() (*ACL, error) { return Parse(File, strings.NewReader(Default)) }
