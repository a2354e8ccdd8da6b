package kadmin

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/csclub/ceo/ops/procrun"
)

// A session is one kadmin program in interactive mode, logged in once:
// a query costs one RPC to kadmind instead of a process start, an AS
// exchange and kadmind's RPCSEC_GSS setup. It is used by one query at a
// time (Client.mu).
//
// The dialogue is driven by kadmin's prompts, never ahead of them:
//
//   - "kadmin:  " at the start of a line: kadmin reads the next query;
//   - `Enter password for principal "NAME@REALM": ` (and "Re-enter"):
//     kadmin reads a password. Only then is the password written, so a
//     password can never be read as a query, whatever kadmin's line
//     reader buffers;
//   - after each query a sentinel, an unknown query with a fresh number,
//     whose answer (`Unknown request "ceod-sync-N"`) must come back
//     before the next prompt: the output read is then surely the
//     query's, and nothing of it is left for the next one.
//
// Any surprise (kadmin exits, a deadline passes, a sentinel is missing)
// ends the session; the next query starts a new one.
type session struct {
	proc    *procrun.Proc
	out     *os.File
	buf     []byte // output read, up to what readUntil wants
	chunk   []byte // read buffer
	started time.Time
	sync    uint64 // the last sentinel's number
}

// Session limits.
const (
	// sessionMaxAge bounds a session's life: kadmin's ticket for
	// kadmin/admin (MIT gives kadmin/admin a 3-hour max life) must not
	// expire under it.
	sessionMaxAge = 30 * time.Minute
	// sessionMaxIdle bounds how long an unused session is kept alive
	// (a kadmind connection held for nothing).
	sessionMaxIdle = 5 * time.Minute
	// probeAfter: a write to a session idle for longer is preceded by a
	// getprivs, which changes nothing: a kadmind restarted meanwhile
	// has broken the session's connection, and the write's RPC error
	// would leave it unknown whether the write was applied.
	probeAfter = time.Second
)

// prompt is kadmin's query prompt (libss: the subsystem name, ":  ").
const prompt = "kadmin:  "

// errSession marks a session that failed as a channel: kadmin exited,
// stopped answering, or its output was not what the dialogue expects.
var errSession = errors.New("kadmin: session lost")

// startSession starts kadmin and waits for its first prompt.
func (c *Client) startSession(ctx context.Context) (*session, string, error) {
	p, err := procrun.Start(procrun.Cmd{
		Path: c.path(),
		Args: []string{"-k", "-t", c.Keytab, "-p", c.Principal, "-r", c.Realm},
		Env:  c.env(),
		// As for one-shot runs: no terminal, killed with ceod.
		NewSession:     true,
		KillWithParent: true,
	})
	if err != nil {
		return nil, err.Error(), err
	}
	s := &session{proc: p, out: p.Output.(*os.File), started: time.Now()}
	out, err := s.readPrompt(ctx)
	if err != nil {
		s.close()
		return nil, out, err
	}
	return s, out, nil
}

func (s *session) close() { s.proc.Kill() }

// usable reports whether the session may take another query.
func (s *session) usable(lastUse time.Time) bool {
	select {
	case <-s.proc.Done():
		return false
	default:
	}
	return time.Since(s.started) < sessionMaxAge && time.Since(lastUse) < sessionMaxIdle
}

// query runs one query, answering the password prompts for full with
// passwords, and returns its output (without the echo of the query).
// sent reports whether kadmin may have sent the query to kadmind: it
// got the query, and the passwords if it takes any (kadmin asks for
// them before it sends anything that changes a principal).
func (s *session) query(ctx context.Context, q, full string, passwords []string) (out string, sent bool, err error) {
	if _, err := io.WriteString(s.proc.Stdin, q+"\n"); err != nil {
		return "", false, fmt.Errorf("%w: %w", errSession, err)
	}
	var all bytes.Buffer
	for _, pw := range passwords {
		chunk, asked, err := s.readPasswordPrompt(ctx, full)
		all.WriteString(chunk)
		if asked {
			// A terminal would show the newline typed; without it an
			// error line would continue the prompt's line.
			all.WriteString("\n")
		}
		if err != nil {
			return all.String(), false, err
		}
		if !asked {
			// The query ended without asking (it failed first): the
			// passwords are not written at all.
			return stripEcho(all.String(), q), true, s.syncUp(ctx)
		}
		if _, err := io.WriteString(s.proc.Stdin, pw+"\n"); err != nil {
			return all.String(), false, fmt.Errorf("%w: %w", errSession, err)
		}
	}
	chunk, err := s.readPrompt(ctx)
	all.WriteString(chunk)
	if err != nil {
		return all.String(), true, err
	}
	return stripEcho(all.String(), q), true, s.syncUp(ctx)
}

