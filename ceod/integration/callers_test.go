package integration

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/csclub/ceo/ceoc"
	"github.com/csclub/ceo/internal/realm"
)

// appendConfig adds lines to ceod.cf in dir.
func appendConfig(t *testing.T, dir string, lines ...string) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(dir, "ceod.cf"), os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	defer f.Close()
	for _, l := range lines {
		_, err := f.WriteString(l + "\n")
		require.NoError(t, err)
	}
}

// TestForeignRealmRefused: a genuine ticket from a realm ceod does not
// accept is refused as a caller, with nothing run. The realm has no
// second realm to trust, so ceod here accepts only OTHER.REALM, which
// makes the test realm's users the foreign ones; the refusal is the
// same code path as for a cross-realm principal.
func TestForeignRealmRefused(t *testing.T) {
	r := realm.Get(t)
	d := newEnv(t, r, "caller_realms = OTHER.REALM").start(t, nil)
	c := d.client(t, "regular1")
	_, err := c.Call(t.Context(), "echo", []byte("must not run"))
	require.ErrorIs(t, err, ceoc.ErrAuth)
	assert.Contains(t, err.Error(), "ceod closed the connection before authentication completed")
	a := d.log.WaitFor(t, map[string]string{"msg": "audit", "event": "auth", "principal": "regular1@" + r.Name})
	assert.Equal(t, "denied", a["outcome"])
	assert.Contains(t, a["err"], "realm "+r.Name+" is not accepted")
	assert.Empty(t, d.log.Find(t, map[string]string{"msg": "audit", "event": "op"}), "an op ran")

	// A configuration that does not parse changes nothing on SIGHUP.
	appendConfig(t, d.env.dir, "caller_realms = "+r.Name) // a key given twice
	d.reload <- struct{}{}
	d.log.WaitFor(t, map[string]string{"msg": "reload: configuration unchanged"})
	_, err = c.Call(t.Context(), "ping", nil)
	require.ErrorIs(t, err, ceoc.ErrAuth)

	// SIGHUP with the realm accepted lets the same ticket in.
	cf := filepath.Join(d.env.dir, "ceod.cf")
	b, err := os.ReadFile(cf)
	require.NoError(t, err)
	b = bytes.Replace(b, []byte("caller_realms = OTHER.REALM\n"), nil, 1)
	require.NoError(t, os.WriteFile(cf, b, 0o644))
	d.reload <- struct{}{}
	ch := d.log.WaitFor(t, map[string]string{"msg": "reload: setting changed", "key": "caller_realms"})
	assert.Equal(t, "OTHER.REALM", ch["old"])
	assert.Equal(t, r.Name, ch["new"])
	reply, err := c.Call(t.Context(), "ping", nil)
	require.NoError(t, err)
	assert.Equal(t, "regular1@"+r.Name, pingPrincipal(t, reply))
}
