package gss

import (
	"bytes"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/jcmturner/gokrb5/v8/messages"
)

// canonicalByMarshal is the check isCanonicalAPReq stands in for.
func canonicalByMarshal(der []byte, req *messages.APReq) bool {
	b, err := req.Marshal()
	return err == nil && bytes.Equal(b, der)
}

// apReqDER returns the DER AP-REQ inside a fresh context token.
func apReqDER(t *testing.T, s ticketSpec) []byte {
	t.Helper()
	_, tok := newTestInitiator(t, s, testConfig(), initOptions{})
	_, inner, err := decodeContextToken(tok)
	if err != nil {
		t.Fatal(err)
	}
	return inner
}

// longForm re-encodes the length at b[i+1] (a short one) in the
// non-minimal long form 0x81 n, adjusting no enclosing lengths.
func longForm(b []byte, i int) []byte {
	out := append([]byte{}, b[:i+1]...)
	out = append(out, 0x81)
	return append(out, b[i+1:]...)
}

// TestCanonicalAPReqMatchesMarshal: on valid AP-REQs and on many
// mutations of them that still decode, the walk gives the same verdict
// as re-encoding with gokrb5 and comparing.
func TestCanonicalAPReqMatchesMarshal(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var decoded, canonical int
	check := func(der []byte) {
		t.Helper()
		var req messages.APReq
		if req.Unmarshal(der) != nil {
			return
		}
		if !reflect.ValueOf(&req.Ticket.DecryptedEncPart).Elem().IsZero() {
			// gokrb5 took an extra element of the Ticket; ours must not.
			if _, err := decodeAPReq(der); err == nil {
				t.Fatalf("decodeAPReq took a Ticket with an extra element: % x", der)
			}
			return
		}
		decoded++
		want := canonicalByMarshal(der, &req)
		if want {
			canonical++
		}
		if got := isCanonicalAPReq(der, &req); got != want {
			t.Fatalf("isCanonicalAPReq = %v, re-encoding says %v, for % x", got, want, der)
		}
	}
	for _, s := range []ticketSpec{{}, {sessionEtype: 17}, {sessionEtype: 20}, {client: "c"}} {
		good := apReqDER(t, s)
		check(good)
		// A non-minimal length on the outermost element (its length is
		// long, so it is 0x82 xx xx: make it 0x83 00 xx xx).
		if good[1] == 0x82 {
			bad := append([]byte{good[0], 0x83, 0x00}, good[2:]...)
			check(bad)
		}
		for range 2000 {
			m := append([]byte{}, good...)
			i := rng.IntN(len(m))
			switch rng.IntN(4) {
			case 0:
				m[i] ^= byte(1 << rng.IntN(8))
			case 1:
				m[i] = byte(rng.IntN(256))
			case 2:
				m = append(m[:i], m[i+1:]...)
			case 3:
				if m[i] < 0x80 && i > 0 {
					m = longForm(m, i-1)
				}
			}
			check(m)
		}
	}
	if canonical == 0 || decoded <= canonical {
		t.Fatalf("mutations proved nothing: %d decoded, %d canonical", decoded, canonical)
	}
	t.Logf("%d decodable variants, %d canonical", decoded, canonical)
}

func TestCanonicalAPReqEnds(t *testing.T) {
	good := apReqDER(t, ticketSpec{})
	var req messages.APReq
	if err := req.Unmarshal(good); err != nil {
		t.Fatal(err)
	}
	if !isCanonicalAPReq(good, &req) {
		t.Fatal("valid AP-REQ refused")
	}
	if isCanonicalAPReq(append(good, 0), &req) {
		t.Error("trailing byte accepted")
	}
	if isCanonicalAPReq(good[:len(good)-1], &req) {
		t.Error("truncated AP-REQ accepted")
	}
}