// syncUp sends a sentinel query and checks its answer: what was read
// before belongs to the last query and nothing more is pending.
func (s *session) syncUp(ctx context.Context) error {
	s.sync++
	tag := "ceod-sync-" + strconv.FormatUint(s.sync, 10)
	if _, err := io.WriteString(s.proc.Stdin, tag+"\n"); err != nil {
		return fmt.Errorf("%w: %w", errSession, err)
	}
	out, err := s.readPrompt(ctx)
	if err != nil {
		return err
	}
	if !strings.Contains(out, `Unknown request "`+tag+`"`) {
		return fmt.Errorf("%w: no answer to the sentinel %s", errSession, tag)
	}
	return nil
}

// stripEcho drops kadmin's echo of the query (its line editor repeats
// the line it read) from the start of out.
func stripEcho(out, q string) string {
	if rest, ok := strings.CutPrefix(out, q+"\n"); ok {
		return rest
	}
	return out
}

// readPrompt reads until kadmin prompts for a query and returns what
// came before the prompt.
func (s *session) readPrompt(ctx context.Context) (string, error) {
	out, _, err := s.readUntil(ctx, func(b []byte) (int, bool) {
		if atPrompt(b) {
			return len(b) - len(prompt), true
		}
		return 0, false
	})
	return out, err
}

// readPasswordPrompt reads until kadmin asks for full's password
// (asked) or prompts for a query (the query failed before asking).
func (s *session) readPasswordPrompt(ctx context.Context, full string) (string, bool, error) {
	ask := []byte(`password for principal "` + full + `": `)
	return s.readUntil(ctx, func(b []byte) (int, bool) {
		if bytes.HasSuffix(b, ask) {
			return len(b), true
		}
		if atPrompt(b) {
			return len(b) - len(prompt), true
		}
		return 0, false
	})
}

// atPrompt reports whether b ends with the query prompt at the start of
// a line. kadmin writes nothing after it until it has read a line.
func atPrompt(b []byte) bool {
	return bytes.Equal(b, []byte(prompt)) || bytes.HasSuffix(b, []byte("\n"+prompt))
}

// maxSessionOutput bounds what one query may print before its prompt
// (getprinc, the longest, prints under 1 KiB).
const maxSessionOutput = 64 << 10

// readUntil reads kadmin's output until done reports the end of what is
// wanted: the text up to n is returned, and asked says whether it ended
// with a password prompt rather than the query prompt. ctx's end ends
// the wait.
func (s *session) readUntil(ctx context.Context, done func([]byte) (n int, ok bool)) (string, bool, error) {
	if dl, ok := ctx.Deadline(); ok {
		s.out.SetReadDeadline(dl)
	} else {
		s.out.SetReadDeadline(time.Time{})
	}
	stop := context.AfterFunc(ctx, func() { s.out.SetReadDeadline(time.Now()) })
	defer stop()
	s.buf = s.buf[:0]
	if s.chunk == nil {
		s.chunk = make([]byte, 4096)
	}
	chunk := s.chunk
	for {
		if n, ok := done(s.buf); ok {
			asked := !atPrompt(s.buf)
			out := string(s.buf[:n])
			s.buf = s.buf[:0]
			return out, asked, nil
		}
		if len(s.buf) > maxSessionOutput {
			return string(s.buf), false, fmt.Errorf("%w: more than %d bytes of output", errSession, maxSessionOutput)
		}
		n, err := s.out.Read(chunk)
		s.buf = append(s.buf, chunk[:n]...)
		if err != nil {
			if ctx.Err() != nil {
				return string(s.buf), false, fmt.Errorf("%w: %w", errSession, ctx.Err())
			}
			if errors.Is(err, os.ErrDeadlineExceeded) {
				return string(s.buf), false, fmt.Errorf("%w: %w", errSession, context.DeadlineExceeded)
			}
			return string(s.buf), false, fmt.Errorf("%w: kadmin exited: %w", errSession, err)
		}
	}
}

