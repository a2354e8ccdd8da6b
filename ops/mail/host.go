package mail

import (
	"context"
	"errors"
	"net"
	"strings"
	"syscall"
	"time"
)

// Resolver answers whether a mail host exists; *net.Resolver is one.
type Resolver interface {
	LookupHost(ctx context.Context, host string) ([]string, error)
}

// ResolverAt is a resolver that asks only the DNS server at addr
// (host:port), after /etc/hosts as every Go resolver does: ceod.cf's
// forward_dns_server, and tests' stand-in DNS.
func ResolverAt(addr string) *net.Resolver {
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}}
}

// hostCheckTimeout bounds the lookup of a forward's host: a dead DNS
// server must not hold the op for its whole op_timeout.
const hostCheckTimeout = 10 * time.Second

// checkHost resolves the mail host of fwd (after its last "@"), as
// legacy's gethostbyname check did. A forward without "@" names a local
// user and is not checked. It returns 0 and "" when the host resolves,
// else the status and message to reply.
func checkHost(ctx context.Context, res Resolver, fwd string) (int32, string) {
	at := strings.LastIndexByte(fwd, '@')
	if at < 0 {
		return 0, ""
	}
	host := fwd[at+1:]
	if host == "" {
		return int32(syscall.EINVAL), "Invalid host: the forward has nothing after @"
	}
	ctx, cancel := context.WithTimeout(ctx, hostCheckTimeout)
	defer cancel()
	addrs, err := res.LookupHost(ctx, host)
	var de *net.DNSError
	switch {
	case err == nil && len(addrs) > 0:
		return 0, ""
	case err == nil, errors.As(err, &de) && de.IsNotFound:
		return int32(syscall.EINVAL), "Invalid host: " + host
	}
	return int32(syscall.EAGAIN), "unable to check host " + host + ": the name server did not answer; try again"
}
