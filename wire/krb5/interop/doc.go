// Package interop holds interoperability tests, and no code: package gss
// against MIT's own libgssapi_krb5 (a small C peer, gss/testdata/mitpeer.c,
// compiled by the tests) in both roles and with each AES enctype, and
// package ldapgss against slapd with Cyrus SASL. They run against the real
// test realm of github.com/csclub/ceo/internal/realm and skip without one
// (or without gcc and the MIT development headers).
//
// It is a package of its own so that the realm is started only for these
// tests, not for the unit tests and fuzzers of package gss.
package interop
