package acl

import (
	"encoding/binary"
	"fmt"
	"math"
)

// The converters protobuf(FIELD[,TYPE]) and ungrpc(FIELD[,TYPE]), as in
// HAProxy 2.6: FIELD is a dotted path of field numbers ("1.2" is field 2
// of the message in field 1) looked up in a protocol buffers message
// (protobuf) or in the messages of a gRPC body, each behind its 5-byte
// header (ungrpc). Without TYPE the field's raw bytes are returned (a
// varint's bytes, the 4 or 8 bytes of a fixed field, a length-delimited
// field's contents); with TYPE, one of int32, int64, uint32, uint64,
// sint32, sint64, bool, enum (varints), fixed32, sfixed32, float (32
// bits), fixed64, sfixed64 or double (64 bits), an integer. A field
// that is not there, or a message that ends early, leaves no sample.

// pbType is how a protobuf field's value is returned.
type pbType uint8

const (
	pbRaw pbType = iota
	pbVarint
	pbZigzag
	pbFixed32
	pbSfixed32
	pbFloat
	pbFixed64
	pbDouble
)

var pbTypes = map[string]pbType{
	"int32": pbVarint, "uint32": pbVarint, "int64": pbVarint, "uint64": pbVarint,
	"bool": pbVarint, "enum": pbVarint, "sint32": pbZigzag, "sint64": pbZigzag,
	"fixed32": pbFixed32, "sfixed32": pbSfixed32, "float": pbFloat,
	"fixed64": pbFixed64, "sfixed64": pbFixed64, "double": pbDouble,
}

// Protobuf wire types.
const (
	pbWireVarint = 0
	pbWire64     = 1
	pbWireLen    = 2
	pbWire32     = 5
)

func init() {
	for _, name := range []string{"protobuf", "ungrpc"} {
		grpc := name == "ungrpc"
		converters[name] = converter{ArgRequired, TypeStr, func(a []string) (ConvFunc, error) {
			path, typ, err := pbArgs(a)
			if err != nil {
				return nil, err
			}
			return func(s Sample) (Sample, bool) {
				if grpc {
					return ungrpcField(smpBin(s), path, typ)
				}
				return protobufField(smpBin(s), path, typ)
			}, nil
		}}
	}
}

// pbArgs reads protobuf's arguments: the dotted field path and the
// optional type, with HAProxy's words for what is wrong.
func pbArgs(a []string) ([]uint32, pbType, error) {
	if len(a) == 0 || a[0] == "" {
		return nil, 0, fmt.Errorf("expected type 'Protocol buffers field number' at position 1, but got nothing")
	}
	if len(a) > 2 {
		return nil, 0, fmt.Errorf("expected ')' before ',%s)'", a[2])
	}
	path, ok := parseDottedUints(a[0])
	if !ok {
		return nil, 0, fmt.Errorf("failed to parse '%s' as type 'Protocol buffers field number' at position 1", a[0])
	}
	typ := pbRaw
	if len(a) == 2 {
		t, ok := pbTypes[a[1]]
		if !ok {
			return nil, 0, fmt.Errorf("wrong protocol buffer type '%s'", a[1])
		}
		typ = t
	}
	return path, typ, nil
}

// parseDottedUints reads "N.N..." as HAProxy reads a field path: each
// number is its digits modulo 2^32 (none reads as 0), and a dot may not
// end the path.
func parseDottedUints(v string) ([]uint32, bool) {
	var nums []uint32
	for i := 0; i < len(v); {
		var n uint32
		for ; i < len(v) && v[i] >= '0' && v[i] <= '9'; i++ {
			n = n*10 + uint32(v[i]-'0')
		}
		if i < len(v) {
			if v[i] != '.' || i+1 == len(v) {
				return nil, false
			}
			i++
		}
		nums = append(nums, n)
	}
	return nums, true
}

// pbVarintAt decodes the varint at the start of b: its value and length,
// ok false when b ends inside it or it runs past ten bytes.
func pbVarintAt(b []byte) (v uint64, n int, ok bool) {
	shift := uint(0)
	for n < len(b) {
		c := b[n]
		v |= uint64(c&0x7f) << shift
		n++
		if c&0x80 == 0 {
			return v, n, true
		}
		if n == len(b) {
			return 0, 0, false
		}
		shift += 7
		if shift > 63 {
			return 0, 0, false
		}
	}
	return v, n, true
}

// protobufField looks the field path up in the protocol buffers message
// msg as HAProxy's protobuf converter does and returns its value, as
// raw bytes or (for a typed lookup) an integer.
func protobufField(msg []byte, path []uint32, typ pbType) (Sample, bool) {
	s, _, ok := pbLookup(msg, path, typ)
	return s, ok
}

