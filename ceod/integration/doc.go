// Package integration holds the tests and benchmarks of ceod and ceoc
// against a real test realm (internal/realm): an MIT KDC issuing the
// tickets, the real GSS-API acceptor and initiator, legacy-style op
// programs run as another user, the ceod and ceoc commands, and a client
// built on MIT's libgssapi_krb5 speaking the legacy protocol.
//
// It has no non-test code. Without a realm (go test -short, or missing
// packages) the tests skip, unless CEO_REQUIRE_REALM is set.
package integration
