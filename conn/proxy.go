package conn

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"net"
	"net/netip"
	"strconv"
	"unsafe"
)

// ErrProxyHeader is wrapped by every error about a PROXY protocol header
// that is malformed, oversized, truncated or too slow to arrive. A
// connection that fails this way must be closed: nothing it sent may reach
// a server.
var ErrProxyHeader = errors.New("conn: bad PROXY header")

// ErrProxyShort is returned by [ParseProxyHeader] when the bytes given are
// a valid beginning of a header but not all of it. It does not wrap
// [ErrProxyHeader], because more bytes may complete the header.
var ErrProxyShort = errors.New("conn: PROXY header incomplete")

// Sizes fixed by the PROXY protocol specification.
const (
	// MaxProxyV1Len is the longest v1 line, CRLF included.
	MaxProxyV1Len = 107
	// ProxyV2FixedLen is the length of the v2 fixed part (signature,
	// version and command, family, length).
	ProxyV2FixedLen = 16
	// MaxProxyV2Len is the longest header the v2 length field can declare.
	MaxProxyV2Len = ProxyV2FixedLen + 65535
	// DefaultMaxProxyHeaderLen bounds the header a listener accepts unless
	// configured otherwise; it is HAProxy's default buffer size, which is
	// also the most HAProxy itself can receive.
	DefaultMaxProxyHeaderLen = 16384
)

// proxyV2Sig is the 12-byte v2 signature; its NUL and CRLFs make it
// impossible to mistake for text protocols.
var proxyV2Sig = [12]byte{0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A}

var proxyV1Sig = []byte("PROXY ")

// ProxyCommand is the command of a PROXY header.
type ProxyCommand uint8

const (
	// CommandLocal means the connection was made by the proxy itself (a
	// health check, say): the receiver uses the real socket addresses.
	CommandLocal ProxyCommand = 0x0
	// CommandProxy means the connection relays a client whose addresses
	// the header carries.
	CommandProxy ProxyCommand = 0x1
)

// String returns "LOCAL" or "PROXY".
func (c ProxyCommand) String() string {
	switch c {
	case CommandLocal:
		return "LOCAL"
	case CommandProxy:
		return "PROXY"
	}
	return "command(" + strconv.Itoa(int(c)) + ")"
}

// ProxyFamily is the address family and transport of a PROXY header, with
// the values of byte 13 of a v2 header: the family in the high nibble, the
// transport in the low one.
type ProxyFamily uint8

// The families the specification defines.
const (
	FamilyUnspec     ProxyFamily = 0x00
	FamilyTCP4       ProxyFamily = 0x11
	FamilyUDP4       ProxyFamily = 0x12
	FamilyTCP6       ProxyFamily = 0x21
	FamilyUDP6       ProxyFamily = 0x22
	FamilyUnixStream ProxyFamily = 0x31
	FamilyUnixDgram  ProxyFamily = 0x32
)

// addrLen is the size of the v2 address block for the family, or -1 when
// the family byte is not one the specification defines.
func (f ProxyFamily) addrLen() int {
	if f&0x0F > 2 {
		return -1
	}
	switch f >> 4 {
	case 0:
		if f != FamilyUnspec {
			return -1
		}
		return 0
	case 1:
		return 12
	case 2:
		return 36
	case 3:
		return 216
	}
	return -1
}

// IsInet reports whether the family carries IP addresses and ports.
func (f ProxyFamily) IsInet() bool { return f>>4 == 1 || f>>4 == 2 }

// IsUnix reports whether the family carries UNIX socket paths.
func (f ProxyFamily) IsUnix() bool { return f>>4 == 3 }

// String names the family as v1 does where it can (TCP4, TCP6, UNKNOWN).
func (f ProxyFamily) String() string {
	switch f {
	case FamilyUnspec:
		return "UNKNOWN"
	case FamilyTCP4:
		return "TCP4"
	case FamilyUDP4:
		return "UDP4"
	case FamilyTCP6:
		return "TCP6"
	case FamilyUDP6:
		return "UDP6"
	case FamilyUnixStream:
		return "UNIX"
	case FamilyUnixDgram:
		return "UNIXDGRAM"
	}
	return "family(0x" + strconv.FormatUint(uint64(f), 16) + ")"
}

