package acl

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha3"
	"crypto/sha512"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"math/bits"
	"strconv"
	"strings"
	"unsafe"
)

// The hash and binary converters of HAProxy 2.6: crc32, crc32c, djb2,
// sdbm, wt6, xxh32, xxh64 and xxh3 (integers), sha1, sha2, digest and
// hmac (binary digests), hex2i, htonl, be2dec and be2hex. They read their
// input as HAProxy casts a sample to binary (see smpBin).

func init() {
	// The 32-bit hashes take an optional avalanche flag: when not 0,
	// the hash goes through HAProxy's full_hash.
	hash32 := func(name string, fn func(h uint32, b []byte) uint32, seed uint32) {
		converters[name] = converter{ArgOptional, TypeInt, func(a []string) (ConvFunc, error) {
			av, err := optIntArg(a, 0)
			if err != nil {
				return nil, err
			}
			return func(s Sample) (Sample, bool) {
				h := fn(seed, smpBin(s))
				if av != 0 {
					h = FullHash(h)
				}
				return Int(int64(h)), true
			}, nil
		}}
	}
	crc32c := crc32.MakeTable(crc32.Castagnoli)
	hash32("crc32", func(_ uint32, b []byte) uint32 { return crc32.ChecksumIEEE(b) }, 0)
	hash32("crc32c", func(_ uint32, b []byte) uint32 { return crc32.Checksum(b, crc32c) }, 0)
	hash32("djb2", func(h uint32, b []byte) uint32 {
		for _, c := range b {
			h = h*33 + uint32(c)
		}
		return h
	}, 5381)
	hash32("sdbm", SDBMStep, 0)
	hash32("wt6", wt6, 0)
	converters["xxh32"] = converter{ArgOptional, TypeInt, func(a []string) (ConvFunc, error) {
		seed, err := optIntArg(a, 0)
		if err != nil {
			return nil, err
		}
		return func(s Sample) (Sample, bool) {
			return Int(int64(XXH32(smpBin(s), uint32(seed)))), true
		}, nil
	}}
	converters["xxh64"] = converter{ArgOptional, TypeInt, func(a []string) (ConvFunc, error) {
		seed, err := optIntArg(a, 0)
		if err != nil {
			return nil, err
		}
		return func(s Sample) (Sample, bool) {
			return Int(int64(XXH64(smpBin(s), uint64(seed)))), true
		}, nil
	}}
	converters["sha1"] = converter{ArgNone, TypeStr, func([]string) (ConvFunc, error) {
		return func(s Sample) (Sample, bool) {
			sum := sha1.Sum(smpBin(s))
			return Str(string(sum[:])), true
		}, nil
	}}
	converters["sha2"] = converter{ArgOptional, TypeStr, func(a []string) (ConvFunc, error) {
		n, err := optIntArg(a, 256)
		if err != nil {
			return nil, err
		}
		fn, ok := map[int64]func() hash.Hash{224: sha256.New224, 256: sha256.New, 384: sha512.New384, 512: sha512.New}[n]
		if !ok {
			return nil, fmt.Errorf("unsupported number of bits: '%d'", n)
		}
		return digestConv(fn), nil
	}}
	converters["digest"] = converter{ArgOptional, TypeStr, func(a []string) (ConvFunc, error) {
		if len(a) > 1 {
			return nil, fmt.Errorf("expects <algorithm>")
		}
		fn, err := digestAlgo(a)
		if err != nil {
			return nil, err
		}
		return digestConv(fn), nil
	}}
	// hmac(alg,key): the key in base64, or a variable holding it, read
	// when the converter runs (unset or not base64: no sample).
	ctxConverters["hmac"] = ctxConverter{ArgRequired, TypeStr, func(a []string) (CtxConvFunc, error) {
		if len(a) != 2 {
			return nil, fmt.Errorf("expects <algorithm>,<key>")
		}
		fn, err := digestAlgo(a[:1])
		if err != nil {
			return nil, err
		}
		if v := ParseConvArg(a[1]); v.Var != "" {
			return func(ctx Context, s Sample) (Sample, bool) {
				k, ok := v.Get(ctx)
				if !ok {
					return Sample{}, false
				}
				key, err := base64.StdEncoding.DecodeString(k.String())
				if err != nil {
					return Sample{}, false
				}
				m := hmac.New(fn, key)
				m.Write(smpBin(s))
				return Str(string(m.Sum(nil))), true
			}, nil
		}
		key, err := base64.StdEncoding.DecodeString(a[1])
		if err != nil {
			return nil, fmt.Errorf("key '%s' is not base64 encoded", a[1])
		}
		return func(_ Context, s Sample) (Sample, bool) {
			m := hmac.New(fn, key)
			m.Write(smpBin(s))
			return Str(string(m.Sum(nil))), true
		}, nil
	}}
	// hex2i: hexadecimal digits read as an integer, wrapping past 64
	// bits; any other byte leaves no sample.
	converters["hex2i"] = converter{ArgNone, TypeInt, func([]string) (ConvFunc, error) {
		return func(s Sample) (Sample, bool) {
			var n uint64
			for _, c := range []byte(s.String()) {
				d := hexDigit(c)
				if d < 0 {
					return Sample{}, false
				}
				n = n<<4 | uint64(d)
			}
			return Int(int64(n)), true
		}, nil
	}}
	// htonl: the integer's low 32 bits as 4 bytes, most significant
	// first.
	converters["htonl"] = converter{ArgNone, TypeStr, func([]string) (ConvFunc, error) {
		return func(s Sample) (Sample, bool) {
			v, ok := smpInt(s)
			var b [4]byte
			binary.BigEndian.PutUint32(b[:], uint32(v))
			return Str(string(b[:])), ok && s.Type != TypeIP
		}, nil
	}}
	// be2dec(sep,chunk[,trunc]): each chunk of 1 to 8 bytes read as a
	// big-endian unsigned integer, in decimal, joined by sep; trunc
	// drops a last shorter chunk.
	converters["be2dec"] = converter{ArgOptional, TypeStr, func(a []string) (ConvFunc, error) {
		sep, chunk, trunc, err := beArgs(a)
		if err != nil {
			return nil, err
		}
		if chunk < 1 || chunk > 8 {
			return nil, fmt.Errorf("chunk_size out of [1..8] range (%d)", chunk)
		}
		return func(s Sample) (Sample, bool) {
			b := smpBin(s)
			var arr [256]byte
			out := arr[:0]
			for len(b) > 0 && (!trunc || len(b) >= int(chunk)) {
				n := min(int(chunk), len(b))
				var v uint64
				for _, c := range b[:n] {
					v = v<<8 | uint64(c)
				}
				if len(out) > 0 {
					out = append(out, sep...)
				}
				out = strconv.AppendUint(out, v, 10)
				b = b[n:]
			}
			return Str(string(out)), true
		}, nil
	}}
	// be2hex([sep[,chunk[,trunc]]]): the bytes in upper-case hex, in
	// chunks joined by sep; trunc drops a last shorter chunk.
	converters["be2hex"] = converter{ArgOptional, TypeStr, func(a []string) (ConvFunc, error) {
		sep, chunk, trunc, err := beArgs(a)
		if err != nil {
			return nil, err
		}
		if sep != "" && chunk <= 0 {
			return nil, fmt.Errorf("chunk_size needs to be positive (%d)", chunk)
		}
		return func(s Sample) (Sample, bool) {
			const hexDigits = "0123456789ABCDEF"
			b := smpBin(s)
			n := len(b)
			if chunk > 0 && trunc {
				n -= n % int(chunk)
			}
			var arr [128]byte
			out := arr[:0]
			for i, c := range b[:n] {
				if i > 0 && chunk > 0 && int64(i)%chunk == 0 {
					out = append(out, sep...)
				}
				out = append(out, hexDigits[c>>4], hexDigits[c&15])
			}
			return Str(string(out)), true
		}, nil
	}}
}

