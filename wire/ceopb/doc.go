// Package ceopb holds the legacy ceo protobuf messages (proto2, package
// ceo) generated from ceo.proto, plus the new AddPostgreSQLUser and
// PingResponse messages.
//
// Required fields are enforced by proto.Marshal and proto.Unmarshal: a
// message missing one fails with an error naming the field, e.g.
// "proto: required field ceo.AddUser.username not set". Use
// proto.MarshalOptions{Deterministic: true} when bytes are compared.
//
// Go's protobuf runtime treats proto2 enums as open: an AddUser whose type
// is not MEMBER, CLUB or CLUB_REP still decodes, with that number in Type.
// Receivers must validate it.
//
// The generated code is committed so that builds need no protoc. To
// regenerate (protoc 3.21.12 from Debian's protobuf-compiler and
// protoc-gen-go v1.36.12 on PATH):
//
//	go generate ./wire/ceopb
package ceopb

//go:generate protoc --go_out=. --go_opt=paths=source_relative ceo.proto
