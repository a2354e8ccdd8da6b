package kadmin_test

import (
	"net"
	"testing"

	"github.com/stretchr/testify/require"
)

// closedPort returns a loopback port nothing listens on (it was bound
// and released a moment ago).
func closedPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := l.Addr().(*net.TCPAddr).Port
	require.NoError(t, l.Close())
	return port
}
