package conn

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"hash/crc32"
	"io"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func mustHex(t testing.TB, s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	require.NoError(t, err)
	return b
}

const v2Sig = "0d0a0d0a000d0a515549540a"

func TestParseProxyValid(t *testing.T) {
	ap := netip.MustParseAddrPort
	tests := []struct {
		name    string
		in      []byte
		version uint8
		cmd     ProxyCommand
		fam     ProxyFamily
		src     netip.AddrPort
		dst     netip.AddrPort
		srcPath string
	}{
		{"v1 tcp4", []byte("PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n"), 1, CommandProxy, FamilyTCP4,
			ap("192.0.2.1:56324"), ap("198.51.100.2:443"), ""},
		{"v1 tcp6", []byte("PROXY TCP6 2001:db8::1 ::ffff:10.0.0.1 1 65535\r\n"), 1, CommandProxy, FamilyTCP6,
			ap("[2001:db8::1]:1"), ap("[::ffff:10.0.0.1]:65535"), ""},
		{"v1 unknown short", []byte("PROXY UNKNOWN\r\n"), 1, CommandProxy, FamilyUnspec, netip.AddrPort{}, netip.AddrPort{}, ""},
		{"v1 unknown long", []byte("PROXY UNKNOWN ffff:f...f:ffff ffff:f...f:ffff 65535 65535\r\n"), 1, CommandProxy, FamilyUnspec,
			netip.AddrPort{}, netip.AddrPort{}, ""},
		{"v2 tcp4", mustHex(t, v2Sig+"21 11 000c c0000201 c6336402 dc04 01bb"), 2, CommandProxy, FamilyTCP4,
			ap("192.0.2.1:56324"), ap("198.51.100.2:443"), ""},
		{"v2 udp4", mustHex(t, v2Sig+"21 12 000c 0a000001 0a000002 0035 0035"), 2, CommandProxy, FamilyUDP4,
			ap("10.0.0.1:53"), ap("10.0.0.2:53"), ""},
		{"v2 tcp6", mustHex(t, v2Sig+"21 21 0024 20010db8000000000000000000000001 20010db8000000000000000000000002 0050 1f90"),
			2, CommandProxy, FamilyTCP6, ap("[2001:db8::1]:80"), ap("[2001:db8::2]:8080"), ""},
		{"v2 local", mustHex(t, v2Sig+"20 00 0000"), 2, CommandLocal, FamilyUnspec, netip.AddrPort{}, netip.AddrPort{}, ""},
		{"v2 local skips address block", mustHex(t, v2Sig+"20 11 000c 0a000001 0a000002 0035 0035"), 2, CommandLocal, FamilyUnspec,
			netip.AddrPort{}, netip.AddrPort{}, ""},
		{"v2 proxy unspec", mustHex(t, v2Sig+"21 00 0000"), 2, CommandProxy, FamilyUnspec, netip.AddrPort{}, netip.AddrPort{}, ""},
		{"v2 unix", func() []byte {
			b := mustHex(t, v2Sig+"21 31 00d8")
			b = appendPadded(b, "/run/client.sock", 108)
			return appendPadded(b, "/run/haproxy.sock", 108)
		}(), 2, CommandProxy, FamilyUnixStream, netip.AddrPort{}, netip.AddrPort{}, "/run/client.sock"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h ProxyHeader
			// Application bytes after the header must stay out of it.
			in := append(append([]byte{}, tt.in...), "GET / HTTP/1.1\r\n"...)
			n, err := ParseProxyHeader(in, &h)
			require.NoError(t, err)
			require.Equal(t, len(tt.in), n)
			require.Equal(t, tt.version, h.Version)
			require.Equal(t, tt.cmd, h.Command)
			require.Equal(t, tt.fam, h.Family)
			require.Equal(t, tt.src, h.Src)
			require.Equal(t, tt.dst, h.Dst)
			require.Equal(t, tt.srcPath, h.SrcPath)
			// Every strict prefix is reported short, never bad.
			for i := range len(tt.in) {
				_, err := ParseProxyHeader(tt.in[:i], &h)
				require.ErrorIs(t, err, ErrProxyShort, "prefix of %d bytes", i)
			}
		})
	}
}