// smpBin returns a sample as HAProxy casts it to binary: a string's
// bytes (not copied: the caller must not change them), an integer's 8
// bytes and an address's 4 or 16, most significant first.
func smpBin(s Sample) []byte {
	switch s.Type {
	case TypeBool, TypeInt:
		return binary.BigEndian.AppendUint64(nil, uint64(s.Int))
	case TypeIP:
		return s.IP.AsSlice()
	}
	return unsafe.Slice(unsafe.StringData(s.Str), len(s.Str))
}

// optIntArg reads a converter's one optional integer argument (def when
// absent or empty), as HAProxy reads one.
func optIntArg(a []string, def int64) (int64, error) {
	switch {
	case len(a) > 1:
		return 0, fmt.Errorf("expects one integer")
	case len(a) == 0 || a[0] == "":
		return def, nil
	}
	return intArg(a[0])
}

// intArg reads an integer argument; beyond 64 bits it is the nearest
// bound.
func intArg(v string) (int64, error) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return 0, fmt.Errorf("failed to parse '%s' as type 'integer'", v)
	}
	return n, nil
}

// beArgs reads be2dec's and be2hex's [sep[,chunk[,trunc]]].
func beArgs(a []string) (sep string, chunk int64, trunc bool, err error) {
	if len(a) > 3 {
		return "", 0, false, fmt.Errorf("expects [<separator>[,<chunk_size>[,<truncate>]]]")
	}
	if len(a) > 0 {
		sep = a[0]
	}
	if len(a) > 1 && a[1] != "" {
		if chunk, err = intArg(a[1]); err != nil {
			return "", 0, false, err
		}
	}
	if len(a) > 2 && a[2] != "" {
		t, err := intArg(a[2])
		if err != nil {
			return "", 0, false, err
		}
		if t != 0 && t != 1 {
			return "", 0, false, fmt.Errorf("unsupported truncate value (%d)", t)
		}
		trunc = t == 1
	}
	return sep, chunk, trunc, nil
}

