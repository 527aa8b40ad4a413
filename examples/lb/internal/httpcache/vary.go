package httpcache

import (
	"encoding/binary"
	"hash/crc32"

	"github.com/proxyblocks/proxyblocks/mux/htx"
)

// The headers a response may vary on, as bits of a vary signature; the
// secondary key holds 4 bytes for each, in this order.
const (
	varyAcceptEncoding uint8 = 1 << iota
	varyReferer
	varyAll = varyAcceptEncoding | varyReferer
)

// secLen is the length of a secondary key.
const secLen = 8

// The content codings an Accept-Encoding bitmap tells apart, HAProxy's
// VARY_ENCODING_* bits.
const (
	encGzip uint32 = 1 << iota
	encDeflate
	encBr
	encCompress
	encAES128GCM
	encEXI
	encPack200Gzip
	encZstd
	encIdentity
	encStar
	encOther
)

// codings maps a coding's name to its bit, by first letter as HAProxy
// matches them.
var codings = []struct {
	name string
	bit  uint32
}{
	{"aes128gcm", encAES128GCM}, {"br", encBr}, {"compress", encCompress},
	{"deflate", encDeflate}, {"exi", encEXI}, {"gzip", encGzip},
	{"identity", encIdentity}, {"pack200-gzip", encPack200Gzip},
	{"x-gzip", encGzip}, {"x-compress", encCompress}, {"zstd", encZstd},
}

// varySignature reads the response's Vary values: ok is false when one
// names a header other than Accept-Encoding and Referer.
func varySignature(resp *htx.Message) (sig uint8, ok bool) {
	ok = true
	values(resp, "vary", func(v []byte) bool {
		switch {
		case eqFold(v, "accept-encoding"):
			sig |= varyAcceptEncoding
		case eqFold(v, "referer"):
			sig |= varyReferer
		default:
			ok = false
		}
		return ok
	})
	return sig, ok
}

// parseCoding is HAProxy's parse_encoding_value: the bit of the coding v
// starts with (0 for a name it does not know but whose first letter is
// one of a known name's), whether its weight is exactly "q=0", and false
// for a coding it cannot read.
func parseCoding(v []byte, weights bool) (bit uint32, zero, ok bool) {
	if len(v) == 0 {
		return 0, false, false
	}
	if v[0] == '*' {
		bit, v = encStar, v[1:]
	} else {
		known := false
		for _, c := range codings {
			if c.name[0] != v[0] {
				continue
			}
			known = true
			if len(v) >= len(c.name) && string(v[:len(c.name)]) == c.name {
				bit, v = c.bit, v[len(c.name):]
				break
			}
		}
		if !known {
			return 0, false, false
		}
	}
	if bit == 0 {
		return 0, false, true
	}
	v = trimSPHT(v)
	if len(v) > 0 {
		if v[0] != ';' {
			return 0, false, false
		}
		if weights {
			zero = string(trimSPHT(v[1:])) == "q=0"
		}
	}
	return bit, zero, true
}

func trimSPHT(v []byte) []byte {
	for len(v) > 0 && (v[0] == ' ' || v[0] == '\t') {
		v = v[1:]
	}
	return v
}

// acceptEncoding is HAProxy's accept_encoding_normalizer: the bitmap of
// the codings the request accepts; false past 16 values.
func acceptEncoding(req *htx.Message) (uint32, bool) {
	const maxValues = 16
	bitmap, refused := encIdentity, ^uint32(0)
	count := 0
	var lower []byte
	values(req, "accept-encoding", func(v []byte) bool {
		if count == maxValues {
			return false
		}
		count++
		if len(v) == 0 {
			return true
		}
		lower = lower[:0]
		for _, c := range v {
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			lower = append(lower, c)
		}
		bit, zero, ok := parseCoding(lower, true)
		switch {
		case !ok:
			bitmap |= encOther
		case zero:
			refused &^= bit
		default:
			bitmap |= bit
		}
		return true
	})
	if bitmap&encStar != 0 {
		bitmap = ^uint32(0)
	}
	bitmap &= refused
	if count == 0 {
		bitmap = ^uint32(0)
	}
	if count == maxValues {
		return 0, false
	}
	return bitmap, true
}

// secondaryKey is HAProxy's http_request_build_secondary_key: the parts
// of the request sig names, zeros for the others; false when the
// request cannot be told apart (too many Accept-Encoding values).
func secondaryKey(req *htx.Message, sig uint8) (key [secLen]byte, ok bool) {
	if sig&varyAcceptEncoding != 0 {
		bm, ok := acceptEncoding(req)
		if !ok {
			return key, false
		}
		binary.LittleEndian.PutUint32(key[0:4], bm)
	}
	if sig&varyReferer != 0 {
		if v, found := first(req, "referer"); found {
			binary.LittleEndian.PutUint32(key[4:8], crc32.ChecksumIEEE(v))
		}
	}
	return key, true
}

// reduce keeps the parts of a full secondary key that sig names.
func reduce(key [secLen]byte, sig uint8) [secLen]byte {
	if sig&varyAcceptEncoding == 0 {
		clear(key[0:4])
	}
	if sig&varyReferer == 0 {
		clear(key[4:8])
	}
	return key
}

// responseEncoding puts the response's own coding in the Accept-Encoding
// part of a stored secondary key, so that a later request matches when
// it accepts that coding; false for a coding HAProxy does not know,
// whose response is not kept.
func responseEncoding(resp *htx.Message, key *[secLen]byte) bool {
	bitmap, ok := uint32(0), true
	values(resp, "content-encoding", func(v []byte) bool {
		var bit uint32
		bit, _, ok = parseCoding(v, false)
		bitmap |= bit
		return ok
	})
	if !ok {
		return false
	}
	if bitmap == 0 {
		bitmap = encIdentity
	}
	binary.LittleEndian.PutUint32(key[0:4], bitmap)
	return true
}

// secondaryMatch is HAProxy's secondary_key_cmp: the stored key ref
// serves a request of key req when every coding of the stored response
// is one the request accepts and the Referer parts are equal.
func secondaryMatch(ref, req [secLen]byte) bool {
	r, n := binary.LittleEndian.Uint32(ref[0:4]), binary.LittleEndian.Uint32(req[0:4])
	if r&encOther != 0 || r&n != r {
		return false
	}
	return string(ref[4:8]) == string(req[4:8])
}
