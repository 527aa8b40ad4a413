package acl

import (
	"encoding/binary"
	"net/netip"

	"github.com/proxyblocks/proxyblocks/stick"
)

// KeyConvertible reports whether samples of type st can become keys of a
// table of type kt, as HAProxy's sample casts allow: a boolean is no
// address and no binary key, every other pair converts (or fails for
// one sample at run time, an IPv6 address in an ip table say).
func KeyConvertible(st Type, kt stick.KeyType) bool {
	if st != TypeBool {
		return true
	}
	return kt == stick.KeyInteger || kt == stick.KeyString
}

// SampleKey converts a sample to a key of table t the way HAProxy casts a
// tracking sample to the table's type: ip tables take IPv4 addresses
// (IPv4-mapped ones too), an integer read as an address or a string
// holding a dotted address; ipv6 tables take any address, an integer
// read as an IPv4-mapped one or a string holding an IPv6 address;
// integer tables take integers, booleans, IPv4 addresses and the leading
// number of a non-empty string; string and binary tables take the text of
// the sample (binary tables the raw address bytes and the integer's eight
// big-endian bytes). It appends to dst and reports false when the sample
// cannot be a key, and nothing is tracked then.
func SampleKey(dst []byte, t *stick.Table, s Sample) ([]byte, bool) {
	kt := t.KeyType()
	if !KeyConvertible(s.Type, kt) {
		return nil, false
	}
	switch kt {
	case stick.KeyIPv4:
		a, ok := sampleAddr(s, false)
		if !ok || !a.Unmap().Is4() {
			return nil, false
		}
		b := a.Unmap().As4()
		return append(dst, b[:]...), true
	case stick.KeyIPv6:
		a, ok := sampleAddr(s, true)
		if !ok {
			return nil, false
		}
		b := a.As16()
		return append(dst, b[:]...), true
	case stick.KeyInteger:
		var n int64
		switch s.Type {
		case TypeIP:
			a := s.IP.Unmap()
			if !a.Is4() {
				return nil, false
			}
			b := a.As4()
			n = int64(binary.BigEndian.Uint32(b[:]))
		case TypeStr:
			if s.Str == "" {
				return nil, false
			}
			n = leadingInt(s.Str)
		default:
			n = s.Int
		}
		return binary.BigEndian.AppendUint64(dst, uint64(n)), true
	case stick.KeyBinary:
		switch s.Type {
		case TypeIP:
			if a := s.IP; a.Is4() {
				b := a.As4()
				return append(dst, b[:]...), true
			}
			b := s.IP.As16()
			return append(dst, b[:]...), true
		case TypeInt:
			return binary.BigEndian.AppendUint64(dst, uint64(s.Int)), true
		}
	}
	if s.Type == TypeStr {
		return append(dst, s.Str...), true
	}
	return append(dst, s.String()...), true
}

// sampleAddr reads a sample as an address: an address as it is, an
// integer as an IPv4 address, a string parsed (as IPv6 only when v6).
func sampleAddr(s Sample, v6 bool) (netip.Addr, bool) {
	switch s.Type {
	case TypeIP:
		return s.IP, s.IP.IsValid()
	case TypeInt:
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], uint32(s.Int))
		return netip.AddrFrom4(b), true
	case TypeStr:
		a, err := netip.ParseAddr(s.Str)
		if err != nil || a.Zone() != "" || a.Is4() == v6 {
			return netip.Addr{}, false
		}
		return a, true
	}
	return netip.Addr{}, false
}

// leadingInt reads the optional sign and the digits a string starts
// with, as HAProxy's string to integer cast: "12abc" is 12, "abc" 0.
func leadingInt(s string) int64 {
	neg := false
	if s != "" && (s[0] == '-' || s[0] == '+') {
		neg = s[0] == '-'
		s = s[1:]
	}
	var n int64
	for i := 0; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		n = n*10 + int64(s[i]-'0')
	}
	if neg {
		return -n
	}
	return n
}
