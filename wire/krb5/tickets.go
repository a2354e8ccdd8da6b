package krb5

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jcmturner/gokrb5/v8/client"
	"github.com/jcmturner/gokrb5/v8/credentials"
	"github.com/jcmturner/gokrb5/v8/iana/nametype"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"
)

// minTicketLife is how long a cached service ticket must still be valid
// to be used: the handshake that carries it has to reach the service
// before it expires. MIT reuses a cached ticket until its end time; a few
// seconds of margin keeps a slow round trip from failing instead.
const minTicketLife = 5 * time.Second

// ServiceTicket is a ticket for one service with what the initiator needs
// to build an AP-REQ.
type ServiceTicket struct {
	Client      types.PrincipalName
	ClientRealm string
	Ticket      messages.Ticket
	Key         types.EncryptionKey
	EndTime     time.Time // zero when not known (gokrb5's own cache)
	Reused      bool      // true when no KDC exchange was made for it
}

// Tickets hands out service tickets for one client, as MIT clients do:
// from memory, then from the FILE credentials cache the client was
// loaded from, and only then from the KDC; a ticket from the KDC is stored
// in that cache (MIT's format and locking) so that the next process, MIT
// tools included, uses it too. A cache that cannot be written is used
// read-only, silently. Tickets is safe for concurrent use.
type Tickets struct {
	cl     *client.Client
	ccache string // path of the FILE cache; "" for keytab and password clients
	now    func() time.Time

	mu   sync.Mutex
	mem  map[string]ServiceTicket
	read *credentials.CCache // the cache as TicketsFromCCache read it, for the first lookup

	kdc    atomic.Int64 // service tickets obtained from the KDC
	reused atomic.Int64 // service tickets reused from memory or the cache
}

// NewTickets returns the ticket source for cl. ccachePath is the FILE
// cache cl was loaded from (ClientFromCCache), or "" for a client that
// logged in with a keytab or password: its tickets live in memory only.
func NewTickets(cl *client.Client, ccachePath string) *Tickets {
	return &Tickets{cl: cl, ccache: ccachePath, now: time.Now, mem: map[string]ServiceTicket{}}
}

// Stats returns how many service tickets came from the KDC and how many
// were reused.
func (t *Tickets) Stats() (fromKDC, reused int64) { return t.kdc.Load(), t.reused.Load() }

// Get returns a ticket for spn ("ceod/host.example.org").
func (t *Tickets) Get(spn string) (ServiceTicket, error) {
	if t.cl == nil || t.cl.Credentials == nil {
		return ServiceTicket{}, errors.New("krb5: nil client")
	}
	t.mu.Lock()
	st, ok := t.mem[spn]
	t.mu.Unlock()
	if ok && t.fresh(st.EndTime) {
		st.Reused = true
		t.reused.Add(1)
		return st, nil
	}
	var err error
	if t.ccache != "" {
		st, err = t.fromCCache(spn)
	} else {
		st, err = t.fromClient(spn)
	}
	if err != nil {
		return ServiceTicket{}, err
	}
	if st.Reused {
		t.reused.Add(1)
	} else {
		t.kdc.Add(1)
	}
	t.mu.Lock()
	t.mem[spn] = st
	t.mu.Unlock()
	return st, nil
}

func (t *Tickets) fresh(end time.Time) bool {
	return end.IsZero() || end.Sub(t.now()) > minTicketLife
}

// fromClient asks gokrb5, whose client keeps its own in-memory cache and
// renews its TGT, as keytab and password logins need.
func (t *Tickets) fromClient(spn string) (ServiceTicket, error) {
	_, _, cached := t.cl.GetCachedTicket(spn)
	tkt, key, err := t.cl.GetServiceTicket(spn)
	if err != nil {
		return ServiceTicket{}, fmt.Errorf("krb5: getting a ticket for %s: %w", spn, err)
	}
	return ServiceTicket{Client: t.cl.Credentials.CName(), ClientRealm: t.cl.Credentials.Domain(), Ticket: tkt, Key: key, Reused: cached}, nil
}

