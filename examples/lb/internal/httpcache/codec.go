package httpcache

import (
	"encoding/binary"

	"github.com/proxyblocks/proxyblocks/mux/htx"
)

// An entry is stored as:
//
//	kind (1)  sig (1)  secondary key (8)
//	stored at, expiry, Age, last modified (8 each, Unix seconds)
//	status (2)  flags (1)  reason (2 + n)
//	fields: count (2), then per field name (2 + n) and value (4 + n)
//	body (4 + n)
//	trailers, as the fields
//
// The body's length is written once the body, appended as it streams,
// is complete.
const (
	flagLength byte = 1 << iota
)

var le = binary.LittleEndian

func encodeHead(dst []byte, resp *htx.Message, sig uint8, sec [secLen]byte, now, expire, age, lastMod int64) []byte {
	dst = append(dst, kindEntry, sig)
	dst = append(dst, sec[:]...)
	dst = le.AppendUint64(dst, uint64(now))
	dst = le.AppendUint64(dst, uint64(expire))
	dst = le.AppendUint64(dst, uint64(age))
	dst = le.AppendUint64(dst, uint64(lastMod))
	dst = le.AppendUint16(dst, uint16(resp.Status))
	var fl byte
	if resp.Flags&htx.FlagContentLength != 0 {
		fl |= flagLength
	}
	dst = append(dst, fl)
	reason := resp.Reason()
	dst = le.AppendUint16(dst, uint16(len(reason)))
	dst = append(dst, reason...)
	n := 0
	for i := 0; i < resp.NumFields(); i++ {
		if !resp.IsHopByHop(i) {
			n++
		}
	}
	dst = le.AppendUint16(dst, uint16(n))
	for i := 0; i < resp.NumFields(); i++ {
		if resp.IsHopByHop(i) {
			continue
		}
		k, v := resp.Field(i)
		dst = appendField(dst, k, v)
	}
	return le.AppendUint32(dst, 0) // the body's length, set by Commit
}

func appendField(dst, k, v []byte) []byte {
	dst = le.AppendUint16(dst, uint16(len(k)))
	dst = append(dst, k...)
	dst = le.AppendUint32(dst, uint32(len(v)))
	return append(dst, v...)
}

func appendFields(dst []byte, n int, field func(i int) (k, v []byte)) []byte {
	dst = le.AppendUint16(dst, uint16(n))
	for i := range n {
		k, v := field(i)
		dst = appendField(dst, k, v)
	}
	return dst
}

// reader walks an encoded record; a short record sets bad.
type reader struct {
	b   []byte
	bad bool
}

func (r *reader) take(n int) []byte {
	if r.bad || n < 0 || n > len(r.b) {
		r.bad = true
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) u8() byte {
	if v := r.take(1); v != nil {
		return v[0]
	}
	return 0
}

func (r *reader) u16() int {
	if v := r.take(2); v != nil {
		return int(le.Uint16(v))
	}
	return 0
}

func (r *reader) u32() int {
	if v := r.take(4); v != nil {
		return int(le.Uint32(v))
	}
	return 0
}

func (r *reader) i64() int64 {
	if v := r.take(8); v != nil {
		return int64(le.Uint64(v))
	}
	return 0
}

func (r *reader) fields(fs [][2][]byte) [][2][]byte {
	n := r.u16()
	if r.bad || n > len(r.b)/6 {
		r.bad = true
		return fs
	}
	for range n {
		k := r.take(r.u16())
		v := r.take(r.u32())
		fs = append(fs, [2][]byte{k, v})
	}
	return fs
}

// decodeEntry reads a stored response into h, reusing its slices; they
// point into b.
func decodeEntry(h *Hit, b []byte) bool {
	r := reader{b: b}
	if r.u8() != kindEntry {
		return false
	}
	r.u8()
	r.take(secLen)
	h.validated, h.expire, h.age, h.lastModified = r.i64(), r.i64(), r.i64(), r.i64()
	h.status = r.u16()
	h.length = r.u8()&flagLength != 0
	h.reason = r.take(r.u16())
	h.fields = r.fields(h.fields[:0])
	h.body = r.take(r.u32())
	h.trailers = r.fields(h.trailers[:0])
	if r.bad || len(r.b) != 0 {
		return false
	}
	h.etag, h.hasETag = nil, false
	for _, f := range h.fields {
		if eqFold(f[0], "etag") {
			h.etag, h.hasETag = f[1], true
			break
		}
	}
	return true
}

// variant is one stored variant of a URL: its secondary key, the id
// its record is stored under (after the URL's key), and its expiry.
type variant struct {
	sec    [secLen]byte
	id     uint64
	expire int64
}

// variants is the record kept under a URL's key when its responses
// vary: the signature of the last one stored and the variants, oldest
// first.
type variants struct {
	sig  uint8
	list []variant
}

// variantLen is the size of one variant in the record.
const variantLen = secLen + 8 + 8

func (vs variants) encode() []byte {
	b := make([]byte, 0, 3+len(vs.list)*variantLen)
	b = append(b, kindVariants, vs.sig, byte(len(vs.list)))
	for _, e := range vs.list {
		b = append(b, e.sec[:]...)
		b = le.AppendUint64(b, e.id)
		b = le.AppendUint64(b, uint64(e.expire))
	}
	return b
}

func decodeVariants(b []byte) (variants, bool) {
	r := reader{b: b}
	if r.u8() != kindVariants {
		return variants{}, false
	}
	vs := variants{sig: r.u8()}
	n := int(r.u8())
	for range n {
		var e variant
		copy(e.sec[:], r.take(secLen))
		e.id = uint64(r.i64())
		e.expire = r.i64()
		vs.list = append(vs.list, e)
	}
	return vs, !r.bad
}

// variantKey is the key a variant's response is stored under.
func variantKey(key [keyLen]byte, id uint64) [keyLen + 8]byte {
	var k [keyLen + 8]byte
	copy(k[:], key[:])
	le.PutUint64(k[keyLen:], id)
	return k
}
