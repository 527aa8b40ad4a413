package spoe

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strconv"

	"github.com/proxyblocks/proxyblocks/stick/peers"
)

// FrameType is the first byte of a frame.
type FrameType uint8

// The frame types of SPOP 2.0: the first three are sent by the balancer,
// the last three by agents; FrameUnset continues a fragmented payload.
const (
	FrameUnset           FrameType = 0
	FrameHAProxyHello    FrameType = 1
	FrameHAProxyDisconn  FrameType = 2
	FrameNotify          FrameType = 3
	FrameAgentHello      FrameType = 101
	FrameAgentDisconnect FrameType = 102
	FrameAck             FrameType = 103
)

// String names the frame type as the protocol does.
func (t FrameType) String() string {
	switch t {
	case FrameUnset:
		return "UNSET"
	case FrameHAProxyHello:
		return "HAPROXY-HELLO"
	case FrameHAProxyDisconn:
		return "HAPROXY-DISCONNECT"
	case FrameNotify:
		return "NOTIFY"
	case FrameAgentHello:
		return "AGENT-HELLO"
	case FrameAgentDisconnect:
		return "AGENT-DISCONNECT"
	case FrameAck:
		return "ACK"
	}
	return "frame type " + strconv.Itoa(int(t))
}

// Frame flags.
const (
	// FlagFin marks the last (or only) fragment of a payload.
	FlagFin uint32 = 1
	// FlagAbort cancels a fragmented payload.
	FlagAbort uint32 = 2
)

// Status codes carried by DISCONNECT frames and, plus 256, by the
// set-on-error variable.
const (
	StatusNone         = 0
	StatusIO           = 1
	StatusTimeout      = 2
	StatusTooBig       = 3
	StatusInvalid      = 4
	StatusNoVersion    = 5
	StatusNoFrameSize  = 6
	StatusNoCaps       = 7
	StatusBadVersion   = 8
	StatusBadFrameSize = 9
	StatusFragNotSupp  = 10
	StatusInterlaced   = 11
	StatusFrameIDNotFd = 12
	StatusResource     = 13
	StatusUnknown      = 99
)

// statusText is the message a DISCONNECT frame carries with a status.
var statusText = map[uint32]string{
	StatusNone:         "normal",
	StatusIO:           "I/O error",
	StatusTimeout:      "a timeout occurred",
	StatusTooBig:       "frame is too big",
	StatusInvalid:      "invalid frame received",
	StatusNoVersion:    "version value not found",
	StatusNoFrameSize:  "max-frame-size value not found",
	StatusNoCaps:       "capabilities value not found",
	StatusBadVersion:   "unsupported version",
	StatusBadFrameSize: "max-frame-size too big or too small",
	StatusFragNotSupp:  "payload fragmentation is not supported",
	StatusInterlaced:   "invalid interlaced frames",
	StatusFrameIDNotFd: "frame-id not found",
	StatusResource:     "resource allocation error",
	StatusUnknown:      "an unknown error occurred",
}

// StatusText is the protocol's description of a status code.
func StatusText(code uint32) string {
	if s, ok := statusText[code]; ok {
		return s
	}
	return "status " + strconv.FormatUint(uint64(code), 10)
}

// MinFrameSize is the smallest max-frame-size either side may announce.
const MinFrameSize = 256

// Type is the type of a typed datum, the high nibble's low half of its
// first byte.
type Type uint8

// The typed data types.
const (
	TypeNull   Type = 0
	TypeBool   Type = 1
	TypeInt32  Type = 2
	TypeUint32 Type = 3
	TypeInt64  Type = 4
	TypeUint64 Type = 5
	TypeIPv4   Type = 6
	TypeIPv6   Type = 7
	TypeString Type = 8
	TypeBinary Type = 9
)

// String names the type.
func (t Type) String() string {
	switch t {
	case TypeNull:
		return "null"
	case TypeBool:
		return "bool"
	case TypeInt32:
		return "int32"
	case TypeUint32:
		return "uint32"
	case TypeInt64:
		return "int64"
	case TypeUint64:
		return "uint64"
	case TypeIPv4:
		return "ipv4"
	case TypeIPv6:
		return "ipv6"
	case TypeString:
		return "string"
	case TypeBinary:
		return "binary"
	}
	return "type " + strconv.Itoa(int(t))
}

