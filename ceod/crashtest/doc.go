// Package crashtest holds the journal's acceptance tests: ceod, run as
// a separate process built from ./ceod/cmd/ceod, is killed, frozen out
// of its services or stopped mid-request, and every account must end up
// complete or absent (adduser), or deleted as asked (deluser). It has no
// code of its own.
package crashtest