// ProxyHeader is one PROXY protocol header, v1 or v2, as parsed or as to
// be written.
//
// A header is reusable: [ParseProxyHeader] overwrites every field and keeps
// the TLV storage, so parsing into the same header again allocates nothing.
type ProxyHeader struct {
	// Version is 1 or 2. When writing, 0 means 2.
	Version uint8
	// Command is LOCAL or PROXY.
	Command ProxyCommand
	// Family is the address family. When writing a PROXY command with
	// Family left at FamilyUnspec, it is derived from Src and Dst.
	Family ProxyFamily
	// Src and Dst are the client and the address it connected to, for the
	// TCP and UDP families.
	Src, Dst netip.AddrPort
	// SrcPath and DstPath are the socket paths for the UNIX families.
	SrcPath, DstPath string

	// tlv holds the TLV area of a v2 header, verbatim.
	tlv []byte
}

// NewProxyHeader returns a PROXY command header relaying a client at src
// that connected to dst. The version is left at 0 so the writer (a
// [Dialer], say) picks it.
func NewProxyHeader(src, dst netip.AddrPort) *ProxyHeader {
	h := &ProxyHeader{}
	h.SetAddrs(src, dst)
	return h
}

// SetAddrs makes h a PROXY command header for src and dst, picking TCP4
// when both are IPv4 and TCP6 otherwise. With an invalid address the
// family is left unspecified, which a receiver treats as "use the real
// socket addresses".
func (h *ProxyHeader) SetAddrs(src, dst netip.AddrPort) {
	h.Command = CommandProxy
	h.Src, h.Dst = src, dst
	h.SrcPath, h.DstPath = "", ""
	h.Family = inetFamily(src, dst)
}

func inetFamily(src, dst netip.AddrPort) ProxyFamily {
	switch {
	case !src.IsValid() || !dst.IsValid():
		return FamilyUnspec
	case src.Addr().Is4() && dst.Addr().Is4():
		return FamilyTCP4
	default:
		return FamilyTCP6
	}
}

// Reset clears h, keeping its TLV storage for reuse.
func (h *ProxyHeader) Reset() {
	tlv := h.tlv[:0]
	*h = ProxyHeader{tlv: tlv}
}

// SrcAddr returns the source as a net.Addr (*net.TCPAddr, *net.UDPAddr or
// *net.UnixAddr), or nil when the header carries none.
func (h *ProxyHeader) SrcAddr() net.Addr { return h.netAddr(h.Src, h.SrcPath) }

// DstAddr returns the destination as a net.Addr, or nil when the header
// carries none.
func (h *ProxyHeader) DstAddr() net.Addr { return h.netAddr(h.Dst, h.DstPath) }

func (h *ProxyHeader) netAddr(ap netip.AddrPort, path string) net.Addr {
	if h.Command != CommandProxy {
		return nil
	}
	switch {
	case h.Family == FamilyTCP4 || h.Family == FamilyTCP6:
		return net.TCPAddrFromAddrPort(ap)
	case h.Family == FamilyUDP4 || h.Family == FamilyUDP6:
		return net.UDPAddrFromAddrPort(ap)
	case h.Family == FamilyUnixStream:
		return &net.UnixAddr{Name: path, Net: "unix"}
	case h.Family == FamilyUnixDgram:
		return &net.UnixAddr{Name: path, Net: "unixgram"}
	}
	return nil
}

// HasAddrs reports whether the header tells the addresses of a relayed
// client, as opposed to LOCAL or UNKNOWN/UNSPEC, where the receiver keeps
// the real socket addresses.
func (h *ProxyHeader) HasAddrs() bool {
	return h.Command == CommandProxy && h.Family != FamilyUnspec
}

// String renders the header for logs, such as "v2 PROXY TCP4
// 192.0.2.1:5000 -> 192.0.2.2:80 (3 TLVs)".
func (h *ProxyHeader) String() string {
	s := "v" + strconv.Itoa(int(h.Version)) + " " + h.Command.String() + " " + h.Family.String()
	switch {
	case h.Family.IsInet():
		s += " " + h.Src.String() + " -> " + h.Dst.String()
	case h.Family.IsUnix():
		s += " " + strconv.Quote(h.SrcPath) + " -> " + strconv.Quote(h.DstPath)
	}
	if n := h.countTLVs(); n > 0 {
		s += " (" + strconv.Itoa(n) + " TLVs)"
	}
	return s
}

func (h *ProxyHeader) countTLVs() int {
	n := 0
	for range h.TLVs() {
		n++
	}
	return n
}

func proxyErr(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrProxyHeader}, args...)...)
}

