package integration

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/csclub/ceo/ceoc"
	"github.com/csclub/ceo/internal/realm"
)

// TestConnContexts: a Conn watches the context of its calls from one
// call to the next while it stays the same (ceoc.Conn.Call), yet a
// context that ends while the Conn is idle breaks no later call under
// another context, and one that ends during a call interrupts it.
func TestConnContexts(t *testing.T) {
	r := realm.Get(t)
	d, conn := dialed(t, r, "regular1")
	ping := func(ctx context.Context) error {
		_, err := conn.Call(ctx, "ping", nil)
		return err
	}

	t.Run("ended while idle", func(t *testing.T) {
		a, cancelA := context.WithCancel(t.Context())
		require.NoError(t, ping(a))
		require.NoError(t, ping(context.WithValue(a, t, 1)), "a context sharing a's Done")
		cancelA()
		// b has a's deadline (none): the one a's end set must go.
		b, cancelB := context.WithCancel(t.Context())
		defer cancelB()
		for i := range 3 {
			require.NoError(t, ping(b), "ping %d under a live context after another ended", i)
		}
		c, cancelC := context.WithTimeout(t.Context(), time.Minute)
		defer cancelC()
		require.NoError(t, ping(c))
		require.NoError(t, ping(t.Context()))
		require.NoError(t, ping(context.Background()), "a context that never ends")
	})

	t.Run("callers with their own contexts", func(t *testing.T) {
		// Calls are serialized; each caller's context replaces the watch
		// of the one before, and each caller's ends after its last call.
		var wg sync.WaitGroup
		errs := make(chan error, 4*50)
		for range 4 {
			wg.Go(func() {
				ctx, cancel := context.WithCancel(t.Context())
				defer cancel()
				for range 50 {
					errs <- ping(ctx)
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
	})

	t.Run("ended during a call", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		require.NoError(t, ping(ctx), "the watch of ctx is registered before the slow call")
		started := filepath.Join(d.env.mark, "started")
		os.Remove(started)
		res := make(chan error, 1)
		go func() {
			_, err := conn.Call(ctx, "slow", nil)
			res <- err
		}()
		require.Eventually(t, func() bool { _, err := os.Stat(started); return err == nil },
			20*time.Second, 10*time.Millisecond, "slow op never started")
		cancel()
		// Had the call not been interrupted, it would have succeeded
		// with the program's reply.
		err := <-res
		require.ErrorIs(t, err, context.Canceled)
		require.ErrorIs(t, err, ceoc.ErrRefused)
		assert.Error(t, ping(t.Context()), "an interrupted Conn stays failed")
	})

	t.Run("ended before the call", func(t *testing.T) {
		_, conn := dialed(t, r, "regular1")
		ctx, cancel := context.WithCancel(t.Context())
		_, err := conn.Call(ctx, "ping", nil)
		require.NoError(t, err)
		cancel()
		_, err = conn.Call(ctx, "ping", nil)
		require.ErrorIs(t, err, context.Canceled, "the same, ended context")
		_, err = conn.Call(t.Context(), "ping", nil)
		assert.Error(t, err, "a failed Conn stays failed")
	})

	t.Run("deadline during a call", func(t *testing.T) {
		_, conn := dialed(t, r, "regular1")
		_, err := conn.Call(t.Context(), "ping", nil)
		require.NoError(t, err)
		// The slow op takes 2 s.
		ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
		defer cancel()
		_, err = conn.Call(ctx, "slow", nil)
		require.ErrorIs(t, err, context.DeadlineExceeded)
	})
}
