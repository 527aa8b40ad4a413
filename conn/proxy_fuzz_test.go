package conn

import (
	"bytes"
	"errors"
	"net/netip"
	"testing"
)

func fuzzSeeds(f *testing.F) {
	f.Add([]byte("PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n"))
	f.Add([]byte("PROXY TCP6 2001:db8::1 ::ffff:10.0.0.1 1 65535\r\nGET /"))
	f.Add([]byte("PROXY UNKNOWN\r\n"))
	f.Add([]byte("PROXY UNKNOWN a b c d\r\n"))
	for _, v := range []uint8{1, 2} {
		h := NewProxyHeader(netip.MustParseAddrPort("192.0.2.1:1234"), netip.MustParseAddrPort("[2001:db8::2]:80"))
		h.Version = v
		h.AddTLV(TLVALPN, []byte("h2"))
		h.AddTLV(TLVAuthority, []byte("example.com"))
		h.AddCRC32C()
		h.AddTLV(TLVUniqueID, []byte("uid"))
		h.AddSSL(SSLInfo{Client: 7, Version: "TLSv1.3", CN: "c"})
		h.AddTLV(TLVNetNS, []byte("ns"))
		b, _ := h.AppendTo(nil)
		f.Add(b)
	}
	local := &ProxyHeader{Command: CommandLocal}
	b, _ := local.AppendTo(nil)
	f.Add(b)
	unix := &ProxyHeader{Command: CommandProxy, Family: FamilyUnixStream, SrcPath: "/a", DstPath: "/b"}
	b, _ = unix.AppendTo(nil)
	f.Add(b)
}

// FuzzParseProxyHeader checks that no input panics, that errors are either
// "short" or wrap ErrProxyHeader, that a short verdict holds for every
// prefix of a valid header, and that what parses re-encodes into something
// that parses to the same addresses and TLVs.
func FuzzParseProxyHeader(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, in []byte) {
		var h ProxyHeader
		n, need, err := parseProxy(in, &h, MaxProxyV2Len)
		if err != nil {
			if errors.Is(err, ErrProxyShort) {
				if need <= len(in) {
					t.Fatalf("short with need %d <= %d bytes", need, len(in))
				}
				return
			}
			if !errors.Is(err, ErrProxyHeader) {
				t.Fatalf("error %v does not wrap ErrProxyHeader", err)
			}
			return
		}
		if n <= 0 || n > len(in) {
			t.Fatalf("parsed length %d of %d bytes", n, len(in))
		}
		for i := range n {
			var p ProxyHeader
			if _, _, err := parseProxy(in[:i], &p, MaxProxyV2Len); !errors.Is(err, ErrProxyShort) {
				t.Fatalf("prefix %d of a valid header: %v", i, err)
			}
		}
		if h.Version == 1 {
			return
		}
		out, err := h.AppendTo(nil)
		if err != nil {
			t.Fatalf("re-encoding %s: %v", &h, err)
		}
		var h2 ProxyHeader
		if _, err := ParseProxyHeader(out, &h2); err != nil {
			t.Fatalf("re-parsing %s: %v", &h, err)
		}
		if h2.Src != h.Src || h2.Dst != h.Dst || h2.Command != h.Command || h2.SrcPath != h.SrcPath {
			t.Fatalf("round trip changed %s into %s", &h, &h2)
		}
		if !bytes.Equal(h2.RawTLVs(), h.RawTLVs()) {
			t.Fatalf("round trip changed TLVs")
		}
	})
}

// FuzzReadProxyHeader checks that reading from a stream consumes exactly
// the header and nothing after it, and agrees with parsing from bytes.
func FuzzReadProxyHeader(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, in []byte) {
		var h1, h2 ProxyHeader
		n, err1 := ParseProxyHeader(in, &h1)
		r := bytes.NewReader(in)
		err2 := ReadProxyHeader(r, &h2, MaxProxyV2Len)
		if (err1 == nil) != (err2 == nil) {
			t.Fatalf("parse says %v, read says %v", err1, err2)
		}
		if err1 == nil {
			if consumed := len(in) - r.Len(); consumed != n {
				t.Fatalf("read consumed %d bytes of a %d-byte header", consumed, n)
			}
			if h1.String() != h2.String() {
				t.Fatalf("parse %s, read %s", &h1, &h2)
			}
		}
	})
}

// FuzzProxyEncode builds headers from fuzzed fields and checks that every
// header that encodes parses back to the same addresses.
func FuzzProxyEncode(f *testing.F) {
	f.Add(uint8(2), uint8(1), []byte{192, 0, 2, 1}, []byte{192, 0, 2, 2}, uint16(1), uint16(2), []byte("x"), true)
	f.Add(uint8(1), uint8(1), bytes.Repeat([]byte{0x20}, 16), []byte{10, 0, 0, 1}, uint16(65535), uint16(0), []byte(nil), false)
	f.Fuzz(func(t *testing.T, version, cmd uint8, src, dst []byte, sp, dp uint16, tlv []byte, crc bool) {
		sa, ok1 := netip.AddrFromSlice(src)
		da, ok2 := netip.AddrFromSlice(dst)
		if !ok1 || !ok2 {
			return
		}
		h := ProxyHeader{Version: version % 3, Command: ProxyCommand(cmd % 2)}
		h.Src, h.Dst = netip.AddrPortFrom(sa, sp), netip.AddrPortFrom(da, dp)
		if len(tlv) > 0 {
			if err := h.AddTLV(TLVType(tlv[0]), tlv[1:]); err != nil {
				return
			}
		}
		if crc {
			h.AddCRC32C()
		}
		b, err := h.AppendTo(nil)
		if err != nil {
			t.Fatalf("encode: %v", err)
		}
		var got ProxyHeader
		n, err := ParseProxyHeader(b, &got)
		if err != nil {
			// A fuzzed TLV may be a malformed SSL TLV or a second CRC32C;
			// anything else must parse.
			if len(tlv) > 0 && (TLVType(tlv[0]) == TLVSSL || TLVType(tlv[0]) == TLVCRC32C) {
				return
			}
			t.Fatalf("parse of encoded %s: %v", &h, err)
		}
		if n != len(b) {
			t.Fatalf("parsed %d of %d bytes", n, len(b))
		}
		if h.Command == CommandProxy && got.HasAddrs() &&
			(got.Src.Port() != sp || got.Dst.Port() != dp || got.Src.Addr().Unmap() != sa.Unmap()) {
			t.Fatalf("addresses changed: %s -> %s", &h, &got)
		}
	})
}