// digestAlgos are the message digests lb knows, by the names (lower
// case) OpenSSL gives them.
var digestAlgos = map[string]func() hash.Hash{
	"md5": md5.New, "sha1": sha1.New, "sha-1": sha1.New,
	"sha224": sha256.New224, "sha-224": sha256.New224, "sha2-224": sha256.New224,
	"sha256": sha256.New, "sha-256": sha256.New, "sha2-256": sha256.New,
	"sha384": sha512.New384, "sha-384": sha512.New384, "sha2-384": sha512.New384,
	"sha512": sha512.New, "sha-512": sha512.New, "sha2-512": sha512.New,
	"sha512-224": sha512.New512_224, "sha-512/224": sha512.New512_224, "sha2-512/224": sha512.New512_224,
	"sha512-256": sha512.New512_256, "sha-512/256": sha512.New512_256, "sha2-512/256": sha512.New512_256,
	"sha3-224": func() hash.Hash { return sha3.New224() }, "sha3-256": func() hash.Hash { return sha3.New256() },
	"sha3-384": func() hash.Hash { return sha3.New384() }, "sha3-512": func() hash.Hash { return sha3.New512() },
}

// digestAlgo returns the digest named by a's one argument.
func digestAlgo(a []string) (func() hash.Hash, error) {
	name := ""
	if len(a) > 0 {
		name = a[0]
	}
	fn, ok := digestAlgos[strings.ToLower(name)]
	if !ok {
		return nil, fmt.Errorf("algorithm '%s' unknown or %w (md5, sha1, sha224, sha256, sha384, sha512, sha512-224, sha512-256, sha3-224, sha3-256, sha3-384, sha3-512)", name, ErrUnsupportedConv)
	}
	return fn, nil
}

// digestConv hashes its sample with the digest fn makes.
func digestConv(fn func() hash.Hash) ConvFunc {
	return func(s Sample) (Sample, bool) {
		h := fn()
		h.Write(smpBin(s))
		var sum [64]byte
		return Str(string(h.Sum(sum[:0]))), true
	}
}