// pbLookup walks msg for path the way HAProxy does: a matching
// length-delimited field is entered, a field that does not match is
// skipped, and the walk restarts at the path's first number once the
// enclosing message's bytes are used up. It returns what is left of msg
// where it stopped.
func pbLookup(msg []byte, path []uint32, typ pbType) (Sample, []byte, bool) {
	var elen int64 // bytes left in the entered message, as HAProxy counts them
	field := 0
	for field < len(path) {
		if len(msg) == 0 {
			return Sample{}, msg, false
		}
		sleft := len(msg)
		key, n, ok := pbVarintAt(msg)
		if !ok {
			return Sample{}, msg, false
		}
		msg = msg[n:]
		wire := key & 7
		found := uint32(key>>3) == path[field]
		switch wire {
		case pbWireVarint:
			if !found {
				_, n, ok := pbVarintAt(msg)
				if !ok {
					return Sample{}, msg, false
				}
				msg = msg[n:]
			}
		case pbWire32, pbWire64:
			size := 4
			if wire == pbWire64 {
				size = 8
			}
			if !found {
				if len(msg) < size {
					return Sample{}, msg, false
				}
				msg = msg[size:]
			}
		case pbWireLen:
			l, n, ok := pbVarintAt(msg)
			if !ok || l > uint64(len(msg)-n) {
				return Sample{}, msg, false
			}
			msg = msg[n:]
			elen = int64(l)
			sleft = len(msg)
			if !found {
				msg = msg[l:]
			}
		default:
			return Sample{}, msg, false
		}
		if found && field == len(path)-1 {
			s, ok := pbStore(msg, wire, typ, elen)
			return s, msg, ok
		}
		if elen > 0 {
			elen -= int64(sleft - len(msg))
		}
		if found {
			field++
		} else if elen <= 0 {
			field = 0
		}
	}
	return Sample{}, msg, false
}

// pbStore reads the value of a field of wire type wire at the start of b
// (elen bytes for a length-delimited one) as typ asks.
func pbStore(b []byte, wire uint64, typ pbType, elen int64) (Sample, bool) {
	switch wire {
	case pbWireVarint:
		switch typ {
		case pbRaw:
			_, n, ok := pbVarintAt(b)
			if !ok {
				return Sample{}, false
			}
			return Str(string(b[:n])), true
		case pbVarint, pbZigzag:
			v, _, ok := pbVarintAt(b)
			if !ok {
				return Sample{}, false
			}
			if typ == pbZigzag {
				return Int(int64(v>>1) ^ -int64(v&1)), true
			}
			return Int(int64(v)), true
		}
	case pbWire64:
		if len(b) < 8 {
			return Sample{}, false
		}
		v := binary.LittleEndian.Uint64(b)
		switch typ {
		case pbRaw:
			return Str(string(b[:8])), true
		case pbFixed64:
			return Int(int64(v)), true
		case pbDouble:
			return Int(int64(cDoubleToUint64(math.Float64frombits(v)))), true
		}
	case pbWire32:
		if len(b) < 4 {
			return Sample{}, false
		}
		v := binary.LittleEndian.Uint32(b)
		switch typ {
		case pbRaw:
			return Str(string(b[:4])), true
		case pbFixed32:
			return Int(int64(v)), true
		case pbSfixed32:
			return Int(int64(int32(v))), true
		case pbFloat:
			return Int(int64(uint32(cFloatToInt64(float64(math.Float32frombits(v)))))), true
		}
	case pbWireLen:
		if int64(len(b)) < elen || typ != pbRaw {
			return Sample{}, false
		}
		return Str(string(b[:elen])), true
	}
	return Sample{}, false
}

// cDoubleToUint64 converts f to an unsigned 64-bit integer as x86-64's
// code for C's conversion does: below 2^63 through the signed
// conversion, above it with the top bit set; out of range or NaN gives
// the "integer indefinite" value.
func cDoubleToUint64(f float64) uint64 {
	if f >= 1<<63 {
		return uint64(cFloatToInt64(f-(1<<63))) ^ 1<<63
	}
	return uint64(cFloatToInt64(f))
}

// cFloatToInt64 truncates f to a signed 64-bit integer as x86-64's
// conversion instruction does (0x8000000000000000 when out of range).
func cFloatToInt64(f float64) int64 {
	if f != f || f >= 1<<63 || f < -(1<<63) {
		return math.MinInt64
	}
	return int64(f)
}

// ungrpcField looks the field path up in each gRPC message of body (a
// compressed-flag byte, a 4-byte big-endian length, the message) as
// HAProxy's ungrpc converter does, and returns the first found.
func ungrpcField(body []byte, path []uint32, typ pbType) (Sample, bool) {
	for len(body) > 5 {
		l := uint64(binary.BigEndian.Uint32(body[1:5]))
		body = body[5:]
		if uint64(len(body)) < l {
			return Sample{}, false
		}
		s, left, ok := pbLookup(body[:l], path, typ)
		if ok {
			return s, true
		}
		// HAProxy reads the next header where the lookup stopped,
		// and takes the whole message off what is left.
		used := int(l) - len(left)
		body = body[used : len(body)-int(l)+used]
	}
	return Sample{}, false
}