// ParseProxyHeader parses the header at the start of b into h and returns
// its length; the bytes after it belong to the application. It accepts v1
// and v2, both commands, every defined family, and verifies the TLVs
// (bounds, the CRC32C checksum, the SSL sub-TLVs).
//
// When b is a valid beginning of a header but not all of it, it returns
// [ErrProxyShort]; any other error wraps [ErrProxyHeader]. Garbage is
// rejected as soon as the first wrong byte is seen, so a caller never waits
// for more bytes of a header that cannot be valid.
//
// It allocates nothing once h's TLV storage has grown to fit, except for
// the paths of the UNIX families.
func ParseProxyHeader(b []byte, h *ProxyHeader) (int, error) {
	n, _, err := parseProxy(b, h, MaxProxyV2Len)
	return n, err
}

// parseProxy is ParseProxyHeader with a size limit, and when the header is
// incomplete it also returns a lower bound on its total length, so a reader
// can ask for exactly the missing bytes and never read past the header.
func parseProxy(b []byte, h *ProxyHeader, maxLen int) (n, need int, err error) {
	if len(b) == 0 {
		return 0, 15, ErrProxyShort
	}
	if b[0] == proxyV2Sig[0] {
		return parseV2(b, h, maxLen)
	}
	if b[0] == 'P' {
		return parseV1(b, h)
	}
	return 0, 0, proxyErr("neither a v1 nor a v2 signature (first byte 0x%02x)", b[0])
}

func parseV2(b []byte, h *ProxyHeader, maxLen int) (int, int, error) {
	m := min(len(b), len(proxyV2Sig))
	if !bytes.Equal(b[:m], proxyV2Sig[:m]) {
		return 0, 0, proxyErr("invalid v2 signature")
	}
	if len(b) > 12 {
		if b[12]>>4 != 2 {
			return 0, 0, proxyErr("unsupported v2 version %d", b[12]>>4)
		}
		if c := ProxyCommand(b[12] & 0x0F); c != CommandLocal && c != CommandProxy {
			return 0, 0, proxyErr("unknown v2 command 0x%x", uint8(c))
		}
	}
	if len(b) > 13 && ProxyFamily(b[13]).addrLen() < 0 {
		return 0, 0, proxyErr("unknown v2 address family 0x%02x", b[13])
	}
	if len(b) < ProxyV2FixedLen {
		return 0, ProxyV2FixedLen, ErrProxyShort
	}
	total := ProxyV2FixedLen + int(binary.BigEndian.Uint16(b[14:16]))
	if total > maxLen {
		return 0, 0, proxyErr("v2 header of %d bytes exceeds the %d-byte limit", total, maxLen)
	}
	fam := ProxyFamily(b[13])
	alen := fam.addrLen()
	if total-ProxyV2FixedLen < alen {
		return 0, 0, proxyErr("v2 %s address block needs %d bytes, header declares %d",
			fam, alen, total-ProxyV2FixedLen)
	}
	if len(b) < total {
		return 0, total, ErrProxyShort
	}
	hdr := b[:total]
	tlvs := hdr[ProxyV2FixedLen+alen:]
	if err := checkTLVs(hdr, tlvs); err != nil {
		return 0, 0, err
	}

	h.Version = 2
	h.Command = ProxyCommand(b[12] & 0x0F)
	h.Family = fam
	h.Src, h.Dst = netip.AddrPort{}, netip.AddrPort{}
	h.SrcPath, h.DstPath = "", ""
	h.tlv = append(h.tlv[:0], tlvs...)
	if h.Command == CommandLocal {
		// The receiver must use the real endpoints; the address block,
		// if any, is skipped.
		h.Family = FamilyUnspec
		return total, total, nil
	}
	a := hdr[ProxyV2FixedLen:]
	switch fam >> 4 {
	case 1:
		h.Src = netip.AddrPortFrom(netip.AddrFrom4([4]byte(a[0:4])), binary.BigEndian.Uint16(a[8:10]))
		h.Dst = netip.AddrPortFrom(netip.AddrFrom4([4]byte(a[4:8])), binary.BigEndian.Uint16(a[10:12]))
	case 2:
		h.Src = netip.AddrPortFrom(netip.AddrFrom16([16]byte(a[0:16])), binary.BigEndian.Uint16(a[32:34]))
		h.Dst = netip.AddrPortFrom(netip.AddrFrom16([16]byte(a[16:32])), binary.BigEndian.Uint16(a[34:36]))
	case 3:
		h.SrcPath = cString(a[0:108])
		h.DstPath = cString(a[108:216])
	}
	return total, total, nil
}

