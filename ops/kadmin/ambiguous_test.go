package kadmin_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/csclub/ceo/ops/kadmin"
)

// fakeKadmin is a stand-in kadmin program (pure logic: which failures
// may have reached kadmind).
func fakeKadmin(t *testing.T, script string) *kadmin.Client {
	t.Helper()
	p := filepath.Join(t.TempDir(), "kadmin")
	require.NoError(t, os.WriteFile(p, []byte("#!/bin/sh\n"+script), 0o755))
	return &kadmin.Client{Principal: "ceod/admin", Keytab: "/dev/null", Realm: "EXAMPLE", Path: p, Timeout: 300 * time.Millisecond}
}

func TestAmbiguous(t *testing.T) {
	// Cut off while waiting on kadmind: it may apply the query later.
	err := fakeKadmin(t, "sleep 5\n").AddPrincipal(t.Context(), "alice", "pw")
	require.Error(t, err)
	assert.True(t, kadmin.Ambiguous(err), "timeout: %v", err)

	// Died without a word: the reply was lost.
	err = fakeKadmin(t, "kill -9 $$\n").AddPrincipal(t.Context(), "alice", "pw")
	require.Error(t, err)
	assert.True(t, kadmin.Ambiguous(err), "killed: %v", err)

	// kadmin said what went wrong: nothing was applied.
	err = fakeKadmin(t, `echo 'add_principal: Principal or policy already exists while creating "alice@EXAMPLE".' >&2`+"\n").
		AddPrincipal(t.Context(), "alice", "pw")
	assert.ErrorIs(t, err, kadmin.ErrExists)
	assert.False(t, kadmin.Ambiguous(err))
	err = fakeKadmin(t, "echo 'kadmin: Communication failure with server while initializing kadmin interface' >&2; exit 1\n").
		AddPrincipal(t.Context(), "alice", "pw")
	assert.ErrorIs(t, err, kadmin.ErrUnavailable)
	assert.False(t, kadmin.Ambiguous(err))

	// Never started (the request was already cancelled).
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err = fakeKadmin(t, "exit 0\n").AddPrincipal(ctx, "alice", "pw")
	require.Error(t, err)
	assert.False(t, kadmin.Ambiguous(err))
}