// Value is one typed datum. Int holds the signed integers and booleans
// (0 or 1), Uint the unsigned ones, IP the addresses and Bytes strings
// and binaries; a string or binary to encode may be in Text instead, so
// that a Go string is sent without a copy. Decoded Bytes alias the
// frame they came from.
type Value struct {
	Type  Type
	Int   int64
	Uint  uint64
	IP    netip.Addr
	Bytes []byte
	Text  string
}

// String renders the value for messages and tests.
func (v Value) String() string {
	switch v.Type {
	case TypeNull:
		return "<null>"
	case TypeBool:
		return strconv.FormatBool(v.Int != 0)
	case TypeInt32, TypeInt64:
		return strconv.FormatInt(v.Int, 10)
	case TypeUint32, TypeUint64:
		return strconv.FormatUint(v.Uint, 10)
	case TypeIPv4, TypeIPv6:
		return v.IP.String()
	}
	if v.Bytes == nil {
		return v.Text
	}
	return string(v.Bytes)
}

// Str makes a string value.
func Str(s string) Value { return Value{Type: TypeString, Text: s} }

// Uint32 makes an unsigned 32-bit value.
func Uint32(n uint32) Value { return Value{Type: TypeUint32, Uint: uint64(n)} }

// Bool makes a boolean value.
func Bool(b bool) Value {
	v := Value{Type: TypeBool}
	if b {
		v.Int = 1
	}
	return v
}

// Errors of decoding.
var (
	// ErrShort means a frame ends inside a field.
	ErrShort = errors.New("spoe: truncated frame")
	// ErrTooBig means a frame is larger than the negotiated size.
	ErrTooBig = errors.New("spoe: frame too big")
)

// Reader decodes a payload field by field; the first error sticks and
// later reads return zero values, so a decoder checks Err once.
type Reader struct {
	b   []byte
	err error
}

// NewReader reads b.
func NewReader(b []byte) *Reader { return &Reader{b: b} }

// Err is the first error met.
func (r *Reader) Err() error { return r.err }

// Len is the number of bytes left.
func (r *Reader) Len() int { return len(r.b) }

func (r *Reader) fail(err error) {
	if r.err == nil {
		r.err = err
	}
	r.b = nil
}

// Varint reads one variable-length integer (the peers protocol's
// encoding, peers.AppendVarint).
func (r *Reader) Varint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := peers.Varint(r.b)
	switch {
	case n < 0:
		r.fail(errors.New("spoe: varint longer than 64 bits"))
		return 0
	case n == 0:
		r.fail(ErrShort)
		return 0
	}
	r.b = r.b[n:]
	return v
}

// Byte reads one byte.
func (r *Reader) Byte() byte {
	if r.err != nil {
		return 0
	}
	if len(r.b) == 0 {
		r.fail(ErrShort)
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

// Bytes reads n bytes, aliasing the input.
func (r *Reader) Bytes(n uint64) []byte {
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)) {
		r.fail(ErrShort)
		return nil
	}
	p := r.b[:n:n]
	r.b = r.b[n:]
	return p
}

// String reads a length-prefixed string (names of messages, arguments,
// keys and variables carry no type byte).
func (r *Reader) String() []byte { return r.Bytes(r.Varint()) }

// Value reads one typed datum.
func (r *Reader) Value() Value {
	c := r.Byte()
	v := Value{Type: Type(c & 0x0f)}
	switch v.Type {
	case TypeNull:
	case TypeBool:
		v.Int = int64(c>>4) & 1
	case TypeInt32:
		v.Int = int64(int32(r.Varint()))
	case TypeInt64:
		v.Int = int64(r.Varint())
	case TypeUint32:
		v.Uint = uint64(uint32(r.Varint()))
	case TypeUint64:
		v.Uint = r.Varint()
	case TypeIPv4:
		if b := r.Bytes(4); b != nil {
			v.IP = netip.AddrFrom4([4]byte(b))
		}
	case TypeIPv6:
		if b := r.Bytes(16); b != nil {
			v.IP = netip.AddrFrom16([16]byte(b))
		}
	case TypeString, TypeBinary:
		v.Bytes = r.String()
	default:
		r.fail(fmt.Errorf("spoe: unknown data type %d", v.Type))
	}
	return v
}

