package opsfile

import (
	"context"
	"fmt"
	"net"
	"strings"
	"time"
)

// LookupTimeout bounds one canonical-name lookup.
const LookupTimeout = 5 * time.Second

// Canonical returns host's canonical name as the legacy programs got it
// from gethostbyname(host)->h_name: the resolver's canonical name (hosts
// file, then DNS), lower-cased and without a trailing dot. A nil res
// means the system's resolver. Legacy ops files use short host names
// ("aspartame"); ceod principals carry the canonical one.
func Canonical(ctx context.Context, res *net.Resolver, host string) (string, error) {
	if res == nil {
		res = net.DefaultResolver
	}
	ctx, cancel := context.WithTimeout(ctx, LookupTimeout)
	defer cancel()
	cname, err := res.LookupCNAME(ctx, host)
	if err != nil {
		return "", fmt.Errorf("canonical name of %s: %w", host, err)
	}
	return Normalize(cname), nil
}

// Normalize lower-cases a host name and drops a trailing dot.
func Normalize(h string) string { return strings.ToLower(strings.TrimSuffix(h, ".")) }