func cString(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// checkTLVs verifies that the TLVs tile the area exactly, that the
// well-known ones respect their limits, and that a CRC32C matches the
// header computed with the checksum field zeroed.
func checkTLVs(hdr, tlvs []byte) error {
	off := len(hdr) - len(tlvs)
	for p := 0; p < len(tlvs); {
		if len(tlvs)-p < 3 {
			return proxyErr("TLV header at offset %d truncated (%d bytes left)", off+p, len(tlvs)-p)
		}
		typ := TLVType(tlvs[p])
		l := int(binary.BigEndian.Uint16(tlvs[p+1:]))
		v := p + 3
		if l > len(tlvs)-v {
			return proxyErr("TLV 0x%02x length %d overflows header at offset %d", uint8(typ), l, off+p)
		}
		val := tlvs[v : v+l]
		switch typ {
		case TLVCRC32C:
			if l != 4 {
				return proxyErr("crc32c TLV has length %d, want 4", l)
			}
			pos := off + v
			sum := crc32.Update(0, castagnoli, hdr[:pos])
			sum = crc32.Update(sum, castagnoli, zero4[:])
			sum = crc32.Update(sum, castagnoli, hdr[pos+4:])
			if got := binary.BigEndian.Uint32(val); got != sum {
				return proxyErr("crc32c mismatch: header says %08x, computed %08x", got, sum)
			}
		case TLVAuthority:
			if l > 255 {
				return proxyErr("authority TLV of %d bytes exceeds 255", l)
			}
		case TLVUniqueID:
			if l > 128 {
				return proxyErr("unique-id TLV of %d bytes exceeds 128", l)
			}
		case TLVSSL:
			if err := checkSSL(val); err != nil {
				return err
			}
		}
		p = v + l
	}
	return nil
}

var zero4 [4]byte

func parseV1(b []byte, h *ProxyHeader) (int, int, error) {
	m := min(len(b), len(proxyV1Sig))
	if !bytes.Equal(b[:m], proxyV1Sig[:m]) {
		return 0, 0, proxyErr("invalid v1 signature")
	}
	end := -1
	limit := min(len(b), MaxProxyV1Len)
	for i := 0; i < limit; i++ {
		c := b[i]
		if c == '\r' {
			if i+1 < len(b) && b[i+1] != '\n' {
				return 0, 0, proxyErr("v1 line has a CR not followed by LF at offset %d", i)
			}
			continue
		}
		if c == '\n' {
			if i == 0 || b[i-1] != '\r' {
				return 0, 0, proxyErr("v1 line has an LF without CR at offset %d", i)
			}
			end = i + 1
			break
		}
		if c < 0x20 || c > 0x7E {
			return 0, 0, proxyErr("v1 line has a non-printable byte 0x%02x at offset %d", c, i)
		}
	}
	if end < 0 {
		if len(b) >= MaxProxyV1Len {
			return 0, 0, proxyErr("v1 line exceeds %d bytes without CRLF", MaxProxyV1Len)
		}
		// At least the CRLF is missing; when the CR is there, only the LF.
		need := len(b) + 2
		if b[len(b)-1] == '\r' {
			need = len(b) + 1
		}
		return 0, max(need, len("PROXY UNKNOWN\r\n")), ErrProxyShort
	}
	line := b[len(proxyV1Sig) : end-2]
	proto, rest, _ := bytes.Cut(line, []byte{' '})
	switch string(proto) {
	case "UNKNOWN":
		// The rest of the line, if any, must be ignored.
		h.Version, h.Command, h.Family = 1, CommandProxy, FamilyUnspec
		h.Src, h.Dst, h.SrcPath, h.DstPath = netip.AddrPort{}, netip.AddrPort{}, "", ""
		h.tlv = h.tlv[:0]
		return end, end, nil
	case "TCP4", "TCP6":
	default:
		return 0, 0, proxyErr("v1 protocol %q is not TCP4, TCP6 or UNKNOWN", proto)
	}
	var f [4][]byte
	for i := range f {
		var ok bool
		if i < 3 {
			f[i], rest, ok = bytes.Cut(rest, []byte{' '})
			if !ok {
				return 0, 0, proxyErr("v1 %s line has %d fields, want 4", proto, i+1)
			}
		} else {
			f[i] = rest
		}
	}
	v6 := proto[3] == '6'
	src, err := parseV1Addr(f[0], v6)
	if err != nil {
		return 0, 0, err
	}
	dst, err := parseV1Addr(f[1], v6)
	if err != nil {
		return 0, 0, err
	}
	sp, err := parseV1Port(f[2])
	if err != nil {
		return 0, 0, err
	}
	dp, err := parseV1Port(f[3])
	if err != nil {
		return 0, 0, err
	}
	h.Version, h.Command = 1, CommandProxy
	h.Family = FamilyTCP4
	if v6 {
		h.Family = FamilyTCP6
	}
	h.Src, h.Dst = netip.AddrPortFrom(src, sp), netip.AddrPortFrom(dst, dp)
	h.SrcPath, h.DstPath = "", ""
	h.tlv = h.tlv[:0]
	return end, end, nil
}

func parseV1Addr(b []byte, v6 bool) (netip.Addr, error) {
	if len(b) == 0 || len(b) > 45 {
		return netip.Addr{}, proxyErr("v1 address %q has a bad length", b)
	}
	for _, c := range b {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' || c == ':' || c == '.') {
			return netip.Addr{}, proxyErr("v1 address %q has a bad character", b)
		}
	}
	// The bytes hold no '%', so ParseAddr keeps no zone and retains
	// nothing of the string; viewing the bytes as a string without a copy
	// keeps parsing allocation-free.
	a, err := netip.ParseAddr(unsafe.String(&b[0], len(b)))
	if err != nil {
		return netip.Addr{}, proxyErr("v1 address %q: %v", b, err)
	}
	if a.Is4() == v6 {
		return netip.Addr{}, proxyErr("v1 address %q does not match the protocol", b)
	}
	return a, nil
}