func TestParseProxyInvalid(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		msg  string
	}{
		{"http request", []byte("GET / HTTP/1.1\r\n"), "neither a v1 nor a v2 signature"},
		{"bad v2 signature", mustHex(t, "0d0a0d0a000d0a515549540b 21 11 000c"), "invalid v2 signature"},
		{"bad v2 signature early", mustHex(t, "0d0a0d0b"), "invalid v2 signature"},
		{"v2 version 3", mustHex(t, v2Sig+"31 11 000c"), "unsupported v2 version 3"},
		{"v2 command 2", mustHex(t, v2Sig+"22 11 000c"), "unknown v2 command"},
		{"v2 family 4", mustHex(t, v2Sig+"21 41 000c"), "unknown v2 address family"},
		{"v2 transport 3", mustHex(t, v2Sig+"21 13 000c"), "unknown v2 address family"},
		{"v2 tcp4 length 0", mustHex(t, v2Sig+"21 11 0000"), "address block needs 12 bytes"},
		{"v2 tcp6 length 12", mustHex(t, v2Sig+"21 21 000c"), "address block needs 36 bytes"},
		{"v2 TLV overflows", mustHex(t, v2Sig+"21 11 0010 0a000001 0a000002 0035 0035 02 0005 61"), "TLV 0x02 length 5 overflows header"},
		{"v2 TLV header truncated", mustHex(t, v2Sig+"21 11 000e 0a000001 0a000002 0035 0035 02 00"), "TLV header at offset 28 truncated"},
		{"v2 crc32c wrong length", mustHex(t, v2Sig+"21 11 0012 0a000001 0a000002 0035 0035 03 0003 000000"), "crc32c TLV has length 3"},
		{"v2 crc32c mismatch", mustHex(t, v2Sig+"21 11 0013 0a000001 0a000002 0035 0035 03 0004 deadbeef"), "crc32c mismatch"},
		{"v2 ssl too short", mustHex(t, v2Sig+"21 11 0011 0a000001 0a000002 0035 0035 20 0002 0100"), "SSL TLV of 2 bytes"},
		{"v2 ssl sub-TLV overflow", mustHex(t, v2Sig+"21 11 0017 0a000001 0a000002 0035 0035 20 0008 01 00000000 21 0009"), "SSL sub-TLV"},
		{"v2 oversized", mustHex(t, v2Sig+"21 11 ffff"), "exceeds the 16384-byte limit"},
		{"v1 bad signature", []byte("PROXZ TCP4"), "invalid v1 signature"},
		{"v1 lone LF", []byte("PROXY UNKNOWN\n"), "LF without CR"},
		{"v1 lone CR", []byte("PROXY UNKNOWN\rX"), "CR not followed by LF"},
		{"v1 binary", []byte("PROXY \x00"), "non-printable"},
		{"v1 too long", []byte("PROXY UNKNOWN " + strings.Repeat("1", 100)), "v1 line exceeds 107 bytes"},
		{"v1 bad proto", []byte("PROXY UDP4 1.1.1.1 1.1.1.1 1 1\r\n"), "is not TCP4, TCP6 or UNKNOWN"},
		{"v1 missing field", []byte("PROXY TCP4 1.1.1.1 1.1.1.1 1\r\n"), "has 3 fields, want 4"},
		{"v1 double space", []byte("PROXY TCP4  1.1.1.1 1.1.1.1 1 1\r\n"), "bad length"},
		{"v1 v6 in tcp4", []byte("PROXY TCP4 ::1 ::1 1 1\r\n"), "does not match the protocol"},
		{"v1 v4 in tcp6", []byte("PROXY TCP6 1.1.1.1 1.1.1.1 1 1\r\n"), "does not match the protocol"},
		{"v1 zone", []byte("PROXY TCP6 fe80::1%eth0 ::1 1 1\r\n"), "bad character"},
		{"v1 port range", []byte("PROXY TCP4 1.1.1.1 1.1.1.1 65536 1\r\n"), "out of range"},
		{"v1 port leading zero", []byte("PROXY TCP4 1.1.1.1 1.1.1.1 080 1\r\n"), "leading zeros"},
		{"v1 bad address", []byte("PROXY TCP4 1.1.1 1.1.1.1 1 1\r\n"), "v1 address"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h ProxyHeader
			_, _, err := parseProxy(tt.in, &h, DefaultMaxProxyHeaderLen)
			require.ErrorIs(t, err, ErrProxyHeader)
			require.ErrorContains(t, err, tt.msg)
		})
	}
}

