package main

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// The ping reply is a PingResponse (wire/ceopb: required string principal
// = 1). It is decoded here by hand because the protobuf runtime, linked
// for this one message, cost every ceoc call about a millisecond of start
// up (package initialisation, and a hash of the binary it reads at start).
// It accepts and rejects what proto.Unmarshal does (FuzzDecodePing).

// maxGroupDepth bounds nested groups in skipped fields, like protobuf's
// default recursion limit.
const maxGroupDepth = 10000

var (
	errTruncated   = errors.New("truncated message")
	errBadWireType = errors.New("invalid wire type")
	errBadField    = errors.New("invalid field number")
	errNoPrincipal = errors.New("required field ceo.PingResponse.principal not set")
)

// decodePing turns ping's PingResponse into "PRINCIPAL\n", for the
// people and monitoring scripts that run "ceoc ping".
func decodePing(reply []byte) ([]byte, error) {
	principal, ok, err := pingPrincipal(reply)
	if err == nil && !ok {
		err = errNoPrincipal
	}
	if err != nil {
		return nil, fmt.Errorf("ping: decoding the reply: %w", err)
	}
	return append(principal, '\n'), nil
}

// pingPrincipal returns the last principal field of b.
func pingPrincipal(b []byte) (principal []byte, ok bool, err error) {
	for len(b) > 0 {
		num, typ, n := tag(b, maxFieldNumber)
		if n < 0 {
			return nil, false, errTruncated
		}
		if num < 1 {
			return nil, false, errBadField
		}
		b = b[n:]
		if num == 1 && typ == 2 {
			v, n := uvarint(b)
			if n < 0 || v > uint64(len(b)-n) {
				return nil, false, errTruncated
			}
			principal, ok = append([]byte(nil), b[n:n+int(v)]...), true
			b = b[n+int(v):]
			continue
		}
		n, err := skip(b, num, typ, 0)
		if err != nil {
			return nil, false, err
		}
		b = b[n:]
	}
	return principal, ok, nil
}

// Field numbers: at most maxFieldNumber in a message, and (as protobuf's
// parser has it) up to maxGroupFieldNumber inside a skipped group.
const (
	maxFieldNumber      = 1<<29 - 1
	maxGroupFieldNumber = 1<<31 - 1
)

// tag decodes a field key; n < 0 if it is truncated or overflows, num 0
// if the field number is out of range.
func tag(b []byte, max uint64) (num int64, typ int, n int) {
	v, n := uvarint(b)
	if n < 0 {
		return 0, 0, n
	}
	if v>>3 > max {
		return 0, 0, n
	}
	return int64(v >> 3), int(v & 7), n
}

// uvarint is a protobuf varint: at most 10 bytes, the last at most 1.
func uvarint(b []byte) (uint64, int) {
	v, n := binary.Uvarint(b)
	if n <= 0 {
		return 0, -1
	}
	return v, n
}

// skip returns the length of the value of an unknown field (of a group:
// up to and including its end tag).
func skip(b []byte, num int64, typ, depth int) (int, error) {
	switch typ {
	case 0:
		_, n := uvarint(b)
		if n < 0 {
			return 0, errTruncated
		}
		return n, nil
	case 1, 5:
		size := 8
		if typ == 5 {
			size = 4
		}
		if len(b) < size {
			return 0, errTruncated
		}
		return size, nil
	case 2:
		v, n := uvarint(b)
		if n < 0 || v > uint64(len(b)-n) {
			return 0, errTruncated
		}
		return n + int(v), nil
	case 3:
		if depth > maxGroupDepth {
			return 0, errors.New("exceeded maximum recursion depth")
		}
		for off := 0; ; {
			gnum, gtyp, n := tag(b[off:], maxGroupFieldNumber)
			if n < 0 {
				return 0, errTruncated
			}
			if gnum < 1 {
				return 0, errBadField
			}
			off += n
			if gtyp == 4 {
				if gnum != num {
					return 0, errors.New("mismatching end group")
				}
				return off, nil
			}
			n, err := skip(b[off:], gnum, gtyp, depth+1)
			if err != nil {
				return 0, err
			}
			off += n
		}
	}
	return 0, errBadWireType
}
