package realm

import (
	"encoding/binary"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// startingUpProxy listens on loopback and answers the first `refuse`
// connections as a PostgreSQL server that is still starting up (FATAL
// 57P03), then relays later connections to backend ("" refuses forever).
// It returns its port and a counter of the connections it took.
func startingUpProxy(t *testing.T, refuse int, backend string) (int, *atomic.Int32) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var wg sync.WaitGroup
	t.Cleanup(func() { l.Close(); wg.Wait() })
	var n atomic.Int32
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			i := int(n.Add(1))
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				if backend == "" || i <= refuse {
					refuseStartingUp(c)
					return
				}
				b, err := net.Dial("tcp", backend)
				if err != nil {
					return
				}
				defer b.Close()
				go func() { io.Copy(b, c); b.Close() }()
				io.Copy(c, b)
			}()
		}
	}()
	return l.Addr().(*net.TCPAddr).Port, &n
}

// refuseStartingUp reads a startup message and answers what PostgreSQL
// answers before it takes logins.
func refuseStartingUp(c net.Conn) {
	c.SetDeadline(time.Now().Add(5 * time.Second))
	var hdr [4]byte
	if _, err := io.ReadFull(c, hdr[:]); err != nil {
		return
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n < 4 || n > 10000 {
		return
	}
	if _, err := io.CopyN(io.Discard, c, int64(n-4)); err != nil {
		return
	}
	var body []byte
	for _, f := range []struct {
		code byte
		val  string
	}{{'S', "FATAL"}, {'V', "FATAL"}, {'C', "57P03"}, {'M', "the database system is starting up"}} {
		body = append(body, f.code)
		body = append(body, f.val...)
		body = append(body, 0)
	}
	body = append(body, 0)
	msg := []byte{'E', 0, 0, 0, 0}
	binary.BigEndian.PutUint32(msg[1:], uint32(4+len(body)))
	c.Write(append(msg, body...))
}

func fakeDaemon(name string) *daemon { return &daemon{name: name, done: make(chan struct{})} }

// TestWaitPostgresRetriesStartingUp: a server whose port is open but that
// answers 57P03 is not ready; once logins work, waitPostgres returns.
func TestWaitPostgresRetriesStartingUp(t *testing.T) {
	r := Get(t)
	port, n := startingUpProxy(t, 3, "127.0.0.1:"+strconv.Itoa(r.PGPort))
	proxied := &Realm{PGAdminUser: r.PGAdminUser, PGAdminPassword: r.PGAdminPassword, PGPort: port}
	require.NoError(t, proxied.waitPostgres(fakeDaemon("postgres"), 30*time.Second, "/dev/null"))
	assert.GreaterOrEqual(t, int(n.Load()), 4, "waitPostgres returned before a login went through")
}

func TestWaitPostgresTimesOutWhileStartingUp(t *testing.T) {
	port, n := startingUpProxy(t, 0, "")
	r := &Realm{PGAdminUser: "postgres", PGAdminPassword: "secret-pw-xyz", PGPort: port}
	t0 := time.Now()
	err := r.waitPostgres(fakeDaemon("postgres"), 500*time.Millisecond, "/dev/null")
	require.Error(t, err)
	assert.Less(t, time.Since(t0), 10*time.Second)
	assert.Contains(t, err.Error(), "57P03")
	assert.Contains(t, err.Error(), "not taking connections")
	assert.NotContains(t, err.Error(), r.PGAdminPassword)
	assert.GreaterOrEqual(t, int(n.Load()), 2, "no retry before the deadline")
}

func TestWaitReadyStopsWhenDaemonExits(t *testing.T) {
	d := fakeDaemon("mariadbd")
	close(d.done)
	err := waitSQL(d, "mysql", "root@tcp(127.0.0.1:1)/", time.Minute, "/dev/null", nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "mariadbd exited")
}