// lock takes the session for one query, or fails when ctx ends first.
func (c *Client) lock(ctx context.Context) error {
	c.mu.Lock()
	if c.sem == nil {
		c.sem = make(chan struct{}, 1)
	}
	sem := c.sem
	c.mu.Unlock()
	select {
	case sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (c *Client) unlock() { <-c.sem }

// Close ends the Session's kadmin, if one runs. The Client stays
// usable: a later query starts a new one.
func (c *Client) Close() error {
	if err := c.lock(context.Background()); err != nil {
		return err
	}
	defer c.unlock()
	c.endSession()
	return nil
}

// endSession ends the Client's session, if any: the next query starts
// a new one. The caller holds the session (lock).
func (c *Client) endSession() {
	if c.sess != nil {
		c.sess.close()
		c.sess = nil
	}
}

// runSession runs the query in the Client's session, starting one if
// needed. A query that never reached kadmin (the session had died) is
// tried once more in a fresh session; so is a getprinc that met an RPC
// failure, which changes nothing.
func (c *Client) runSession(ctx context.Context, query, name, q string, passwords []string) (string, error) {
	full := c.full(name)
	if err := c.lock(ctx); err != nil {
		return "", &Error{Query: query, Name: full, Output: "timed out or cancelled waiting for kadmin", Err: err}
	}
	defer c.unlock()
	for attempt := 0; ; attempt++ {
		retry := attempt == 0
		if c.sess != nil && !c.sess.usable(c.lastUse) {
			c.endSession()
		}
		if c.sess == nil {
			s, out, err := c.startSession(ctx)
			if err != nil {
				if ctx.Err() != nil {
					return "", &Error{Query: query, Name: full, Output: "timed out or cancelled", Err: ctx.Err()}
				}
				// Nothing was sent: kadmin could not log in.
				if e := c.check(query, name, out, lastLine(out), err, false); e != nil {
					return "", e
				}
				return "", &Error{Query: query, Name: full, Output: err.Error(), Err: ErrUnavailable}
			}
			c.sess = s
			c.lastUse = time.Now()
		}
		if query != "getprinc" && time.Since(c.lastUse) > probeAfter && !c.probe(ctx) {
			c.endSession()
			if retry && ctx.Err() == nil {
				continue
			}
			return "", &Error{Query: query, Name: full, Output: "kadmind does not answer", Err: ErrUnavailable}
		}
		out, sent, err := c.sess.query(ctx, q, full, passwords)
		c.lastUse = time.Now()
		if err != nil {
			c.endSession()
			if (!sent || query == "getprinc") && retry && ctx.Err() == nil {
				continue // nothing was changed: a new session may do
			}
			e := &Error{Query: query, Name: full, Output: "kadmin stopped answering", Err: ErrUnavailable, MaybeApplied: sent}
			if ctx.Err() != nil {
				e.Output, e.Err = "timed out or cancelled", ctx.Err()
			}
			return "", e
		}
		if replyLost(out) || strings.Contains(out, "RPC: ") || strings.Contains(out, "GSS-API") {
			// The connection to kadmind is suspect: the next query
			// logs in afresh.
			c.endSession()
			if query == "getprinc" && retry {
				continue
			}
		}
		if err := c.check(query, name, out, lastLine(out), nil, true); err != nil {
			return "", err
		}
		return out, nil
	}
}

// probe asks kadmind for the session's privileges and reports whether
// the answer came.
func (c *Client) probe(ctx context.Context) bool {
	out, _, err := c.sess.query(ctx, "getprivs", "", nil)
	return err == nil && strings.Contains(out, "current privileges:")
}
