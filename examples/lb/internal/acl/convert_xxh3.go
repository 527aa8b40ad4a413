package acl

import (
	"encoding/binary"
	"math/bits"
)

// xxh3([seed]): the 64-bit XXH3 hash (xxHash 0.8) of the sample, as a
// signed integer, as in HAProxy 2.6.
func init() {
	converters["xxh3"] = converter{ArgOptional, TypeInt, func(a []string) (ConvFunc, error) {
		seed, err := optIntArg(a, 0)
		if err != nil {
			return nil, err
		}
		var secret *[192]byte
		if seed != 0 { // long inputs use a secret derived from the seed
			secret = new([192]byte)
			for i := 0; i < len(secret); i += 16 {
				binary.LittleEndian.PutUint64(secret[i:], binary.LittleEndian.Uint64(xxh3Secret[i:])+uint64(seed))
				binary.LittleEndian.PutUint64(secret[i+8:], binary.LittleEndian.Uint64(xxh3Secret[i+8:])-uint64(seed))
			}
		} else {
			secret = &xxh3Secret
		}
		return func(s Sample) (Sample, bool) {
			return Int(int64(xxh3(smpBin(s), uint64(seed), secret))), true
		}, nil
	}}
}

// xxh3Secret is XXH3's default secret.
var xxh3Secret = [192]byte{
	0xb8, 0xfe, 0x6c, 0x39, 0x23, 0xa4, 0x4b, 0xbe, 0x7c, 0x01, 0x81, 0x2c, 0xf7, 0x21, 0xad, 0x1c,
	0xde, 0xd4, 0x6d, 0xe9, 0x83, 0x90, 0x97, 0xdb, 0x72, 0x40, 0xa4, 0xa4, 0xb7, 0xb3, 0x67, 0x1f,
	0xcb, 0x79, 0xe6, 0x4e, 0xcc, 0xc0, 0xe5, 0x78, 0x82, 0x5a, 0xd0, 0x7d, 0xcc, 0xff, 0x72, 0x21,
	0xb8, 0x08, 0x46, 0x74, 0xf7, 0x43, 0x24, 0x8e, 0xe0, 0x35, 0x90, 0xe6, 0x81, 0x3a, 0x26, 0x4c,
	0x3c, 0x28, 0x52, 0xbb, 0x91, 0xc3, 0x00, 0xcb, 0x88, 0xd0, 0x65, 0x8b, 0x1b, 0x53, 0x2e, 0xa3,
	0x71, 0x64, 0x48, 0x97, 0xa2, 0x0d, 0xf9, 0x4e, 0x38, 0x19, 0xef, 0x46, 0xa9, 0xde, 0xac, 0xd8,
	0xa8, 0xfa, 0x76, 0x3f, 0xe3, 0x9c, 0x34, 0x3f, 0xf9, 0xdc, 0xbb, 0xc7, 0xc7, 0x0b, 0x4f, 0x1d,
	0x8a, 0x51, 0xe0, 0x4b, 0xcd, 0xb4, 0x59, 0x31, 0xc8, 0x9f, 0x7e, 0xc9, 0xd9, 0x78, 0x73, 0x64,
	0xea, 0xc5, 0xac, 0x83, 0x34, 0xd3, 0xeb, 0xc3, 0xc5, 0x81, 0xa0, 0xff, 0xfa, 0x13, 0x63, 0xeb,
	0x17, 0x0d, 0xdd, 0x51, 0xb7, 0xf0, 0xda, 0x49, 0xd3, 0x16, 0x55, 0x26, 0x29, 0xd4, 0x68, 0x9e,
	0x2b, 0x16, 0xbe, 0x58, 0x7d, 0x47, 0xa1, 0xfc, 0x8f, 0xf8, 0xb8, 0xd1, 0x7a, 0xd0, 0x31, 0xce,
	0x45, 0xcb, 0x3a, 0x8f, 0x95, 0x16, 0x04, 0x28, 0xaf, 0xd7, 0xfb, 0xca, 0xbb, 0x4b, 0x40, 0x7e,
}

const (
	x32p1 uint64 = 0x9E3779B1
	x32p2 uint64 = 0x85EBCA77
	x32p3 uint64 = 0xC2B2AE3D
)

func r64(b []byte, i int) uint64 { return binary.LittleEndian.Uint64(b[i:]) }

// fold64 multiplies a and b on 128 bits and folds the halves.
func fold64(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	return hi ^ lo
}

func xxh3Avalanche(h uint64) uint64 {
	h ^= h >> 37
	h *= 0x165667919E3779F9
	return h ^ h>>32
}

func xxh64Avalanche(h uint64) uint64 {
	h ^= h >> 33
	h *= xp2
	h ^= h >> 29
	h *= xp3
	return h ^ h>>32
}

