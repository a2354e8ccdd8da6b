// Package wire implements the ceod wire protocol: the frame format shared
// by ceod, ceoc and the legacy C programs they replace.
//
// Every message, in both directions, is one frame:
//
//	bytes 0-3  msglen   u32, network byte order: length of body
//	bytes 4-7  msgtype  u32, network byte order (MsgAuth or an op id)
//	bytes 8..  body     msglen bytes
//
// A MsgAuth body is a raw GSS-API context token (see package
// github.com/csclub/ceo/wire/krb5/gss); any other msgtype is an op whose body
// is an RFC 4121 sealed wrap token carrying the op's request or reply,
// usually a message from package github.com/csclub/ceo/wire/ceopb.
//
// Sub-packages:
//
//   - session: the handshake, then sealed op frames, for both ceod and
//     ceoc.
//   - ceopb: the legacy proto2 messages (package ceo).
//   - krb5: Kerberos, in one home: loading krb5.conf, ccaches, keytabs
//     and passwords into gokrb5 clients.
//   - krb5/gss: the Kerberos 5 GSS-API mechanism, RFC 2743 (token
//     framing), RFC 1964 (initial context tokens), RFC 4121 (per-message
//     tokens), RFC 4120 (AP-REQ/AP-REP), RFC 3961/3962/8009 (AES enctypes).
//   - krb5/ldapgss: an RFC 4752 SASL GSSAPI client for go-ldap built on gss.
//
// Deadlines are the caller's business: set them on the net.Conn.
package wire
