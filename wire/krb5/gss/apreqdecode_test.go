package gss

import (
	"bytes"
	"encoding/hex"
	"math/rand/v2"
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
	var vs []apReqVector
	for _, fs := range vectorLines(t, "testdata/mit-apreq-vectors.txt", 3) {
		et, err1 := strconv.ParseInt(fs[0], 10, 32)
		key, err2 := hex.DecodeString(fs[1])
		tok, err3 := hex.DecodeString(fs[2])
		if err1 != nil || err2 != nil || err3 != nil {
			t.Fatalf("bad vector line %q", fs)
		}
		vs = append(vs, apReqVector{"mit " + strconv.Itoa(len(vs)), types.EncryptionKey{KeyType: int32(et), KeyValue: key}, tok})
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
	if ours, theirs := decodersAgree(t, "AP-REQ", inner); !ours || !theirs {
		t.Fatalf("AP-REQ decoded by us: %v, by gokrb5: %v", ours, theirs)
	}
	req, _ := decodeAPReq(inner)
	if !isCanonicalAPReq(inner, req) {
		t.Fatal("not canonical")
	}
	tpt, err := crypto.DecryptEncPart(req.Ticket.EncPart, v.key, keyusage.KDC_REP_TICKET)
	if err != nil {
		t.Fatal(err)
	}
	if ours, theirs := decodersAgree(t, "EncTicketPart", tpt); !ours || !theirs {
		t.Fatalf("EncTicketPart decoded by us: %v, by gokrb5: %v", ours, theirs)
	}
	tkt, _ := decodeEncTicketPart(tpt)
	apt, err := crypto.DecryptEncPart(req.EncryptedAuthenticator, tkt.Key, keyusage.AP_REQ_AUTHENTICATOR)
	if err != nil {
		t.Fatal(err)
	}
	if ours, theirs := decodersAgree(t, "Authenticator", apt); !ours || !theirs {
		t.Fatalf("Authenticator decoded by us: %v, by gokrb5: %v", ours, theirs)
	}
}

// decodersAgree decodes b as kind ("AP-REQ", "EncTicketPart" or
// "Authenticator") with our decoder and gokrb5's, reports which of them
// took it, and fails t if both did with different results. The contents
// of caddr and authorization-data, which we do not decode, are left out.
func decodersAgree(t testing.TB, kind string, b []byte) (ours, theirs bool) {
	t.Helper()
	var got, want any
	var err error
	switch kind {
	case "AP-REQ":
		var w messages.APReq
		got, err = decodeAPReq(b)
		theirs, want = gokrb5Decode(func() error { return w.Unmarshal(b) }), &w
	case "EncTicketPart":
		var w messages.EncTicketPart
		var g encTicketPart
		g, err = decodeEncTicketPart(b)
		theirs = gokrb5Decode(func() error { return w.Unmarshal(b) })
		if g.addresses != len(w.CAddr) && err == nil && theirs {
			t.Fatalf("%d addresses, gokrb5 %d", g.addresses, len(w.CAddr))
		}
		w.CAddr, w.AuthorizationData = nil, nil
		got, want = g.EncTicketPart, w
	case "Authenticator":
		var w types.Authenticator
		got, err = decodeAuthenticator(b)
		theirs = gokrb5Decode(func() error { return w.Unmarshal(b) })
		w.AuthorizationData = nil
		want = w
	default:
		t.Fatalf("unknown kind %q", kind)
	}
	ours = err == nil
	if ours && theirs && !reflect.DeepEqual(got, want) {
		t.Fatalf("%s:\n ours   %+v\n gokrb5 %+v", kind, got, want)
	}
	return ours, theirs
}

// gokrb5Decode runs a gokrb5 decoder and reports whether it succeeded;
// one that panics (gofork does on some inputs) counts as refusing.
func gokrb5Decode(decode func() error) (ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	return decode() == nil
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
		if _, err := a.decryptTicket(kt, req); err != nil {
			t.Fatalf("%s: %v", v.name, err)
		}
		if req.Authenticator.CName.PrincipalNameString() != req.Ticket.DecryptedEncPart.CName.PrincipalNameString() {
			t.Fatalf("%s: client %v", v.name, req.Authenticator.CName)
		}
		flipped := bytes.Clone(inner)
		flipped[len(flipped)-1] ^= 1 // the authenticator's HMAC
		req, _ = decodeAPReq(flipped)
		if _, err := a.decryptTicket(kt, req); err == nil {
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

		cipher := make([]byte, rng.IntN(300)<<(i%8))
		for j := range cipher {
			cipher[j] = byte(rng.Uint32())
		}
		rep := messages.APRep{PVNO: iana.PVNO, MsgType: msgtype.KRB_AP_REP,
			EncPart: types.EncryptedData{EType: 17 + int32(i%4), Cipher: cipher}}
		want, err = asn1.Marshal(rep)
		if err != nil {
			t.Fatal(err)
		}
		want = encodeContextToken(tokAPRep, asn1tools.AddASNAppTag(want, asnAppTag.APREP))
		if got := encodeAPRep(rep.EncPart.EType, cipher); !bytes.Equal(got, want) {
			t.Fatalf("AP-REP with %d bytes of cipher:\n got % x...\nwant % x...", len(cipher), got[:min(len(got), 64)], want[:min(len(want), 64)])
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
