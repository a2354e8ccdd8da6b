package gss

import (
	"encoding/binary"
	"fmt"

	"github.com/jcmturner/gokrb5/v8/iana/chksumtype"
	"github.com/jcmturner/gokrb5/v8/types"
)

// GSS-API context flags (RFC 2744), as carried in the 0x8003 checksum.
const (
	flagDeleg    uint32 = 1
	flagMutual   uint32 = 2
	flagReplay   uint32 = 4
	flagSequence uint32 = 8
	flagConf     uint32 = 16
	flagInteg    uint32 = 32
)

// initiatorFlags are what our Initiator requests: what MIT's client asks
// for when the legacy ceoc calls gss_init_sec_context.
const initiatorFlags = flagMutual | flagReplay | flagSequence | flagConf | flagInteg

// requiredFlags must all be requested for an Acceptor to agree, as the
// legacy daemon requires of the established context.
const requiredFlags = flagMutual | flagConf | flagInteg

// gssChecksum builds the RFC 4121 section 4.1.1 authenticator checksum:
// Lgth = 16, Bnd = 16 zero bytes (no channel bindings), Flags.
func gssChecksum(flags uint32) types.Checksum {
	b := make([]byte, 24)
	binary.LittleEndian.PutUint32(b[0:4], 16)
	binary.LittleEndian.PutUint32(b[20:24], flags)
	return types.Checksum{CksumType: chksumtype.GSSAPI, Checksum: b}
}

// gssChecksumDeleg is gssChecksum with flagDeleg set and a KRB-CRED in
// the DlgOpt (1), Dlgth and Deleg fields.
func gssChecksumDeleg(flags uint32, krbCred []byte) (types.Checksum, error) {
	if len(krbCred) > 0xffff {
		return types.Checksum{}, fmt.Errorf("gss: KRB-CRED of %d bytes does not fit the checksum's 16-bit length", len(krbCred))
	}
	c := gssChecksum(flags | flagDeleg)
	c.Checksum = binary.LittleEndian.AppendUint16(c.Checksum, 1)
	c.Checksum = binary.LittleEndian.AppendUint16(c.Checksum, uint16(len(krbCred)))
	c.Checksum = append(c.Checksum, krbCred...)
	return c, nil
}

// delegField returns the KRB-CRED of a checksum whose flags include
// flagDeleg, nil if it carries none (as MIT, a deleg flag without one is
// not an error).
func delegField(c types.Checksum) ([]byte, error) {
	b := c.Checksum
	if len(b) < 28 {
		return nil, nil
	}
	if opt := binary.LittleEndian.Uint16(b[24:26]); opt != 1 {
		return nil, fmt.Errorf("gss: authenticator checksum has DlgOpt %d, want 1", opt)
	}
	n := int(binary.LittleEndian.Uint16(b[26:28]))
	if len(b)-28 < n {
		return nil, fmt.Errorf("gss: authenticator checksum's Dlgth %d exceeds its %d remaining bytes", n, len(b)-28)
	}
	return b[28 : 28+n], nil
}

// parseGSSChecksum returns the context flags of an authenticator checksum.
// Channel bindings are ignored, as MIT does when the acceptor has none;
// the delegated credential is read by delegField.
func parseGSSChecksum(c types.Checksum) (uint32, error) {
	if c.CksumType != chksumtype.GSSAPI {
		return 0, fmt.Errorf("gss: authenticator checksum type is %d, not 0x8003", c.CksumType)
	}
	if len(c.Checksum) < 24 {
		return 0, fmt.Errorf("gss: authenticator checksum is %d bytes, want at least 24", len(c.Checksum))
	}
	if l := binary.LittleEndian.Uint32(c.Checksum[0:4]); l != 16 {
		return 0, fmt.Errorf("gss: authenticator checksum has channel-binding length %d, want 16", l)
	}
	return binary.LittleEndian.Uint32(c.Checksum[20:24]), nil
}
