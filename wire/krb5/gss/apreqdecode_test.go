package gss

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"math/rand/v2"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jcmturner/gofork/encoding/asn1"
	"github.com/jcmturner/gokrb5/v8/asn1tools"
	"github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/iana"
	"github.com/jcmturner/gokrb5/v8/iana/asnAppTag"
	"github.com/jcmturner/gokrb5/v8/iana/keyusage"
	"github.com/jcmturner/gokrb5/v8/iana/msgtype"
	"github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"
)

// apReqVector is an initial context token and the service key of its
// ticket.
type apReqVector struct {
	name string
	key  types.EncryptionKey
	tok  []byte
}

// mitAPReqVectors reads testdata/mit-apreq-vectors.txt: AP-REQs MIT's
// gss_init_sec_context made with real tickets from the test realm's KDC
// (with their PACs), recorded by package wire/krb5/interop.
func mitAPReqVectors(t testing.TB) []apReqVector {
	t.Helper()
	f, err := os.Open("testdata/mit-apreq-vectors.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var vs []apReqVector
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fs := strings.Fields(line)
		if len(fs) != 3 {
			t.Fatalf("bad vector line %q", line)
		}
		et, err1 := strconv.ParseInt(fs[0], 10, 32)
		key, err2 := hex.DecodeString(fs[1])
		tok, err3 := hex.DecodeString(fs[2])
		if err1 != nil || err2 != nil || err3 != nil {
			t.Fatalf("bad vector line %q", line)
		}
		vs = append(vs, apReqVector{"mit " + strconv.Itoa(len(vs)), types.EncryptionKey{KeyType: int32(et), KeyValue: key}, tok})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(vs) < 4 {
		t.Fatalf("only %d AP-REQ vectors", len(vs))
	}
	return vs
}

// forgedAPReqVectors are AP-REQs our initiator made, for each enctype,
// with and without a subkey and with a delegated credential.
func forgedAPReqVectors(t *testing.T) []apReqVector {
	t.Helper()
	var vs []apReqVector
	add := func(name string, s ticketSpec, o initOptions) {
		_, tok := newTestInitiator(t, s, testConfig(), o)
		_, inner, err := decodeContextToken(tok)
		if err != nil {
			t.Fatal(err)
		}
		var req messages.APReq
		if err := req.Unmarshal(inner); err != nil {
			t.Fatal(err)
		}
		key, _, err := serviceKeytab(t).GetEncryptionKey(req.Ticket.SName, req.Ticket.Realm, req.Ticket.EncPart.KVNO, req.Ticket.EncPart.EType)
		if err != nil {
			t.Fatal(err)
		}
		vs = append(vs, apReqVector{name, key, tok})
	}
	for _, et := range []int32{17, 18, 19, 20} {
		add(enctypeName(et), ticketSpec{sessionEtype: et}, initOptions{})
	}
	add("no subkey", ticketSpec{}, initOptions{noSubkey: true})
	add("no checksum", ticketSpec{}, initOptions{noCksum: true})
	add("delegated", ticketSpec{}, initOptions{deleg: testDelegated(t)})
	return vs
}

// TestDecodersMatchGokrb5 holds decodeAPReq, decodeEncTicketPart and
// decodeAuthenticator to gokrb5's reflective decoders on real MIT
// AP-REQs and on our own.
func TestDecodersMatchGokrb5(t *testing.T) {
	for _, v := range append(mitAPReqVectors(t), forgedAPReqVectors(t)...) {
		t.Run(v.name, func(t *testing.T) { checkDecodersAgree(t, v) })
	}
}

func checkDecodersAgree(t *testing.T, v apReqVector) {
	_, inner, err := decodeContextToken(v.tok)
	if err != nil {
		t.Fatal(err)
	}
	var want messages.APReq
	if err := want.Unmarshal(inner); err != nil {
		t.Fatal(err)
	}
	got, err := decodeAPReq(inner)
	if err != nil {
		t.Fatalf("decodeAPReq: %v", err)
	}
	if !reflect.DeepEqual(got, &want) {
		t.Fatalf("decodeAPReq:\n got %+v\nwant %+v", got, &want)
	}
	if !isCanonicalAPReq(inner, got) {
		t.Fatal("not canonical")
	}

	tpt, err := crypto.DecryptEncPart(want.Ticket.EncPart, v.key, keyusage.KDC_REP_TICKET)
	if err != nil {
		t.Fatal(err)
	}
	var wantTkt messages.EncTicketPart
	if err := wantTkt.Unmarshal(tpt); err != nil {
		t.Fatal(err)
	}
	gotTkt, err := decodeEncTicketPart(tpt)
	if err != nil {
		t.Fatalf("decodeEncTicketPart: %v", err)
	}
	if gotTkt.addresses != len(wantTkt.CAddr) {
		t.Errorf("%d addresses, gokrb5 %d", gotTkt.addresses, len(wantTkt.CAddr))
	}
	// The contents of caddr and authorization-data are not decoded.
	wantTkt.CAddr, wantTkt.AuthorizationData = nil, nil
	if !reflect.DeepEqual(gotTkt.EncTicketPart, wantTkt) {
		t.Fatalf("decodeEncTicketPart:\n got %+v\nwant %+v", gotTkt.EncTicketPart, wantTkt)
	}

	apt, err := crypto.DecryptEncPart(want.EncryptedAuthenticator, wantTkt.Key, keyusage.AP_REQ_AUTHENTICATOR)
	if err != nil {
		t.Fatal(err)
	}
	var wantAuth types.Authenticator
	if err := wantAuth.Unmarshal(apt); err != nil {
		t.Fatal(err)
	}
	gotAuth, err := decodeAuthenticator(apt)
	if err != nil {
		t.Fatalf("decodeAuthenticator: %v", err)
	}
	wantAuth.AuthorizationData = nil
	if !reflect.DeepEqual(gotAuth, wantAuth) {
		t.Fatalf("decodeAuthenticator:\n got %+v\nwant %+v", gotAuth, wantAuth)
	}
}

// TestMITAPReqsDecrypt: the acceptor's own decryption (the cached
// ticket keys, decryptWith) opens MIT's tickets and authenticators.
func TestMITAPReqsDecrypt(t *testing.T) {
	for _, v := range mitAPReqVectors(t) {
		_, inner, err := decodeContextToken(v.tok)
		if err != nil {
			t.Fatal(err)
		}
		req, err := decodeAPReq(inner)
		if err != nil {
			t.Fatal(err)
		}
		kt := keytabWith(t, req.Ticket, v.key)
		a := &Acceptor{Keytab: kt}
		if err := a.decryptTicket(kt, req); err != nil {
			t.Fatalf("%s: %v", v.name, err)
		}
		if req.Authenticator.CName.PrincipalNameString() != req.Ticket.DecryptedEncPart.CName.PrincipalNameString() {
			t.Fatalf("%s: client %v", v.name, req.Authenticator.CName)
		}
		flipped := bytes.Clone(inner)
		flipped[len(flipped)-1] ^= 1 // the authenticator's HMAC
		req, _ = decodeAPReq(flipped)
		if err := a.decryptTicket(kt, req); err == nil {
			t.Fatalf("%s: a tampered authenticator decrypted", v.name)
		}
	}
}

// TestAPRepEncodingMatchesGofork holds encodeEncAPRepPart and encodeAPRep
// to gofork's reflective encoder, which marshalAPRep used before.
func TestAPRepEncodingMatchesGofork(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range 200 {
		enc := messages.EncAPRepPart{
			CTime: time.Unix(rng.Int64N(1<<33), 0).UTC(),
			Cusec: rng.IntN(1000000),
		}
		if i%5 != 0 {
			enc.SequenceNumber = rng.Int64N(1 << 32)
		}
		if i%7 != 0 {
			key := make([]byte, 16+16*(i%2))
			for j := range key {
				key[j] = byte(rng.Uint32())
			}
			enc.Subkey = types.EncryptionKey{KeyType: 17 + int32(i%4), KeyValue: key}
		}
		want, err := asn1.Marshal(enc)
		if err != nil {
			t.Fatal(err)
		}
		want = asn1tools.AddASNAppTag(want, asnAppTag.EncAPRepPart)
		got, err := encodeEncAPRepPart(enc)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("EncAPRepPart %+v:\n got % x\nwant % x", enc, got, want)
		}

		cipher := make([]byte, rng.IntN(300))
		rep := messages.APRep{PVNO: iana.PVNO, MsgType: msgtype.KRB_AP_REP,
			EncPart: types.EncryptedData{EType: 17 + int32(i%4), Cipher: cipher}}
		want, err = asn1.Marshal(rep)
		if err != nil {
			t.Fatal(err)
		}
		want = asn1tools.AddASNAppTag(want, asnAppTag.APREP)
		if got := encodeAPRep(rep.EncPart.EType, cipher); !bytes.Equal(got, want) {
			t.Fatalf("AP-REP with %d bytes of cipher:\n got % x\nwant % x", len(cipher), got, want)
		}
	}
}

// keytabWith is a keytab holding key for tkt's service and kvno.
func keytabWith(t *testing.T, tkt messages.Ticket, key types.EncryptionKey) *keytab.Keytab {
	t.Helper()
	kt := keytab.New()
	if err := kt.AddEntry(strings.Join(tkt.SName.NameString, "/"), tkt.Realm, "x", time.Now(), uint8(tkt.EncPart.KVNO), key.KeyType); err != nil {
		t.Fatal(err)
	}
	kt.Entries[0].Key = key
	kt.Entries[0].KVNO = uint32(tkt.EncPart.KVNO)
	return kt
}
