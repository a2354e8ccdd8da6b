package realm

import (
	"context"
	"net"
	"strconv"
	"strings"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// DNSZones are the domains the realm's DNS server answers (with
// 127.0.0.1, for the name and every name under it); every other name is
// NXDOMAIN. Tests point resolvers at it (ceod.cf forward_dns_server) so a
// check that a mail host resolves works without the internet.
var DNSZones = []string{"example.org", "example.com", "example.net", "csclub.internal", "localhost"}

// DNSAliases are CNAMEs the server answers: short host names of the
// legacy ops files and the canonical names they resolve to.
var DNSAliases = map[string]string{"shorthost": "shorthost.csclub.internal"}

// maxDNSMessage is the largest UDP DNS message (RFC 1035 without EDNS).
const maxDNSMessage = 512

// dnsServer is the realm's in-process DNS server on UDP 127.0.0.1:DNSPort.
type dnsServer struct {
	conn net.PacketConn
	done chan struct{}
}

func (r *Realm) startDNS() error {
	c, err := net.ListenPacket("udp", net.JoinHostPort("127.0.0.1", strconv.Itoa(r.DNSPort)))
	if err != nil {
		return err
	}
	s := &dnsServer{conn: c, done: make(chan struct{})}
	go s.serve()
	r.dns = s
	return nil
}

func (s *dnsServer) stop() {
	s.conn.Close()
	<-s.done
}

func (s *dnsServer) serve() {
	defer close(s.done)
	buf := make([]byte, maxDNSMessage)
	for {
		n, addr, err := s.conn.ReadFrom(buf)
		if err != nil {
			return // closed
		}
		if out, ok := answer(buf[:n]); ok {
			s.conn.WriteTo(out, addr)
		}
	}
}

// answer builds the reply to one query; false drops a malformed one.
func answer(q []byte) ([]byte, bool) {
	var p dnsmessage.Parser
	h, err := p.Start(q)
	if err != nil {
		return nil, false
	}
	qs, err := p.AllQuestions()
	if err != nil || len(qs) != 1 {
		return nil, false
	}
	question := qs[0]
	name := strings.ToLower(strings.TrimSuffix(question.Name.String(), "."))
	rh := dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true, RecursionDesired: h.RecursionDesired}
	target, alias := DNSAliases[name]
	if !alias && !inZones(name) {
		rh.RCode = dnsmessage.RCodeNameError
	}
	b := dnsmessage.NewBuilder(nil, rh)
	b.EnableCompression()
	if b.StartQuestions() != nil || b.Question(question) != nil || b.StartAnswers() != nil {
		return nil, false
	}
	ttl := uint32(60)
	if alias {
		rn := dnsmessage.ResourceHeader{Name: question.Name, Class: dnsmessage.ClassINET, TTL: ttl}
		if b.CNAMEResource(rn, dnsmessage.CNAMEResource{CNAME: dnsmessage.MustNewName(target + ".")}) != nil {
			return nil, false
		}
	}
	if (alias || rh.RCode == dnsmessage.RCodeSuccess) && question.Type == dnsmessage.TypeA {
		owner := question.Name
		if alias {
			owner = dnsmessage.MustNewName(target + ".")
		}
		rn := dnsmessage.ResourceHeader{Name: owner, Class: dnsmessage.ClassINET, TTL: ttl}
		if b.AResource(rn, dnsmessage.AResource{A: [4]byte{127, 0, 0, 1}}) != nil {
			return nil, false
		}
	}
	out, err := b.Finish()
	return out, err == nil
}

func inZones(name string) bool {
	for _, z := range DNSZones {
		if name == z || strings.HasSuffix(name, "."+z) {
			return true
		}
	}
	return false
}

// Resolver is a Go resolver that asks only the realm's DNS server
// (and /etc/hosts first, as every Go resolver does).
func (r *Realm) Resolver() *net.Resolver {
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(r.DNSPort))
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		d := net.Dialer{Timeout: 5 * time.Second}
		return d.DialContext(ctx, network, addr)
	}}
}