func TestProxyRoundTrip(t *testing.T) {
	ap := netip.MustParseAddrPort
	tests := []struct {
		name    string
		h       ProxyHeader
		tlvs    func(*ProxyHeader)
		wantFam ProxyFamily
		wantSrc netip.AddrPort
		wantV1  string
	}{
		{name: "tcp4", h: ProxyHeader{Command: CommandProxy, Src: ap("192.0.2.1:1234"), Dst: ap("192.0.2.2:80")},
			wantFam: FamilyTCP4, wantSrc: ap("192.0.2.1:1234"), wantV1: "PROXY TCP4 192.0.2.1 192.0.2.2 1234 80\r\n"},
		{name: "tcp6", h: ProxyHeader{Command: CommandProxy, Src: ap("[2001:db8::1]:1234"), Dst: ap("[2001:db8::2]:443")},
			wantFam: FamilyTCP6, wantSrc: ap("[2001:db8::1]:1234"), wantV1: "PROXY TCP6 2001:db8::1 2001:db8::2 1234 443\r\n"},
		{name: "mixed families are mapped", h: ProxyHeader{Command: CommandProxy, Family: FamilyTCP4, Src: ap("192.0.2.1:1234"), Dst: ap("[2001:db8::2]:443")},
			wantFam: FamilyTCP6, wantSrc: ap("[::ffff:192.0.2.1]:1234"), wantV1: "PROXY TCP6 ::ffff:192.0.2.1 2001:db8::2 1234 443\r\n"},
		{name: "local", h: ProxyHeader{Command: CommandLocal}, wantFam: FamilyUnspec, wantV1: "PROXY UNKNOWN\r\n"},
		{name: "proxy without addresses", h: ProxyHeader{Command: CommandProxy}, wantFam: FamilyUnspec, wantV1: "PROXY UNKNOWN\r\n"},
		{name: "unix", h: ProxyHeader{Command: CommandProxy, Family: FamilyUnixStream, SrcPath: "/a", DstPath: "/b"},
			wantFam: FamilyUnixStream, wantV1: "PROXY UNKNOWN\r\n"},
		{name: "all TLVs", h: ProxyHeader{Command: CommandProxy, Src: ap("192.0.2.1:1234"), Dst: ap("192.0.2.2:80")},
			tlvs: func(h *ProxyHeader) {
				require.NoError(t, h.AddTLV(TLVALPN, []byte("h2")))
				require.NoError(t, h.AddTLV(TLVAuthority, []byte("example.com")))
				h.AddCRC32C()
				require.NoError(t, h.AddTLV(TLVNoop, nil))
				require.NoError(t, h.AddTLV(TLVUniqueID, []byte("id-42")))
				require.NoError(t, h.AddSSL(SSLInfo{Client: SSLClientSSL | SSLClientCertConn, Version: "TLSv1.3",
					CN: "client", Cipher: "TLS_AES_128_GCM_SHA256", SigAlg: "RSA-SHA256", KeyAlg: "RSA2048"}))
				require.NoError(t, h.AddTLV(TLVNetNS, []byte("blue")))
				require.NoError(t, h.AddTLV(0xE0, []byte{1, 2, 3}))
			},
			wantFam: FamilyTCP4, wantSrc: ap("192.0.2.1:1234"), wantV1: "PROXY TCP4 192.0.2.1 192.0.2.2 1234 80\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := tt.h
			if tt.tlvs != nil {
				tt.tlvs(&h)
			}
			for _, v := range []uint8{1, 2} {
				h.Version = v
				b, err := h.AppendTo(nil)
				require.NoError(t, err)
				require.Equal(t, len(b), h.Len())
				if v == 1 {
					require.Equal(t, tt.wantV1, string(b))
				}
				var got ProxyHeader
				n, err := ParseProxyHeader(b, &got)
				require.NoError(t, err)
				require.Equal(t, len(b), n)
				if v == 1 {
					continue
				}
				require.Equal(t, tt.wantFam, got.Family)
				require.Equal(t, tt.wantSrc, got.Src)
				require.Equal(t, h.SrcPath, got.SrcPath)
				require.Equal(t, h.DstPath, got.DstPath)
				if tt.tlvs == nil {
					require.Empty(t, got.RawTLVs())
					continue
				}
				require.Equal(t, "h2", got.ALPN())
				require.Equal(t, "example.com", got.Authority())
				require.Equal(t, []byte("id-42"), got.UniqueID())
				require.Equal(t, "blue", got.NetNS())
				require.True(t, got.HasCRC32C())
				ssl, ok := got.SSL()
				require.True(t, ok)
				require.Equal(t, SSLInfo{Client: SSLClientSSL | SSLClientCertConn, Version: "TLSv1.3",
					CN: "client", Cipher: "TLS_AES_128_GCM_SHA256", SigAlg: "RSA-SHA256", KeyAlg: "RSA2048"}, ssl)
				custom, ok := got.TLV(0xE0)
				require.True(t, ok)
				require.Equal(t, []byte{1, 2, 3}, custom)
				require.Contains(t, got.String(), "(8 TLVs)")
				// The checksum covers the header: flipping any address byte
				// must be caught.
				b[17] ^= 1
				_, err = ParseProxyHeader(b, &got)
				require.ErrorContains(t, err, "crc32c mismatch")
			}
		})
	}
}

