package conn

import (
	"encoding/binary"
	"fmt"
	"iter"
)

// TLVType is the type byte of a PROXY v2 TLV.
type TLVType uint8

// TLV types the specification defines. 0xE0–0xEF are left to
// applications, 0xF0–0xF7 to experiments.
const (
	TLVALPN      TLVType = 0x01 // the negotiated ALPN protocol
	TLVAuthority TLVType = 0x02 // the host name the client asked for (SNI), UTF-8
	TLVCRC32C    TLVType = 0x03 // CRC32C of the whole header, this field zeroed
	TLVNoop      TLVType = 0x04 // padding
	TLVUniqueID  TLVType = 0x05 // an opaque connection id, up to 128 bytes
	TLVSSL       TLVType = 0x20 // TLS facts of the client connection, with sub-TLVs
	TLVNetNS     TLVType = 0x30 // the network namespace name

	// Sub-TLVs of TLVSSL.
	TLVSSLVersion TLVType = 0x21 // "TLSv1.3" and so on
	TLVSSLCN      TLVType = 0x22 // client certificate Common Name
	TLVSSLCipher  TLVType = 0x23 // cipher name
	TLVSSLSigAlg  TLVType = 0x24 // signature algorithm of the frontend certificate
	TLVSSLKeyAlg  TLVType = 0x25 // key algorithm of the frontend certificate
)

// Bits of SSLInfo.Client.
const (
	SSLClientSSL      = 0x01 // the client connected over TLS
	SSLClientCertConn = 0x02 // the client sent a certificate on this connection
	SSLClientCertSess = 0x04 // the client sent a certificate on this TLS session
)

// SSLInfo is the value of the SSL TLV: how the client's TLS connection
// went, for a server behind a TLS-terminating proxy.
type SSLInfo struct {
	// Client holds the SSLClient* bits.
	Client uint8
	// Verify is 0 when the client certificate was presented and verified,
	// non-zero otherwise.
	Verify uint32
	// Version, CN, Cipher, SigAlg and KeyAlg are the sub-TLVs of the same
	// names; empty ones are not written.
	Version, CN, Cipher, SigAlg, KeyAlg string
}

// TLVs iterates over the header's TLVs in wire order, NOOP padding
// included. The values alias the header's storage and are valid until the
// header is parsed into or reset again.
func (h *ProxyHeader) TLVs() iter.Seq2[TLVType, []byte] {
	return func(yield func(TLVType, []byte) bool) {
		eachTLV(h.tlv, yield)
	}
}

// eachTLV walks a TLV area already checked by checkTLVs or built by
// AddTLV; a malformed tail simply ends the walk.
func eachTLV(area []byte, yield func(TLVType, []byte) bool) {
	for p := 0; p+3 <= len(area); {
		l := int(binary.BigEndian.Uint16(area[p+1:]))
		if p+3+l > len(area) {
			return
		}
		if !yield(TLVType(area[p]), area[p+3:p+3+l]) {
			return
		}
		p += 3 + l
	}
}

// TLV returns the value of the first TLV of type t. The value aliases the
// header's storage.
func (h *ProxyHeader) TLV(t TLVType) ([]byte, bool) {
	var val []byte
	found := false
	eachTLV(h.tlv, func(typ TLVType, v []byte) bool {
		if typ == t {
			val, found = v, true
			return false
		}
		return true
	})
	return val, found
}

// RawTLVs returns the TLV area as it appears on the wire.
func (h *ProxyHeader) RawTLVs() []byte { return h.tlv }

// Authority returns the AUTHORITY TLV (the host name the client asked
// for), or "".
func (h *ProxyHeader) Authority() string {
	v, _ := h.TLV(TLVAuthority)
	return string(v)
}

// UniqueID returns the UNIQUE_ID TLV, or nil.
func (h *ProxyHeader) UniqueID() []byte {
	v, _ := h.TLV(TLVUniqueID)
	return v
}

// ALPN returns the ALPN TLV, or "".
func (h *ProxyHeader) ALPN() string {
	v, _ := h.TLV(TLVALPN)
	return string(v)
}

// NetNS returns the NETNS TLV, or "".
func (h *ProxyHeader) NetNS() string {
	v, _ := h.TLV(TLVNetNS)
	return string(v)
}

