package directory

import (
	"context"
	"errors"
	"fmt"
	"net"

	"github.com/go-ldap/ldap/v3"
)

func (c *Client) dial(ctx context.Context) (*ldap.Conn, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("directory: connecting to %s: %w", c.cfg.URL, err)
	}
	conn, err := ldap.DialURL(c.cfg.URL, ldap.DialWithDialer(&net.Dialer{Timeout: c.cfg.DialTimeout}))
	if err != nil {
		return nil, fmt.Errorf("directory: connecting to %s: %w: %w", c.cfg.URL, ErrUnavailable, err)
	}
	conn.SetTimeout(c.cfg.Timeout)
	if c.cfg.Bind != nil {
		stop := context.AfterFunc(ctx, func() { conn.Close() })
		err := c.cfg.Bind(conn)
		if !stop() {
			err = ctx.Err()
		}
		if err != nil {
			conn.Close()
			if isNetworkError(err) {
				err = fmt.Errorf("%w: %w", ErrUnavailable, err)
			}
			return nil, fmt.Errorf("directory: binding to %s: %w", c.cfg.URL, err)
		}
	}
	return conn, nil
}

// get returns an idle connection (reused reports true) or a new one.
func (c *Client) get(ctx context.Context) (conn *ldap.Conn, reused bool, err error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, false, errors.New("directory: client closed")
	}
	for len(c.idle) > 0 {
		conn = c.idle[len(c.idle)-1]
		c.idle = c.idle[:len(c.idle)-1]
		if !conn.IsClosing() {
			c.mu.Unlock()
			return conn, true, nil
		}
		conn.Close()
	}
	c.mu.Unlock()
	conn, err = c.dial(ctx)
	return conn, false, err
}

// put returns a healthy connection to the pool or closes it.
func (c *Client) put(conn *ldap.Conn) {
	c.mu.Lock()
	if !c.closed && !conn.IsClosing() && len(c.idle) < c.cfg.MaxIdle {
		c.idle = append(c.idle, conn)
		conn = nil
	}
	c.mu.Unlock()
	if conn != nil {
		conn.Close()
	}
}

// do runs fn on a connection. ctx ending closes the connection, which
// makes fn's request fail at once. A read (retry true) that fails with a
// network error on a reused connection is tried again on a new one.
func (c *Client) do(ctx context.Context, retry bool, fn func(*ldap.Conn) error) error {
	for attempt := 0; ; attempt++ {
		conn, reused, err := c.get(ctx)
		if err != nil {
			return err
		}
		stop := context.AfterFunc(ctx, func() { conn.Close() })
		err = fn(conn)
		if !stop() {
			conn.Close()
			return fmt.Errorf("directory: %w", context.Cause(ctx))
		}
		if isNetworkError(err) || conn.IsClosing() {
			conn.Close()
			if retry && reused && attempt == 0 && isNetworkError(err) {
				c.log.Debug("directory: retrying on a new connection", "err", err)
				continue
			}
		} else {
			c.put(conn)
		}
		if isNetworkError(err) {
			return fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
		return err
	}
}

func isNetworkError(err error) bool {
	return err != nil && ldap.IsErrorAnyOf(err, ldap.ErrorNetwork, ldap.LDAPResultServerDown, ldap.LDAPResultUnavailable)
}