func parseV1Port(b []byte) (uint16, error) {
	if len(b) == 0 || len(b) > 5 || (len(b) > 1 && b[0] == '0') {
		return 0, proxyErr("v1 port %q is not a decimal without leading zeros", b)
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, proxyErr("v1 port %q is not a decimal", b)
		}
		n = n*10 + int(c-'0')
	}
	if n > 65535 {
		return 0, proxyErr("v1 port %q is out of range", b)
	}
	return uint16(n), nil
}

// ErrProxyEncode is wrapped by errors about a header that cannot be
// written, such as TLVs too long for the v2 length field.
var ErrProxyEncode = errors.New("conn: cannot encode PROXY header")

// AppendTo appends the encoded header to dst. Version 0 writes v2.
//
// v1 cannot carry TLVs; they are left out. A LOCAL command or a header
// without usable addresses is written as "PROXY UNKNOWN" in v1 and with the
// UNSPEC family in v2. An IPv4 address paired with an IPv6 one is written
// IPv4-mapped, as HAProxy does. When the TLVs hold a CRC32C TLV (see
// [ProxyHeader.AddCRC32C]), its checksum is computed over the result.
func (h *ProxyHeader) AppendTo(dst []byte) ([]byte, error) {
	if h.Version == 1 {
		return h.appendV1(dst), nil
	}
	if h.Version != 0 && h.Version != 2 {
		return dst, fmt.Errorf("%w: version %d", ErrProxyEncode, h.Version)
	}
	return h.appendV2(dst)
}

// Len returns the encoded length of the header.
func (h *ProxyHeader) Len() int {
	if h.Version == 1 {
		var b [MaxProxyV1Len]byte
		return len(h.appendV1(b[:0]))
	}
	fam, _ := h.v2Family()
	return ProxyV2FixedLen + max(fam.addrLen(), 0) + len(h.tlv)
}

// WriteTo writes the encoded header to w in one Write.
func (h *ProxyHeader) WriteTo(w io.Writer) (int64, error) {
	var stack [256]byte
	b, err := h.AppendTo(stack[:0])
	if err != nil {
		return 0, err
	}
	n, err := w.Write(b)
	return int64(n), err
}

