package conn

import (
	"net/netip"
	"testing"
)

func benchHeaders(b *testing.B) map[string][]byte {
	ap := netip.MustParseAddrPort
	v2 := NewProxyHeader(ap("192.0.2.1:56324"), ap("198.51.100.2:443"))
	v2.Version = 2
	v2b, _ := v2.AppendTo(nil)
	tl := NewProxyHeader(ap("192.0.2.1:56324"), ap("198.51.100.2:443"))
	tl.Version = 2
	tl.AddTLV(TLVALPN, []byte("h2"))
	tl.AddTLV(TLVAuthority, []byte("www.example.com"))
	tl.AddTLV(TLVUniqueID, []byte("4f0c1d2e-5a6b-7c8d-9e0f-a1b2c3d4e5f6"))
	tl.AddSSL(SSLInfo{Client: SSLClientSSL, Version: "TLSv1.3", Cipher: "TLS_AES_128_GCM_SHA256"})
	tl.AddCRC32C()
	tlb, _ := tl.AppendTo(nil)
	return map[string][]byte{
		"v1-tcp4":     []byte("PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n"),
		"v1-tcp6":     []byte("PROXY TCP6 2001:db8::1 2001:db8::2 56324 443\r\n"),
		"v2-tcp4":     v2b,
		"v2-tlvs-crc": tlb,
	}
}

func BenchmarkParseProxyHeader(b *testing.B) {
	for name, in := range benchHeaders(b) {
		b.Run(name, func(b *testing.B) {
			var h ProxyHeader
			b.SetBytes(int64(len(in)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ParseProxyHeader(in, &h); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkAppendProxyHeader(b *testing.B) {
	for name, in := range benchHeaders(b) {
		b.Run(name, func(b *testing.B) {
			var h ProxyHeader
			if _, err := ParseProxyHeader(in, &h); err != nil {
				b.Fatal(err)
			}
			buf := make([]byte, 0, 512)
			b.SetBytes(int64(len(in)))
			b.ReportAllocs()
			for b.Loop() {
				buf, _ = h.AppendTo(buf[:0])
			}
		})
	}
}