func mix16(in []byte, i int, sec []byte, j int, seed uint64) uint64 {
	return fold64(r64(in, i)^(r64(sec, j)+seed), r64(in, i+8)^(r64(sec, j+8)-seed))
}

// xxh3 is XXH3_64bits_withSeed; secret is the default one for seed 0,
// else the one derived from seed.
func xxh3(in []byte, seed uint64, secret *[192]byte) uint64 {
	sec := xxh3Secret[:]
	n := len(in)
	switch {
	case n == 0:
		return xxh64Avalanche(seed ^ r64(sec, 56) ^ r64(sec, 64))
	case n <= 3:
		combined := uint32(in[0])<<16 | uint32(in[n>>1])<<24 | uint32(in[n-1]) | uint32(n)<<8
		flip := uint64(binary.LittleEndian.Uint32(sec)^binary.LittleEndian.Uint32(sec[4:])) + seed
		return xxh64Avalanche(uint64(combined) ^ flip)
	case n <= 8:
		seed ^= uint64(bits.ReverseBytes32(uint32(seed))) << 32
		flip := (r64(sec, 8) ^ r64(sec, 16)) - seed
		v := uint64(binary.LittleEndian.Uint32(in[n-4:])) + uint64(binary.LittleEndian.Uint32(in))<<32
		h := v ^ flip
		h ^= bits.RotateLeft64(h, 49) ^ bits.RotateLeft64(h, 24)
		h *= 0x9FB21C651E98DF25
		h ^= h>>35 + uint64(n)
		h *= 0x9FB21C651E98DF25
		return h ^ h>>28
	case n <= 16:
		lo := r64(in, 0) ^ ((r64(sec, 24) ^ r64(sec, 32)) + seed)
		hi := r64(in, n-8) ^ ((r64(sec, 40) ^ r64(sec, 48)) - seed)
		return xxh3Avalanche(uint64(n) + bits.ReverseBytes64(lo) + hi + fold64(lo, hi))
	case n <= 128:
		acc := uint64(n) * xp1
		if n > 32 {
			if n > 64 {
				if n > 96 {
					acc += mix16(in, 48, sec, 96, seed) + mix16(in, n-64, sec, 112, seed)
				}
				acc += mix16(in, 32, sec, 64, seed) + mix16(in, n-48, sec, 80, seed)
			}
			acc += mix16(in, 16, sec, 32, seed) + mix16(in, n-32, sec, 48, seed)
		}
		acc += mix16(in, 0, sec, 0, seed) + mix16(in, n-16, sec, 16, seed)
		return xxh3Avalanche(acc)
	case n <= 240:
		acc := uint64(n) * xp1
		for i := 0; i < 8; i++ {
			acc += mix16(in, 16*i, sec, 16*i, seed)
		}
		acc = xxh3Avalanche(acc)
		for i := 8; i < n/16; i++ {
			acc += mix16(in, 16*i, sec, 16*(i-8)+3, seed)
		}
		acc += mix16(in, n-16, sec, 136-17, seed)
		return xxh3Avalanche(acc)
	}
	return xxh3Long(in, secret[:])
}

// xxh3Long hashes an input of more than 240 bytes by stripes of 64.
func xxh3Long(in, sec []byte) uint64 {
	acc := [8]uint64{x32p3, xp1, xp2, xp3, xp4, x32p2, xp5, x32p1}
	stripe := func(p []byte, key []byte) {
		for i := 0; i < 8; i++ {
			v := r64(p, 8*i)
			k := v ^ r64(key, 8*i)
			acc[i^1] += v
			acc[i] += uint64(uint32(k)) * (k >> 32)
		}
	}
	const perBlock = (192 - 64) / 8
	const blockLen = 64 * perBlock
	n := len(in)
	blocks := (n - 1) / blockLen
	for b := 0; b < blocks; b++ {
		for s := 0; s < perBlock; s++ {
			stripe(in[b*blockLen+64*s:], sec[8*s:])
		}
		for i := range acc {
			a := acc[i]
			a ^= a >> 47
			a ^= r64(sec, 192-64+8*i)
			acc[i] = a * x32p1
		}
	}
	for s := 0; s < ((n-1)-blockLen*blocks)/64; s++ {
		stripe(in[blocks*blockLen+64*s:], sec[8*s:])
	}
	stripe(in[n-64:], sec[192-64-7:])
	h := uint64(n) * xp1
	for i := 0; i < 4; i++ {
		h += fold64(acc[2*i]^r64(sec, 11+16*i), acc[2*i+1]^r64(sec, 11+16*i+8))
	}
	return xxh3Avalanche(h)
}
