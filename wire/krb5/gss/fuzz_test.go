package gss

import (
	"errors"
	"sync"
	"testing"

	"github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/iana/errorcode"
	"github.com/jcmturner/gokrb5/v8/iana/keyusage"
	"github.com/jcmturner/gokrb5/v8/messages"
)

// FuzzAcceptToken feeds arbitrary initial context tokens to an Acceptor:
// it must never panic (not even inside gokrb5, where a recovered panic
// counts as a failure), and whatever it accepts must come with an AP-REP.
func FuzzAcceptToken(f *testing.F) {
	for _, et := range allEnctypes {
		_, tok := newTestInitiator(f, ticketSpec{sessionEtype: et}, testConfig(), initOptions{})
		f.Add(tok)
	}
	_, tok := newTestInitiator(f, ticketSpec{}, testConfig(), initOptions{gssFlags: flagMutual})
	f.Add(tok)
	f.Add(encodeContextToken(tokAPReq, []byte{0x6e, 0x00}))
	f.Add([]byte{0x60, 0x02, 0x06, 0x00})
	acc := testAcceptor(f)
	f.Fuzz(func(t *testing.T, tok []byte) {
		ctx, out, err := acc.Accept(tok)
		mustNotPanicErr(t, err)
		if err != nil {
			if ctx != nil || out != nil {
				t.Fatal("context or token returned with an error")
			}
			return
		}
		if id, _, err := decodeContextToken(out); err != nil || id != tokAPRep {
			t.Fatalf("accepted, but AP-REP token is bad: %v", err)
		}
		if ctx.Enctype() < 17 || ctx.Enctype() > 20 {
			t.Fatalf("context with enctype %d", ctx.Enctype())
		}
	})
}

// FuzzInitiatorStep feeds arbitrary answers to an initiator. Only the
// genuine AP-REP (or an envelope variant of it) may establish a context.
func FuzzInitiatorStep(f *testing.F) {
	i, tok := newTestInitiator(f, ticketSpec{}, testConfig(), initOptions{})
	_, rep, err := testAcceptor(f).Accept(tok)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(rep)
	f.Add(krbErrorToken(f, errorcode.KRB_AP_ERR_MODIFIED, "modified"))
	f.Add(encodeContextToken(tokAPRep, []byte{0x6f, 0x00}))
	f.Add(rep[:len(rep)/2])
	f.Fuzz(func(t *testing.T, tok []byte) {
		fresh := *i // Step on a copy: a success marks the original done
		ctx, err := fresh.Step(tok)
		mustNotPanicErr(t, err)
		var ke *KRBError
		if errors.As(err, &ke) && len(tok) < 20 {
			t.Fatalf("KRBError from a %d-byte token", len(tok))
		}
		if err == nil && (ctx == nil || ctx.Enctype() != 18) {
			t.Fatal("bad context")
		}
	})
}

var (
	fuzzPairOnce     sync.Once
	fuzzIni, fuzzAcc *Context
	fuzzRecv0        uint64
	fuzzSeeds        [][]byte
)

// FuzzUnwrap feeds arbitrary per-message tokens to an acceptor context
// whose expected sequence number is reset each time. It must never panic,
// must return only the documented error kinds, and may only accept a
// token carrying the expected sequence number.
func FuzzUnwrap(f *testing.F) {
	fuzzPairOnce.Do(func() {
		fuzzIni, fuzzAcc = establish(f, 18)
		fuzzRecv0 = fuzzAcc.recvSeq
		// Every seed carries the sequence number the acceptor expects.
		seed := func(wrap func() []byte) {
			fuzzIni.sendSeq = fuzzRecv0
			fuzzSeeds = append(fuzzSeeds, wrap())
		}
		seed(func() []byte { tok, _ := fuzzIni.Wrap([]byte("sealed seed")); return tok })
		seed(func() []byte { tok, _ := fuzzIni.WrapIntegrity([]byte("integrity seed")); return tok })
		seed(func() []byte { return sealCustom(f, fuzzIni, []byte("ec and rrc"), 3, 28) })
		seed(func() []byte { return integrityCustom(f, fuzzIni, []byte("rrc 12"), 12) })
		seed(func() []byte { tok, _ := fuzzIni.Wrap(nil); return tok })
	})
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	f.Add(fuzzSeeds[0][:16])
	f.Fuzz(func(t *testing.T, tok []byte) {
		fuzzAcc.recvMu.Lock()
		fuzzAcc.recvSeq = fuzzRecv0
		fuzzAcc.recvMu.Unlock()
		msg, err := fuzzAcc.Unwrap(tok)
		if err != nil {
			if msg != nil {
				t.Fatal("message returned with an error")
			}
			if err != ErrIntegrity && !errors.Is(err, ErrDefectiveToken) && !errors.Is(err, ErrSequence) {
				t.Fatalf("undocumented error kind: %v", err)
			}
			return
		}
		if len(tok) < 16 || uint64(tok[15])|uint64(tok[14])<<8 != fuzzRecv0&0xffff {
			t.Fatalf("accepted a token without the expected sequence number")
		}
	})
}

// FuzzDecodeAPReq feeds arbitrary DER to the acceptor's decoders of the
// AP-REQ and of the ticket's and authenticator's plaintexts: they must
// not panic, and what they accept gokrb5's decoders must accept with the
// same result (they may refuse more: non-canonical framing, other time
// forms).
func FuzzDecodeAPReq(f *testing.F) {
	for _, v := range mitAPReqVectors(f) {
		_, inner, err := decodeContextToken(v.tok)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(inner)
		var req messages.APReq
		if err := req.Unmarshal(inner); err != nil {
			f.Fatal(err)
		}
		tpt, err := crypto.DecryptEncPart(req.Ticket.EncPart, v.key, keyusage.KDC_REP_TICKET)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(tpt)
		if err := req.Ticket.Decrypt(v.key); err != nil {
			f.Fatal(err)
		}
		apt, err := crypto.DecryptEncPart(req.EncryptedAuthenticator, req.Ticket.DecryptedEncPart.Key, keyusage.AP_REQ_AUTHENTICATOR)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(apt)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, kind := range []string{"AP-REQ", "EncTicketPart", "Authenticator"} {
			decodersAgree(t, kind, b)
		}
	})
}