// TestCRC32CKnownValue checks the checksum against one computed
// independently over the header with its CRC field zeroed.
func TestCRC32CKnownValue(t *testing.T) {
	h := NewProxyHeader(netip.MustParseAddrPort("10.0.0.1:1000"), netip.MustParseAddrPort("10.0.0.2:2000"))
	h.AddCRC32C()
	b, err := h.AppendTo(nil)
	require.NoError(t, err)
	zeroed := bytes.Clone(b)
	clear(zeroed[len(zeroed)-4:])
	want := crc32.Checksum(zeroed, crc32.MakeTable(crc32.Castagnoli))
	require.Equal(t, want, binary.BigEndian.Uint32(b[len(b)-4:]))
}

func TestProxyEncodeErrors(t *testing.T) {
	var h ProxyHeader
	require.ErrorIs(t, h.AddTLV(TLVAuthority, make([]byte, 256)), ErrProxyEncode)
	require.ErrorIs(t, h.AddTLV(TLVUniqueID, make([]byte, 129)), ErrProxyEncode)
	require.ErrorIs(t, h.AddTLV(TLVCRC32C, make([]byte, 3)), ErrProxyEncode)
	require.NoError(t, h.AddTLV(TLVNoop, make([]byte, 65000)))
	require.NoError(t, h.AddTLV(TLVNoop, make([]byte, 600)))
	h.SetAddrs(netip.MustParseAddrPort("10.0.0.1:1"), netip.MustParseAddrPort("10.0.0.2:2"))
	_, err := h.AppendTo(nil)
	require.ErrorIs(t, err, ErrProxyEncode)
	require.ErrorContains(t, err, "exceed 65535")
	h.Version = 3
	_, err = h.AppendTo(nil)
	require.ErrorContains(t, err, "version 3")
}

// countingReader records how many bytes were read, so a test can see that
// the header reader never reads past the header.
type countingReader struct {
	r    io.Reader
	read int
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.read += n
	return n, err
}