// HasCRC32C reports whether the header carries a CRC32C TLV. On a parsed
// header its checksum has been verified.
func (h *ProxyHeader) HasCRC32C() bool {
	_, ok := h.TLV(TLVCRC32C)
	return ok
}

// SSL returns the decoded SSL TLV.
func (h *ProxyHeader) SSL() (SSLInfo, bool) {
	v, ok := h.TLV(TLVSSL)
	if !ok || len(v) < 5 {
		return SSLInfo{}, false
	}
	s := SSLInfo{Client: v[0], Verify: binary.BigEndian.Uint32(v[1:5])}
	eachTLV(v[5:], func(t TLVType, sv []byte) bool {
		switch t {
		case TLVSSLVersion:
			s.Version = string(sv)
		case TLVSSLCN:
			s.CN = string(sv)
		case TLVSSLCipher:
			s.Cipher = string(sv)
		case TLVSSLSigAlg:
			s.SigAlg = string(sv)
		case TLVSSLKeyAlg:
			s.KeyAlg = string(sv)
		}
		return true
	})
	return s, true
}

func checkSSL(v []byte) error {
	if len(v) < 5 {
		return proxyErr("SSL TLV of %d bytes is shorter than its 5-byte head", len(v))
	}
	sub := v[5:]
	for p := 0; p < len(sub); {
		if len(sub)-p < 3 {
			return proxyErr("SSL sub-TLV header truncated (%d bytes left)", len(sub)-p)
		}
		l := int(binary.BigEndian.Uint16(sub[p+1:]))
		if l > len(sub)-p-3 {
			return proxyErr("SSL sub-TLV 0x%02x length %d overflows the SSL TLV", sub[p], l)
		}
		p += 3 + l
	}
	return nil
}

// AddTLV appends a TLV to the header; v2 headers carry them, v1 headers
// cannot. It fails when the value does not fit the 16-bit length or the
// well-known type's limit.
func (h *ProxyHeader) AddTLV(t TLVType, value []byte) error {
	if err := checkTLVValue(t, len(value)); err != nil {
		return err
	}
	h.tlv = append(h.tlv, byte(t), byte(len(value)>>8), byte(len(value)))
	h.tlv = append(h.tlv, value...)
	return nil
}

func checkTLVValue(t TLVType, n int) error {
	limit := 65535 - 3
	switch t {
	case TLVAuthority:
		limit = 255
	case TLVUniqueID:
		limit = 128
	case TLVCRC32C:
		if n != 4 {
			return fmt.Errorf("%w: crc32c TLV must be 4 bytes, got %d", ErrProxyEncode, n)
		}
	}
	if n > limit {
		return fmt.Errorf("%w: TLV 0x%02x of %d bytes exceeds %d", ErrProxyEncode, uint8(t), n, limit)
	}
	return nil
}

// AddCRC32C asks for a CRC32C TLV; the checksum is computed when the
// header is encoded. Adding it twice has no further effect.
func (h *ProxyHeader) AddCRC32C() {
	if findTLV(h.tlv, TLVCRC32C) < 0 {
		h.tlv = append(h.tlv, byte(TLVCRC32C), 0, 4, 0, 0, 0, 0)
	}
}

// AddSSL appends an SSL TLV with the sub-TLVs that are not empty.
func (h *ProxyHeader) AddSSL(s SSLInfo) error {
	v := make([]byte, 5, 64)
	v[0] = s.Client
	binary.BigEndian.PutUint32(v[1:], s.Verify)
	for _, sub := range [...]struct {
		t TLVType
		s string
	}{{TLVSSLVersion, s.Version}, {TLVSSLCN, s.CN}, {TLVSSLCipher, s.Cipher}, {TLVSSLSigAlg, s.SigAlg}, {TLVSSLKeyAlg, s.KeyAlg}} {
		if sub.s == "" {
			continue
		}
		if len(sub.s) > 65535 {
			return fmt.Errorf("%w: SSL sub-TLV 0x%02x too long", ErrProxyEncode, uint8(sub.t))
		}
		v = append(v, byte(sub.t), byte(len(sub.s)>>8), byte(len(sub.s)))
		v = append(v, sub.s...)
	}
	return h.AddTLV(TLVSSL, v)
}

// ClearTLVs removes every TLV, keeping the storage.
func (h *ProxyHeader) ClearTLVs() { h.tlv = h.tlv[:0] }
