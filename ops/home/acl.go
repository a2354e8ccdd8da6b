package home

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Tag is the kind of a POSIX ACL entry.
type Tag uint16

// Tags, with their values in the Linux xattr format.
const (
	TagUserObj  Tag = 0x01 // u::  the owner
	TagUser     Tag = 0x02 // u:ID:
	TagGroupObj Tag = 0x04 // g::  the owning group
	TagGroup    Tag = 0x08 // g:ID:
	TagMask     Tag = 0x10 // m::
	TagOther    Tag = 0x20 // o::
)

// Entry is one ACL entry. ID is used by TagUser and TagGroup only.
type Entry struct {
	Tag  Tag
	ID   uint32
	Perm uint16 // rwx bits: 4 read, 2 write, 1 execute
}

// ACL is a POSIX access control list.
type ACL []Entry

// ClubACL is the ACL the legacy adduser puts on a club's home, as both
// access and default ACL: u::rwx,g::r-x,o::r-x,g:<gid>:rwx,m::rwx, so
// that everyone in the club's group can work in it and on what is
// created in it.
func ClubACL(gid int) ACL {
	return ACL{
		{Tag: TagUserObj, Perm: 7},
		{Tag: TagGroupObj, Perm: 5},
		{Tag: TagOther, Perm: 5},
		{Tag: TagGroup, ID: uint32(gid), Perm: 7},
		{Tag: TagMask, Perm: 7},
	}
}

// ParseACL parses the short text form used by setfacl, with numeric
// qualifiers only: "u::rwx,g::r-x,o::r-x,g:30001:rwx,m::rwx".
func ParseACL(s string) (ACL, error) {
	var acl ACL
	for _, item := range strings.Split(s, ",") {
		parts := strings.Split(strings.TrimSpace(item), ":")
		if len(parts) != 3 {
			return nil, fmt.Errorf("home: ACL entry %q: want tag:qualifier:perms", item)
		}
		var e Entry
		qual := parts[1]
		switch parts[0] {
		case "u", "user":
			e.Tag = TagUserObj
			if qual != "" {
				e.Tag = TagUser
			}
		case "g", "group":
			e.Tag = TagGroupObj
			if qual != "" {
				e.Tag = TagGroup
			}
		case "m", "mask":
			e.Tag = TagMask
		case "o", "other":
			e.Tag = TagOther
		default:
			return nil, fmt.Errorf("home: ACL entry %q: unknown tag %q", item, parts[0])
		}
		if qual != "" {
			if e.Tag != TagUser && e.Tag != TagGroup {
				return nil, fmt.Errorf("home: ACL entry %q: %s takes no qualifier", item, parts[0])
			}
			n, err := strconv.ParseUint(qual, 10, 32)
			if err != nil || n == 1<<32-1 {
				return nil, fmt.Errorf("home: ACL entry %q: qualifier must be a number", item)
			}
			e.ID = uint32(n)
		}
		p := parts[2]
		if len(p) != 3 || !strings.ContainsRune("r-", rune(p[0])) || !strings.ContainsRune("w-", rune(p[1])) || !strings.ContainsRune("x-", rune(p[2])) {
			return nil, fmt.Errorf("home: ACL entry %q: perms must look like rwx or r-x", item)
		}
		for i, c := range p {
			if c != '-' {
				e.Perm |= 4 >> i
			}
		}
		acl = append(acl, e)
	}
	return acl, acl.validate()
}

// String is the short text form, in the kernel's order.
func (a ACL) String() string {
	parts := make([]string, 0, len(a))
	for _, e := range a.sorted() {
		var tag, qual string
		switch e.Tag {
		case TagUserObj:
			tag = "u"
		case TagUser:
			tag, qual = "u", strconv.FormatUint(uint64(e.ID), 10)
		case TagGroupObj:
			tag = "g"
		case TagGroup:
			tag, qual = "g", strconv.FormatUint(uint64(e.ID), 10)
		case TagMask:
			tag = "m"
		case TagOther:
			tag = "o"
		}
		perm := []byte("---")
		for i, c := range "rwx" {
			if e.Perm&(4>>i) != 0 {
				perm[i] = byte(c)
			}
		}
		parts = append(parts, tag+":"+qual+":"+string(perm))
	}
	return strings.Join(parts, ",")
}

func (a ACL) sorted() ACL {
	s := slices.Clone(a)
	slices.SortFunc(s, func(x, y Entry) int {
		if x.Tag != y.Tag {
			return int(x.Tag) - int(y.Tag)
		}
		switch {
		case x.ID < y.ID:
			return -1
		case x.ID > y.ID:
			return 1
		}
		return 0
	})
	return s
}

// validate applies the kernel's rules (posix_acl_valid): exactly one
// u::, g:: and o::, no duplicate qualifiers, and a mask when named
// entries exist.
func (a ACL) validate() error {
	count := map[Tag]int{}
	seen := map[[2]uint32]bool{}
	for _, e := range a {
		count[e.Tag]++
		if e.Perm > 7 {
			return fmt.Errorf("home: ACL perms %o out of range", e.Perm)
		}
		if e.Tag == TagUser || e.Tag == TagGroup {
			k := [2]uint32{uint32(e.Tag), e.ID}
			if seen[k] {
				return fmt.Errorf("home: ACL names id %d twice", e.ID)
			}
			seen[k] = true
		}
	}
	for _, t := range []Tag{TagUserObj, TagGroupObj, TagOther} {
		if count[t] != 1 {
			return errors.New("home: an ACL needs exactly one u::, g:: and o:: entry")
		}
	}
	if count[TagMask] > 1 || (count[TagUser]+count[TagGroup] > 0 && count[TagMask] == 0) {
		return errors.New("home: an ACL with named entries needs exactly one m:: entry")
	}
	return nil
}

// xattr encodes a as a system.posix_acl_access/default value: the
// little-endian posix_acl_xattr format, version 2, entries sorted by tag
// then id, with the undefined id (-1) on entries without a qualifier.
func (a ACL) xattr() ([]byte, error) {
	if err := a.validate(); err != nil {
		return nil, err
	}
	b := binary.LittleEndian.AppendUint32(nil, 2)
	for _, e := range a.sorted() {
		id := uint32(1<<32 - 1)
		if e.Tag == TagUser || e.Tag == TagGroup {
			id = e.ID
		}
		b = binary.LittleEndian.AppendUint16(b, uint16(e.Tag))
		b = binary.LittleEndian.AppendUint16(b, e.Perm)
		b = binary.LittleEndian.AppendUint32(b, id)
	}
	return b, nil
}