func TestReadProxyHeaderKeepsFollowingBytes(t *testing.T) {
	v2 := NewProxyHeader(netip.MustParseAddrPort("192.0.2.1:1234"), netip.MustParseAddrPort("192.0.2.2:80"))
	require.NoError(t, v2.AddTLV(TLVAuthority, []byte("example.com")))
	v2.AddCRC32C()
	v2b, err := v2.AppendTo(nil)
	require.NoError(t, err)
	big := NewProxyHeader(netip.MustParseAddrPort("192.0.2.1:1234"), netip.MustParseAddrPort("192.0.2.2:80"))
	require.NoError(t, big.AddTLV(TLVNoop, make([]byte, 3000)))
	bigb, err := big.AppendTo(nil)
	require.NoError(t, err)
	headers := map[string][]byte{
		"v1 tcp4":    []byte("PROXY TCP4 192.0.2.1 192.0.2.2 1234 80\r\n"),
		"v1 unknown": []byte("PROXY UNKNOWN\r\n"),
		"v2 tlvs":    v2b,
		"v2 large":   bigb,
	}
	const app = "application bytes"
	for name, hdr := range headers {
		t.Run(name+"/reader", func(t *testing.T) {
			cr := &countingReader{r: bytes.NewReader(append(bytes.Clone(hdr), app...))}
			var h ProxyHeader
			require.NoError(t, ReadProxyHeader(cr, &h, 0))
			require.Equal(t, len(hdr), cr.read)
			rest, err := io.ReadAll(cr.r)
			require.NoError(t, err)
			require.Equal(t, app, string(rest))
		})
		t.Run(name+"/socket", func(t *testing.T) {
			client, server := tcpPair(t)
			// Send the header in two pieces so the peek has to wait.
			_, err := client.Write(hdr[:len(hdr)/2])
			require.NoError(t, err)
			go func() {
				time.Sleep(10 * time.Millisecond)
				client.Write(append(bytes.Clone(hdr[len(hdr)/2:]), app...))
			}()
			var h ProxyHeader
			require.NoError(t, server.SetReadDeadline(time.Now().Add(5*time.Second)))
			require.NoError(t, ReadProxyHeader(server, &h, 0))
			require.Equal(t, uint8(map[bool]uint8{true: 1, false: 2}[hdr[0] == 'P']), h.Version)
			got := make([]byte, len(app))
			_, err = io.ReadFull(server, got)
			require.NoError(t, err)
			require.Equal(t, app, string(got))
		})
	}
}

func TestReadProxyHeaderErrors(t *testing.T) {
	tests := []struct {
		name   string
		send   []byte
		close  bool
		target error
		msg    string
	}{
		{"garbage", []byte("SSH-2.0-OpenSSH\r\n"), false, ErrProxyHeader, "neither a v1 nor a v2 signature"},
		{"truncated", []byte("PROXY TCP4 1.2.3.4"), true, io.ErrUnexpectedEOF, "truncated"},
		{"empty", nil, true, io.EOF, "closed before any header byte"},
		{"slow", []byte("PROXY TCP4 1.2.3.4"), false, os.ErrDeadlineExceeded, "not complete before the deadline"},
		{"oversized", mustHex(t, v2Sig+"21 11 4001"), false, ErrProxyHeader, "exceeds the 16384-byte limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client, server := tcpPair(t)
			if len(tt.send) > 0 {
				_, err := client.Write(tt.send)
				require.NoError(t, err)
			}
			if tt.close {
				client.(*net.TCPConn).CloseWrite()
			}
			require.NoError(t, server.SetReadDeadline(time.Now().Add(100*time.Millisecond)))
			var h ProxyHeader
			err := ReadProxyHeader(server, &h, 0)
			require.ErrorIs(t, err, ErrProxyHeader)
			require.ErrorIs(t, err, tt.target)
			require.ErrorContains(t, err, tt.msg)
		})
	}
}

func TestParseProxyZeroAlloc(t *testing.T) {
	v1 := []byte("PROXY TCP6 2001:db8::1 2001:db8::2 56324 443\r\n")
	h2 := NewProxyHeader(netip.MustParseAddrPort("192.0.2.1:1234"), netip.MustParseAddrPort("192.0.2.2:80"))
	require.NoError(t, h2.AddTLV(TLVUniqueID, []byte("abcdef")))
	h2.AddCRC32C()
	v2, err := h2.AppendTo(nil)
	require.NoError(t, err)
	var h ProxyHeader
	for _, in := range [][]byte{v1, v2} {
		_, err := ParseProxyHeader(in, &h)
		require.NoError(t, err)
		allocs := testing.AllocsPerRun(100, func() { ParseProxyHeader(in, &h) })
		require.Zero(t, allocs)
	}
	buf := make([]byte, 0, 256)
	require.Zero(t, testing.AllocsPerRun(100, func() { buf, _ = h2.AppendTo(buf[:0]) }))
}

// tcpPair returns both ends of a loopback TCP connection, closed at the
// end of the test.
func tcpPair(t testing.TB) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	client, err = net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	server, err = ln.Accept()
	require.NoError(t, err)
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}
