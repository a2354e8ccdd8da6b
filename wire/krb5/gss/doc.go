// Package gss implements the Kerberos 5 GSS-API mechanism (OID
// 1.2.840.113554.1.2.2) as MIT's libgssapi_krb5 speaks it, on top of
// gokrb5 v8, for AES enctypes only:
//
//   - RFC 2743 section 3.1: the framing of initial context tokens;
//   - RFC 1964 section 1.1 and RFC 4121 section 4.1: the AP-REQ / AP-REP /
//     KRB-ERROR context tokens and the 0x8003 authenticator checksum;
//   - RFC 4120 section 5.5: KRB_AP_REQ and KRB_AP_REP;
//   - RFC 4121 section 4.2: per-message wrap tokens, sealed and
//     integrity-only, with 64-bit sequence numbers;
//   - RFC 3961, RFC 3962 (aes128/aes256-cts-hmac-sha1-96, enctypes 17 and
//     18) and RFC 8009 (aes128-cts-hmac-sha256-128 and
//     aes256-cts-hmac-sha384-192, enctypes 19 and 20). Other enctypes are
//     refused: they would need RFC 1964 per-message tokens.
//
// An Initiator (client) and an Acceptor (server) establish a Context in one
// round trip with mutual authentication: the initiator's AP-REQ token in,
// the acceptor's AP-REP token out. The Context then seals messages with
// Wrap and opens them with Unwrap, refusing replayed, reordered, reflected
// or modified tokens. The acceptor always asserts a fresh acceptor subkey,
// as MIT does, and both sides then protect every token with it.
//
// Like MIT, an Acceptor refuses a context whose initiator did not ask for
// mutual authentication, confidentiality and integrity, and an Initiator
// always asks for mutual authentication, replay and sequence detection,
// confidentiality and integrity.
//
// Delegation (RFC 4121 section 4.1.1, GSS_C_DELEG_FLAG): ForwardTGT gets
// a forwarded TGT from the KDC and NewInitiatorDelegating sends it as a
// KRB-CRED in the checksum's Deleg field, encrypted in the ticket session
// key as MIT does. The Acceptor decrypts one (with the initiator subkey or
// the session key, as MIT's krb5_rd_cred) and exposes it, in memory only,
// as Context.Delegated until ReleaseDelegated wipes it.
//
// An Acceptor remembers the authenticators it accepted in a replay cache
// (package wire/krb5/rcache) keyed on a hash of the authenticator
// ciphertext, as MIT does: an AP-REQ is accepted at most once, while
// distinct AP-REQs with equal timestamps are all accepted.
package gss