// fromCCache finds a valid ticket for spn in the cache, or gets one from
// the KDC with the cache's TGT and stores it there.
func (t *Tickets) fromCCache(spn string) (ServiceTicket, error) {
	sname := types.NewPrincipalName(nametype.KRB_NT_SRV_HST, spn)
	srealm := t.serviceRealm(sname)
	t.mu.Lock()
	cc := t.read
	t.read = nil
	t.mu.Unlock()
	if cc == nil {
		var err error
		if cc, err = ReadCCache(t.ccache); err != nil {
			return ServiceTicket{}, fmt.Errorf("krb5: reading credentials cache %s: %w (run kinit)", t.ccache, err)
		}
	}
	crealm := cc.DefaultPrincipal.Realm
	cname := cc.DefaultPrincipal.PrincipalName
	if c := t.find(cc, sname, srealm); c != nil {
		var tkt messages.Ticket
		if err := tkt.Unmarshal(c.Ticket); err == nil {
			return ServiceTicket{Client: cname, ClientRealm: crealm, Ticket: tkt, Key: c.Key, EndTime: c.EndTime, Reused: true}, nil
		}
	}
	tgtName := types.NewPrincipalName(nametype.KRB_NT_SRV_INST, "krbtgt/"+crealm)
	tgtCred := t.find(cc, tgtName, crealm)
	if tgtCred == nil {
		return ServiceTicket{}, fmt.Errorf("krb5: credentials cache %s holds no valid ticket-granting ticket for %s (run kinit)", t.ccache, crealm)
	}
	var tgt messages.Ticket
	if err := tgt.Unmarshal(tgtCred.Ticket); err != nil {
		return ServiceTicket{}, fmt.Errorf("krb5: ticket-granting ticket in %s: %w", t.ccache, err)
	}
	_, rep, err := t.cl.TGSREQGenerateAndExchange(sname, srealm, tgt, tgtCred.Key, false)
	if err != nil {
		return ServiceTicket{}, fmt.Errorf("krb5: getting a ticket for %s: %w", spn, err)
	}
	st := ServiceTicket{Client: cname, ClientRealm: crealm, Ticket: rep.Ticket, Key: rep.DecryptedEncPart.Key, EndTime: rep.DecryptedEncPart.EndTime}
	if cred, err := CredentialFromKDCRep(crealm, cname, rep.Ticket, rep.DecryptedEncPart); err == nil {
		// Store as MIT does, skipping the write when another process
		// stored a valid ticket for the service meanwhile. A cache we
		// cannot write is used read-only: the ticket is still ours.
		_ = AppendCCache(t.ccache, cred, func(cc *credentials.CCache) bool {
			return t.find(cc, sname, srealm) == nil
		})
	}
	return st, nil
}

// find returns the newest valid, non-user-to-user credential for the
// server in cc. MIT appends, so a renewed ticket comes after the old one.
func (t *Tickets) find(cc *credentials.CCache, server types.PrincipalName, realm string) *credentials.Credential {
	var best *credentials.Credential
	for _, c := range cc.Credentials {
		if c.IsSKey || !c.Server.PrincipalName.Equal(server) || !strings.EqualFold(c.Server.Realm, realm) {
			continue
		}
		if !t.fresh(c.EndTime) || t.now().Before(c.StartTime.Add(-minTicketLife)) {
			continue
		}
		if best == nil || c.EndTime.After(best.EndTime) {
			best = c
		}
	}
	return best
}

// serviceRealm is the realm of a host-based service, as gokrb5's client
// resolves it: [domain_realm] for the host, else the client's realm.
func (t *Tickets) serviceRealm(sname types.PrincipalName) string {
	if len(sname.NameString) > 1 && t.cl.Config != nil {
		if r := t.cl.Config.ResolveRealm(sname.NameString[len(sname.NameString)-1]); r != "" {
			return r
		}
	}
	return t.cl.Credentials.Domain()
}