// AppendString appends a length-prefixed string.
func AppendString(b []byte, s string) []byte {
	return append(peers.AppendVarint(b, uint64(len(s))), s...)
}

// AppendValue appends one typed datum.
func AppendValue(b []byte, v Value) []byte {
	switch v.Type {
	case TypeBool:
		return append(b, byte(TypeBool)|byte(v.Int&1)<<4)
	case TypeInt32, TypeInt64:
		return peers.AppendVarint(append(b, byte(v.Type)), uint64(v.Int))
	case TypeUint32, TypeUint64:
		return peers.AppendVarint(append(b, byte(v.Type)), v.Uint)
	case TypeIPv4:
		a := v.IP.Unmap().As4()
		return append(append(b, byte(TypeIPv4)), a[:]...)
	case TypeIPv6:
		a := v.IP.As16()
		return append(append(b, byte(TypeIPv6)), a[:]...)
	case TypeString, TypeBinary:
		if v.Bytes == nil {
			b = peers.AppendVarint(append(b, byte(v.Type)), uint64(len(v.Text)))
			return append(b, v.Text...)
		}
		b = peers.AppendVarint(append(b, byte(v.Type)), uint64(len(v.Bytes)))
		return append(b, v.Bytes...)
	}
	return append(b, byte(TypeNull))
}

// Frame is one decoded frame; Payload aliases the buffer it was read
// into.
type Frame struct {
	Type     FrameType
	Flags    uint32
	StreamID uint64
	FrameID  uint64
	Payload  []byte
}

// AppendFrameHead starts a frame: four bytes of length, to be filled
// by FinishFrame, then the type, flags and identifiers.
func AppendFrameHead(b []byte, t FrameType, flags uint32, sid, fid uint64) []byte {
	b = append(b, 0, 0, 0, 0, byte(t))
	b = binary.BigEndian.AppendUint32(b, flags)
	b = peers.AppendVarint(b, sid)
	return peers.AppendVarint(b, fid)
}

// FinishFrame writes the length of the frame that starts at b[start:].
func FinishFrame(b []byte, start int) []byte {
	binary.BigEndian.PutUint32(b[start:], uint32(len(b)-start-4))
	return b
}

// ReadFrame reads one frame from r into buf (grown when short) and
// decodes its head; a frame longer than max is refused with ErrTooBig
// before its body is read.
func ReadFrame(r io.Reader, buf []byte, max int) (Frame, []byte, error) {
	if cap(buf) < 4 {
		buf = make([]byte, 4, 256)
	}
	// The length is read into buf too, which a local array passed to
	// r would not stay out of the heap for.
	if _, err := io.ReadFull(r, buf[:4]); err != nil {
		return Frame{}, buf, err
	}
	n := int(binary.BigEndian.Uint32(buf[:4]))
	if n > max {
		return Frame{}, buf, fmt.Errorf("%w: %d bytes, at most %d", ErrTooBig, n, max)
	}
	if cap(buf) < n {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	if _, err := io.ReadFull(r, buf); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return Frame{}, buf, err
	}
	f, err := ParseFrame(buf)
	return f, buf, err
}

// ParseFrame decodes the head of a frame (without its length prefix).
func ParseFrame(b []byte) (Frame, error) {
	if len(b) < 5 {
		return Frame{}, ErrShort
	}
	f := Frame{Type: FrameType(b[0]), Flags: binary.BigEndian.Uint32(b[1:5])}
	r := NewReader(b[5:])
	f.StreamID = r.Varint()
	f.FrameID = r.Varint()
	if r.Err() != nil {
		return Frame{}, r.Err()
	}
	f.Payload = r.b
	return f, nil
}

