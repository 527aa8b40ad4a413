package peers

import (
	"errors"
	"fmt"
)

// Message classes and types of the peers protocol.
const (
	classControl = 0
	classError   = 1
	classTable   = 10
	classReserve = 255

	ctrlResyncRequest  = 0
	ctrlResyncFinished = 1
	ctrlResyncPartial  = 2
	ctrlResyncConfirm  = 3
	ctrlHeartbeat      = 4

	errProto = 0
	errSize  = 1

	msgUpdate         = 0x80
	msgIncUpdate      = 0x81
	msgDefine         = 0x82
	msgSwitch         = 0x83
	msgAck            = 0x84
	msgUpdateTimed    = 0x85
	msgIncUpdateTimed = 0x86

	// maxBody is the largest message body accepted, HAProxy's default
	// buffer size: a longer one is answered with a size-limit error.
	maxBody = 16384
)

// Key types as the protocol numbers them.
const (
	wireKeySINT = 2
	wireKeyIPv4 = 4
	wireKeyIPv6 = 5
	wireKeyStr  = 6
	wireKeyBin  = 7
)

// errShort reports a body that ends inside a field.
var errShort = errors.New("truncated message")

// AppendVarint appends v in the protocol's variable-length encoding
// (which HAProxy's SPOE protocol shares): one byte below 240, otherwise
// the low 4 bits with the top nibble set, then groups of 7 bits, each
// with bit 7 set but the last.
func AppendVarint(b []byte, v uint64) []byte {
	if v < 0xf0 {
		return append(b, byte(v))
	}
	b = append(b, byte(v)|0xf0)
	v = (v - 0xf0) >> 4
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v = (v - 0x80) >> 7
	}
	return append(b, byte(v))
}

// Varint decodes the variable-length integer b starts with, returning
// it and its length in bytes: n is 0 when b ends inside it, and -1 when
// it runs past 64 bits.
func Varint(b []byte) (v uint64, n int) {
	if len(b) == 0 {
		return 0, 0
	}
	v = uint64(b[0])
	if v < 0xf0 {
		return v, 1
	}
	shift := uint(4)
	for i := 1; i < len(b); i++ {
		c := b[i]
		if shift > 63 {
			return 0, -1
		}
		v += uint64(c) << shift
		if c < 0x80 {
			return v, i + 1
		}
		shift += 7
	}
	return 0, 0
}

// reader decodes a message body; the first error sticks and later reads
// return zero values.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(err error) {
	if r.err == nil {
		r.err = err
	}
}

// varint reads one variable-length integer.
func (r *reader) varint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := Varint(r.b)
	switch {
	case n < 0:
		r.fail(errors.New("integer longer than 64 bits"))
		return 0
	case n == 0:
		r.fail(errShort)
		return 0
	}
	r.b = r.b[n:]
	return v
}

// u32 reads a 4-byte big-endian integer.
func (r *reader) u32() uint32 {
	b := r.bytes(4)
	if b == nil {
		return 0
	}
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

// bytes reads n bytes (nil after an error).
func (r *reader) bytes(n uint64) []byte {
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)) {
		r.fail(errShort)
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func appendU32(b []byte, v uint32) []byte {
	return append(b, byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
}

// ProtocolError reports a peer that broke the protocol: what was wrong,
// in which message.
type ProtocolError struct {
	Peer string // the remote peer's name, or its address before the hello
	Msg  string // the message, as class/type
	Err  error
}

// Error says which peer broke the protocol, in which message, and how.
func (e *ProtocolError) Error() string {
	return fmt.Sprintf("peers: %s: %s: %v", e.Peer, e.Msg, e.Err)
}

// Unwrap returns the cause.
func (e *ProtocolError) Unwrap() error { return e.Err }

// msgName names a message for errors and logs.
func msgName(class, typ byte) string {
	switch class {
	case classControl:
		switch typ {
		case ctrlResyncRequest:
			return "resync request"
		case ctrlResyncFinished:
			return "resync finished"
		case ctrlResyncPartial:
			return "resync partial"
		case ctrlResyncConfirm:
			return "resync confirm"
		case ctrlHeartbeat:
			return "heartbeat"
		}
	case classTable:
		switch typ {
		case msgUpdate:
			return "update"
		case msgIncUpdate:
			return "incremental update"
		case msgDefine:
			return "table definition"
		case msgSwitch:
			return "table switch"
		case msgAck:
			return "ack"
		case msgUpdateTimed:
			return "timed update"
		case msgIncUpdateTimed:
			return "incremental timed update"
		}
	}
	return fmt.Sprintf("message %d/%d", class, typ)
}