// hexDigit returns the value of a hexadecimal digit, -1 for another
// byte.
func hexDigit(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// wt6 is HAProxy's hash_wt6 (seeded by nothing: h is unused).
func wt6(_ uint32, b []byte) uint32 {
	h0, h1 := uint32(0xa53c965a), uint32(0x5ca6953a)
	step0, step1 := 6, 18
	for _, c := range b {
		t := uint32(c)
		h0 = ^(h0 ^ t)
		h1 = ^(h1 + t)
		t = bits.RotateLeft32(h1, step0)
		h1 = bits.RotateLeft32(h0, step1)
		h0 = t
		t = ((h0 >> 16) ^ h1) & 0xffff
		step0 = int(t & 0x1f)
		step1 = int(t >> 11)
	}
	return h0 ^ h1
}

// XXH32 is the 32-bit xxHash of b with seed, which HAProxy's xxh32
// converter and its keys of SRV answers use.
func XXH32(b []byte, seed uint32) uint32 {
	const (
		p1 uint32 = 2654435761
		p2 uint32 = 2246822519
		p3 uint32 = 3266489917
		p4 uint32 = 668265263
		p5 uint32 = 374761393
	)
	round := func(acc, in uint32) uint32 { return bits.RotateLeft32(acc+in*p2, 13) * p1 }
	n := uint32(len(b))
	var h uint32
	if len(b) >= 16 {
		v1, v2, v3, v4 := seed+p1+p2, seed+p2, seed, seed-p1
		for ; len(b) >= 16; b = b[16:] {
			v1 = round(v1, binary.LittleEndian.Uint32(b))
			v2 = round(v2, binary.LittleEndian.Uint32(b[4:]))
			v3 = round(v3, binary.LittleEndian.Uint32(b[8:]))
			v4 = round(v4, binary.LittleEndian.Uint32(b[12:]))
		}
		h = bits.RotateLeft32(v1, 1) + bits.RotateLeft32(v2, 7) + bits.RotateLeft32(v3, 12) + bits.RotateLeft32(v4, 18)
	} else {
		h = seed + p5
	}
	h += n
	for ; len(b) >= 4; b = b[4:] {
		h = bits.RotateLeft32(h+binary.LittleEndian.Uint32(b)*p3, 17) * p4
	}
	for _, c := range b {
		h = bits.RotateLeft32(h+uint32(c)*p5, 11) * p1
	}
	h ^= h >> 15
	h *= p2
	h ^= h >> 13
	h *= p3
	h ^= h >> 16
	return h
}

// xxh64 primes.
const (
	xp1 uint64 = 11400714785074694791
	xp2 uint64 = 14029467366897019727
	xp3 uint64 = 1609587929392839161
	xp4 uint64 = 9650029242287828579
	xp5 uint64 = 2870177450012600261
)

// XXH64 is the 64-bit xxHash of b with seed, which HAProxy's xxh64
// converter and its dynamic server cookies use.
func XXH64(b []byte, seed uint64) uint64 {
	round := func(acc, in uint64) uint64 { return bits.RotateLeft64(acc+in*xp2, 31) * xp1 }
	merge := func(acc, v uint64) uint64 { return (acc^round(0, v))*xp1 + xp4 }
	n := uint64(len(b))
	var h uint64
	if len(b) >= 32 {
		v1, v2, v3, v4 := seed+xp1+xp2, seed+xp2, seed, seed-xp1
		for ; len(b) >= 32; b = b[32:] {
			v1 = round(v1, binary.LittleEndian.Uint64(b))
			v2 = round(v2, binary.LittleEndian.Uint64(b[8:]))
			v3 = round(v3, binary.LittleEndian.Uint64(b[16:]))
			v4 = round(v4, binary.LittleEndian.Uint64(b[24:]))
		}
		h = bits.RotateLeft64(v1, 1) + bits.RotateLeft64(v2, 7) + bits.RotateLeft64(v3, 12) + bits.RotateLeft64(v4, 18)
		h = merge(merge(merge(merge(h, v1), v2), v3), v4)
	} else {
		h = seed + xp5
	}
	h += n
	for ; len(b) >= 8; b = b[8:] {
		h ^= round(0, binary.LittleEndian.Uint64(b))
		h = bits.RotateLeft64(h, 27)*xp1 + xp4
	}
	if len(b) >= 4 {
		h ^= uint64(binary.LittleEndian.Uint32(b)) * xp1
		h = bits.RotateLeft64(h, 23)*xp2 + xp3
		b = b[4:]
	}
	for _, c := range b {
		h ^= uint64(c) * xp5
		h = bits.RotateLeft64(h, 11) * xp1
	}
	h ^= h >> 33
	h *= xp2
	h ^= h >> 29
	h *= xp3
	h ^= h >> 32
	return h
}
