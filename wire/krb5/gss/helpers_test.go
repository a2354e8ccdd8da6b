package gss

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jcmturner/gofork/encoding/asn1"
	"github.com/jcmturner/gokrb5/v8/asn1tools"
	"github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/iana"
	"github.com/jcmturner/gokrb5/v8/iana/asnAppTag"
	"github.com/jcmturner/gokrb5/v8/iana/etypeID"
	"github.com/jcmturner/gokrb5/v8/iana/keyusage"
	"github.com/jcmturner/gokrb5/v8/iana/nametype"
	"github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"
)

const (
	testRealm   = "TEST.REALM"
	testService = "ceod/localhost"
	testClient  = "alice"
)

var allEnctypes = []int32{
	etypeID.AES256_CTS_HMAC_SHA1_96,
	etypeID.AES128_CTS_HMAC_SHA1_96,
	etypeID.AES128_CTS_HMAC_SHA256_128,
	etypeID.AES256_CTS_HMAC_SHA384_192,
}

var (
	keytabOnce sync.Once
	testKT     *keytab.Keytab
)

// serviceKeytab returns an in-memory keytab with random keys of all four
// enctypes for ceod/localhost and for other/localhost.
func serviceKeytab(t testing.TB) *keytab.Keytab {
	t.Helper()
	keytabOnce.Do(func() {
		kt := keytab.New()
		for _, p := range []string{testService, "other/localhost"} {
			for _, et := range allEnctypes {
				pw := make([]byte, 16)
				rand.Read(pw)
				if err := kt.AddEntry(p, testRealm, hex.EncodeToString(pw), time.Now(), 1, et); err != nil {
					panic(err)
				}
			}
		}
		testKT = kt
	})
	return testKT
}

// clock is a Config.Now that never returns the same microsecond twice, so
// that AP-REQs built in quick succession never collide in gokrb5's
// process-wide replay cache.
var clock struct {
	sync.Mutex
	last time.Time
}

func testNow() time.Time {
	clock.Lock()
	defer clock.Unlock()
	t := time.Now().Truncate(time.Microsecond)
	if !t.After(clock.last) {
		t = clock.last.Add(time.Microsecond)
	}
	clock.last = t
	return t
}

func testConfig() Config { return Config{Now: testNow} }

// ticketSpec describes a ticket to forge with the service's key.
type ticketSpec struct {
	service      string // default testService
	client       string // default testClient
	sessionEtype int32  // default 18
	ticketEtype  int32  // default sessionEtype
	start, end   time.Time
}

// makeTicket does what the KDC would: a session key and a ticket
// encrypted in the service key (usage 2).
func makeTicket(t testing.TB, s ticketSpec) (messages.Ticket, types.EncryptionKey) {
	t.Helper()
	if s.service == "" {
		s.service = testService
	}
	if s.client == "" {
		s.client = testClient
	}
	if s.sessionEtype == 0 {
		s.sessionEtype = etypeID.AES256_CTS_HMAC_SHA1_96
	}
	if s.ticketEtype == 0 {
		s.ticketEtype = s.sessionEtype
		if _, ok := enctypes[s.ticketEtype]; !ok {
			s.ticketEtype = etypeID.AES256_CTS_HMAC_SHA1_96
		}
	}
	if s.start.IsZero() {
		s.start = time.Now().Add(-time.Minute)
	}
	if s.end.IsZero() {
		s.end = time.Now().Add(time.Hour)
	}
	keyLen := 16
	if e, ok := enctypes[s.sessionEtype]; ok {
		keyLen = e.keyLen
	}
	kv := make([]byte, keyLen)
	rand.Read(kv)
	sessionKey := types.EncryptionKey{KeyType: s.sessionEtype, KeyValue: kv}
	sname := types.NewPrincipalName(nametype.KRB_NT_PRINCIPAL, s.service)
	etp := messages.EncTicketPart{
		Flags:     types.NewKrbFlags(),
		Key:       sessionKey,
		CRealm:    testRealm,
		CName:     types.NewPrincipalName(nametype.KRB_NT_PRINCIPAL, s.client),
		Transited: messages.TransitedEncoding{TRType: 1},
		AuthTime:  s.start.UTC().Truncate(time.Second),
		StartTime: s.start.UTC().Truncate(time.Second),
		EndTime:   s.end.UTC().Truncate(time.Second),
	}
	b, err := asn1.Marshal(etp)
	if err != nil {
		t.Fatal(err)
	}
	b = asn1tools.AddASNAppTag(b, asnAppTag.EncTicketPart)
	skey, kvno, err := serviceKeytab(t).GetEncryptionKey(sname, testRealm, 0, s.ticketEtype)
	if err != nil {
		t.Fatal(err)
	}
	ed, err := crypto.GetEncryptedData(b, skey, keyusage.KDC_REP_TICKET, kvno)
	if err != nil {
		t.Fatal(err)
	}
	return messages.Ticket{TktVNO: iana.PVNO, Realm: testRealm, SName: sname, EncPart: ed}, sessionKey
}

// newTestInitiator forges a ticket and starts an initiator with it.
func newTestInitiator(t testing.TB, s ticketSpec, cfg Config, opts initOptions) (*Initiator, []byte) {
	t.Helper()
	tkt, key := makeTicket(t, s)
	client := s.client
	if client == "" {
		client = testClient
	}
	ini, tok, err := newInitiatorFromTicket(types.NewPrincipalName(nametype.KRB_NT_PRINCIPAL, client), testRealm, tkt, key, cfg, opts)
	if err != nil {
		t.Fatalf("newInitiatorFromTicket: %v", err)
	}
	return ini, tok
}

func testAcceptor(t testing.TB) *Acceptor {
	return &Acceptor{Keytab: serviceKeytab(t), Principal: testService}
}

// establish returns both ends of a fresh context of the given enctype.
func establish(t testing.TB, et int32) (ini, acc *Context) {
	t.Helper()
	i, tok := newTestInitiator(t, ticketSpec{sessionEtype: et}, testConfig(), initOptions{})
	acc, rep, err := testAcceptor(t).Accept(tok)
	if err != nil {
		t.Fatalf("Accept: %v", err)
	}
	ini, err = i.Step(rep)
	if err != nil {
		t.Fatalf("Step: %v", err)
	}
	return ini, acc
}

// mustNotPanicErr fails if err came from a recovered panic.
func mustNotPanicErr(t testing.TB, err error) {
	t.Helper()
	if errors.Is(err, errRecovered) {
		t.Fatalf("recovered panic: %v", err)
	}
}

// wantErr checks that err is is (if not nil) and mentions want (if not
// "").
func wantErr(t *testing.T, err, is error, want string) {
	t.Helper()
	if is != nil && !errors.Is(err, is) {
		t.Errorf("err = %v, want %v", err, is)
	}
	if want != "" && !strings.Contains(err.Error(), want) {
		t.Errorf("err = %v, want it to mention %q", err, want)
	}
}
