package server

import (
	"container/list"
	"net"
	"net/netip"
)

// pool is the admission state (see Limits): the connections waiting for
// their MSG_AUTH frame in accept order, overall and per address, those
// of them holding a reserved body in reservation order, the reserved
// bytes, and the authenticated connections per principal. It is guarded
// by Server.mu.
type pool struct {
	waiting    list.List // of *conn, oldest first
	byAddr     map[string]*list.List
	holding    list.List // waiting conns with reserved > 0, oldest first
	bytes      int64
	principals map[string]int
}

// poolEntry is a connection's place in the pool, guarded by Server.mu.
type poolEntry struct {
	waitElem, addrElem, holdElem *list.Element
	reserved                     int64
	principal                    string // counted in principals once set
}

func newPool() pool {
	return pool{byAddr: map[string]*list.List{}, principals: map[string]int{}}
}

// admit places c in the pool, displacing waiting connections as the
// limits require; total is the number of connections before c. It
// returns the displaced connections (the caller closes them, outside
// the lock) or, if c cannot be admitted, a reason.
func (p *pool) admit(c *conn, lim Limits, total int) (victims []*conn, reason string) {
	addr := p.byAddr[c.ipKey]
	switch {
	case addr != nil && over(addr.Len(), lim.MaxStartupsPerAddr):
		victims = append(victims, p.displace(addr.Front().Value.(*conn)))
	case over(p.waiting.Len(), lim.MaxStartups):
		victims = append(victims, p.displace(p.waiting.Front().Value.(*conn)))
	}
	if over(total-len(victims), lim.MaxConns) {
		if p.waiting.Len() == 0 {
			return victims, "too many connections"
		}
		victims = append(victims, p.displace(p.waiting.Front().Value.(*conn)))
	}
	if addr == nil {
		addr = list.New()
		p.byAddr[c.ipKey] = addr
	}
	c.pe.waitElem = p.waiting.PushBack(c)
	c.pe.addrElem = addr.PushBack(c)
	return victims, ""
}

// displace takes a waiting connection out of the pool and marks it; the
// caller closes it.
func (p *pool) displace(v *conn) *conn {
	p.leave(v)
	p.release(v)
	v.displaced.Store(true)
	return v
}

// reserve counts n body bytes for the waiting connection c, displacing
// the oldest waiting connections that hold bytes until they fit. It
// reports false (and displaces nothing) if c is no longer waiting or
// the bytes cannot fit because verifying connections hold them.
func (p *pool) reserve(c *conn, n int64, lim Limits) (victims []*conn, ok bool) {
	if c.pe.waitElem == nil {
		return nil, false
	}
	if lim.PreAuthBytes >= 0 {
		if n > lim.PreAuthBytes {
			return nil, false
		}
		free := lim.PreAuthBytes - p.bytes
		for e := p.holding.Front(); e != nil && free < n; e = e.Next() {
			free += e.Value.(*conn).pe.reserved
		}
		if free < n {
			return nil, false
		}
		for p.bytes+n > lim.PreAuthBytes {
			victims = append(victims, p.displace(p.holding.Front().Value.(*conn)))
		}
	}
	c.pe.reserved = n
	p.bytes += n
	c.pe.holdElem = p.holding.PushBack(c)
	return victims, true
}

// leave takes c out of the waiting lists (it has its token, or is
// going); its reserved bytes stay counted until release. It reports
// whether c was waiting.
func (p *pool) leave(c *conn) bool {
	if c.pe.waitElem == nil {
		return false
	}
	p.waiting.Remove(c.pe.waitElem)
	if addr := p.byAddr[c.ipKey]; addr != nil {
		addr.Remove(c.pe.addrElem)
		if addr.Len() == 0 {
			delete(p.byAddr, c.ipKey)
		}
	}
	if c.pe.holdElem != nil {
		p.holding.Remove(c.pe.holdElem)
	}
	c.pe.waitElem, c.pe.addrElem, c.pe.holdElem = nil, nil, nil
	return true
}

// release returns c's reserved bytes to the budget.
func (p *pool) release(c *conn) {
	p.bytes -= c.pe.reserved
	c.pe.reserved = 0
}

// authenticated counts c against its principal's limit, and reports
// false if the principal is at its limit.
func (p *pool) authenticated(c *conn, principal string, lim Limits) bool {
	if over(p.principals[principal], lim.MaxConnsPerPrincipal) {
		return false
	}
	p.principals[principal]++
	c.pe.principal = principal
	return true
}

// forget removes every trace of c.
func (p *pool) forget(c *conn) {
	p.leave(c)
	p.release(c)
	if pr := c.pe.principal; pr != "" {
		if p.principals[pr]--; p.principals[pr] <= 0 {
			delete(p.principals, pr)
		}
		c.pe.principal = ""
	}
}

// closeAll closes connections displaced from the pool.
func closeAll(victims []*conn) {
	for _, v := range victims {
		v.rwc.Close()
	}
}

// ipKey returns the key under which per-address limits and logs count
// addr: the IPv4 address, or the /64 of an IPv6 address (one host's
// usual share).
func ipKey(addr net.Addr) string {
	ap, err := netip.ParseAddrPort(addr.String())
	if err != nil {
		return addr.String()
	}
	ip := ap.Addr().Unmap()
	if ip.Is4() {
		return ip.String()
	}
	p, _ := ip.Prefix(64)
	return p.String()
}