// KV is one item of a key/value list.
type KV struct {
	Key   string
	Value Value
}

// AppendKV appends one key/value item.
func AppendKV(b []byte, key string, v Value) []byte {
	return AppendValue(AppendString(b, key), v)
}

// ParseKVList decodes a whole key/value payload.
func ParseKVList(p []byte) ([]KV, error) {
	r := NewReader(p)
	var kvs []KV
	for r.Len() > 0 {
		k := r.String()
		v := r.Value()
		if r.Err() != nil {
			return nil, r.Err()
		}
		kvs = append(kvs, KV{Key: string(k), Value: v})
	}
	return kvs, nil
}

// Lookup returns the value of key in kvs.
func Lookup(kvs []KV, key string) (Value, bool) {
	for _, kv := range kvs {
		if kv.Key == key {
			return kv.Value, true
		}
	}
	return Value{}, false
}

// Arg is one argument of a message; Name is "" for an unnamed one.
type Arg struct {
	Name  string
	Value Value
}

// Message is one message of a NOTIFY frame.
type Message struct {
	Name string
	Args []Arg
}

// ParseMessages decodes a NOTIFY payload.
func ParseMessages(p []byte) ([]Message, error) {
	r := NewReader(p)
	var msgs []Message
	for r.Len() > 0 {
		m := Message{Name: string(r.String())}
		n := int(r.Byte())
		for i := 0; i < n && r.Err() == nil; i++ {
			name := r.String()
			m.Args = append(m.Args, Arg{Name: string(name), Value: r.Value()})
		}
		if r.Err() != nil {
			return nil, r.Err()
		}
		msgs = append(msgs, m)
	}
	return msgs, nil
}

// Action types of an ACK payload.
const (
	ActionSetVar   = 1
	ActionUnsetVar = 2
)

// Variable scopes of actions.
const (
	ScopeProc = 0
	ScopeSess = 1
	ScopeTxn  = 2
	ScopeReq  = 3
	ScopeRes  = 4
)

// scopeNames are the scopes' names in variable names.
var scopeNames = [...]string{"proc", "sess", "txn", "req", "res"}

// ScopeName is the name of a scope ("" for an unknown one).
func ScopeName(s byte) string {
	if int(s) < len(scopeNames) {
		return scopeNames[s]
	}
	return ""
}

// Action is one action of an ACK frame: set-var (Value set) or
// unset-var. A decoded Name aliases the frame it came from.
type Action struct {
	Type  uint8
	Scope uint8
	Name  []byte
	Value Value
}

// AppendAction appends one action.
func AppendAction(b []byte, a Action) []byte {
	if a.Type == ActionUnsetVar {
		b = peers.AppendVarint(append(b, ActionUnsetVar, 2, a.Scope), uint64(len(a.Name)))
		return append(b, a.Name...)
	}
	b = peers.AppendVarint(append(b, ActionSetVar, 3, a.Scope), uint64(len(a.Name)))
	return AppendValue(append(b, a.Name...), a.Value)
}

// ParseActions decodes an ACK payload, appending its actions to dst. An
// action of an unknown type is skipped whole (its arguments are typed
// data); a set-var or unset-var with other arguments than the
// protocol's is an error.
func ParseActions(dst []Action, p []byte) ([]Action, error) {
	r := Reader{b: p}
	acts := dst
	for r.Len() > 0 {
		t, n := r.Byte(), r.Byte()
		switch {
		case t == ActionSetVar && n == 3, t == ActionUnsetVar && n == 2:
			a := Action{Type: t, Scope: r.Byte(), Name: r.String()}
			if t == ActionSetVar {
				a.Value = r.Value()
			}
			acts = append(acts, a)
		case t == ActionSetVar || t == ActionUnsetVar:
			return nil, fmt.Errorf("spoe: action %d with %d arguments", t, n)
		default:
			for i := 0; i < int(n); i++ {
				r.Value()
			}
		}
		if r.Err() != nil {
			return nil, r.Err()
		}
	}
	return acts, nil
}