func (h *ProxyHeader) appendV1(dst []byte) []byte {
	fam := h.Family
	if fam == FamilyUnspec && h.Command == CommandProxy {
		fam = inetFamily(h.Src, h.Dst)
	}
	if h.Command != CommandProxy || (fam != FamilyTCP4 && fam != FamilyTCP6) ||
		!h.Src.IsValid() || !h.Dst.IsValid() {
		return append(dst, "PROXY UNKNOWN\r\n"...)
	}
	src, dst4 := h.Src.Addr(), h.Dst.Addr()
	if src.Is4() && dst4.Is4() {
		dst = append(dst, "PROXY TCP4 "...)
	} else {
		dst = append(dst, "PROXY TCP6 "...)
		src, dst4 = as6(src), as6(dst4)
	}
	dst = src.AppendTo(dst)
	dst = append(dst, ' ')
	dst = dst4.AppendTo(dst)
	dst = append(dst, ' ')
	dst = strconv.AppendUint(dst, uint64(h.Src.Port()), 10)
	dst = append(dst, ' ')
	dst = strconv.AppendUint(dst, uint64(h.Dst.Port()), 10)
	return append(dst, "\r\n"...)
}

func as6(a netip.Addr) netip.Addr {
	if a.Is4() {
		return netip.AddrFrom16(a.As16())
	}
	return a.WithZone("")
}

// v2Family is the family byte the header is written with.
func (h *ProxyHeader) v2Family() (ProxyFamily, error) {
	if h.Command != CommandProxy {
		return FamilyUnspec, nil
	}
	fam := h.Family
	if fam == FamilyUnspec {
		return inetFamily(h.Src, h.Dst), nil
	}
	if fam.addrLen() < 0 {
		return 0, fmt.Errorf("%w: unknown family 0x%02x", ErrProxyEncode, uint8(fam))
	}
	if fam.IsInet() && (!h.Src.IsValid() || !h.Dst.IsValid()) {
		return FamilyUnspec, nil
	}
	if fam>>4 == 1 && !(h.Src.Addr().Is4() && h.Dst.Addr().Is4()) {
		fam = 0x20 | fam&0x0F // mixed families go out IPv4-mapped
	}
	return fam, nil
}

func (h *ProxyHeader) appendV2(dst []byte) ([]byte, error) {
	fam, err := h.v2Family()
	if err != nil {
		return dst, err
	}
	if fam.IsUnix() && (len(h.SrcPath) > 108 || len(h.DstPath) > 108) {
		return dst, fmt.Errorf("%w: UNIX path longer than 108 bytes", ErrProxyEncode)
	}
	body := fam.addrLen() + len(h.tlv)
	if body > 65535 {
		return dst, fmt.Errorf("%w: %d bytes of addresses and TLVs exceed 65535", ErrProxyEncode, body)
	}
	start := len(dst)
	dst = append(dst, proxyV2Sig[:]...)
	dst = append(dst, 0x20|byte(h.Command&0x0F), byte(fam))
	dst = binary.BigEndian.AppendUint16(dst, uint16(body))
	switch fam >> 4 {
	case 1:
		s, d := h.Src.Addr().As4(), h.Dst.Addr().As4()
		dst = append(dst, s[:]...)
		dst = append(dst, d[:]...)
		dst = binary.BigEndian.AppendUint16(dst, h.Src.Port())
		dst = binary.BigEndian.AppendUint16(dst, h.Dst.Port())
	case 2:
		s, d := h.Src.Addr().As16(), h.Dst.Addr().As16()
		dst = append(dst, s[:]...)
		dst = append(dst, d[:]...)
		dst = binary.BigEndian.AppendUint16(dst, h.Src.Port())
		dst = binary.BigEndian.AppendUint16(dst, h.Dst.Port())
	case 3:
		dst = appendPadded(dst, h.SrcPath, 108)
		dst = appendPadded(dst, h.DstPath, 108)
	}
	tlvStart := len(dst)
	dst = append(dst, h.tlv...)
	if pos := findTLV(dst[tlvStart:], TLVCRC32C); pos >= 0 {
		p := tlvStart + pos
		if p+4 > len(dst) {
			return dst[:start], fmt.Errorf("%w: crc32c TLV shorter than 4 bytes", ErrProxyEncode)
		}
		clear(dst[p : p+4])
		binary.BigEndian.PutUint32(dst[p:], crc32.Checksum(dst[start:], castagnoli))
	}
	return dst, nil
}

func appendPadded(dst []byte, s string, n int) []byte {
	dst = append(dst, s...)
	for range n - len(s) {
		dst = append(dst, 0)
	}
	return dst
}

// findTLV returns the offset of the value of the first TLV of type t in a
// TLV area, or -1.
func findTLV(area []byte, t TLVType) int {
	for p := 0; p+3 <= len(area); {
		l := int(binary.BigEndian.Uint16(area[p+1:]))
		if TLVType(area[p]) == t {
			return p + 3
		}
		p += 3 + l
	}
	return -1
}
