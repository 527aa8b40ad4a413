package tls

import (
	stdtls "crypto/tls"
	"errors"
	"fmt"
	"strings"
)

// ErrBadValue is wrapped by every keyword-value parser in this package, so
// a caller can tell a malformed value from an unreadable file.
var ErrBadValue = errors.New("tls: invalid value")

// versionNames holds the names HAProxy accepts for ssl-min-ver and
// ssl-max-ver, which are also the names ssl_fc_protocol prints.
var versionNames = []struct {
	name string
	v    uint16
}{
	{"SSLv3", versionSSL30},
	{"TLSv1.0", stdtls.VersionTLS10},
	{"TLSv1.1", stdtls.VersionTLS11},
	{"TLSv1.2", stdtls.VersionTLS12},
	{"TLSv1.3", stdtls.VersionTLS13},
}

// ParseVersion parses a protocol version as written after ssl-min-ver or
// ssl-max-ver: SSLv3, TLSv1.0, TLSv1.1, TLSv1.2 or TLSv1.3. SSLv3 parses
// (configurations carry it) but a config that enables it is refused by
// [NewInbound] and [NewOutbound], as crypto/tls does not implement it.
func ParseVersion(s string) (uint16, error) {
	for _, n := range versionNames {
		if n.name == s {
			return n.v, nil
		}
	}
	return 0, fmt.Errorf("%w: unknown TLS version %q (want SSLv3, TLSv1.0, TLSv1.1, TLSv1.2 or TLSv1.3)", ErrBadValue, s)
}

// VersionName returns the name HAProxy prints for a protocol version
// (ssl_fc_protocol, the PROXY protocol's SSL version TLV): "TLSv1.3" and so
// on. Unknown values print as their hexadecimal code.
func VersionName(v uint16) string {
	for _, n := range versionNames {
		if n.v == v {
			return n.name
		}
	}
	return fmt.Sprintf("0x%04x", v)
}

// tls13Suites are the TLS 1.3 suite names OpenSSL accepts for
// ciphersuites; implemented tells which crypto/tls can negotiate.
var tls13Suites = []struct {
	name        string
	id          uint16
	implemented bool
}{
	{"TLS_AES_128_GCM_SHA256", stdtls.TLS_AES_128_GCM_SHA256, true},
	{"TLS_AES_256_GCM_SHA384", stdtls.TLS_AES_256_GCM_SHA384, true},
	{"TLS_CHACHA20_POLY1305_SHA256", stdtls.TLS_CHACHA20_POLY1305_SHA256, true},
	{"TLS_AES_128_CCM_SHA256", 0x1304, false},
	{"TLS_AES_128_CCM_8_SHA256", 0x1305, false},
}

// ParseCipherSuites checks a TLS 1.3 suite list, as written after
// ciphersuites, and returns the IDs it names. Names are separated by ':'.
//
// crypto/tls cannot restrict TLS 1.3 suites: it always offers
// TLS_AES_128_GCM_SHA256, TLS_AES_256_GCM_SHA384 and
// TLS_CHACHA20_POLY1305_SHA256. The list is therefore only validated so
// that a typo is reported; it does not change what is negotiated.
func ParseCipherSuites(s string) ([]uint16, error) {
	var ids []uint16
	for _, el := range strings.Split(s, ":") {
		found := false
		for _, t := range tls13Suites {
			if t.name == el {
				ids, found = append(ids, t.id), true
				break
			}
		}
		if !found {
			return nil, fmt.Errorf("%w: unknown TLS 1.3 cipher suite %q in %q", ErrBadValue, el, s)
		}
	}
	return ids, nil
}

// CipherName returns the name HAProxy prints for a suite (ssl_fc_cipher,
// the PROXY protocol's SSL cipher TLV): OpenSSL's name for TLS 1.0-1.2
// suites (ECDHE-RSA-AES128-GCM-SHA256) and the RFC name for TLS 1.3 ones
// (TLS_AES_128_GCM_SHA256).
func CipherName(id uint16) string {
	for _, s := range suites {
		if s.id == id {
			return s.openssl
		}
	}
	for _, t := range tls13Suites {
		if t.id == id {
			return t.name
		}
	}
	return stdtls.CipherSuiteName(id)
}

// curveNames maps the names OpenSSL accepts in curves (and its aliases)
// to crypto/tls groups.
var curveNames = map[string]stdtls.CurveID{
	"X25519":         stdtls.X25519,
	"x25519":         stdtls.X25519,
	"P-256":          stdtls.CurveP256,
	"prime256v1":     stdtls.CurveP256,
	"secp256r1":      stdtls.CurveP256,
	"P-384":          stdtls.CurveP384,
	"secp384r1":      stdtls.CurveP384,
	"P-521":          stdtls.CurveP521,
	"secp521r1":      stdtls.CurveP521,
	"X25519MLKEM768": stdtls.X25519MLKEM768,
}

// ParseCurves parses a curves value (X25519:P-256:...) into crypto/tls
// groups, in preference order. OpenSSL's aliases prime256v1, secp256r1,
// secp384r1 and secp521r1 are accepted.
func ParseCurves(s string) ([]stdtls.CurveID, error) {
	var ids []stdtls.CurveID
	for _, el := range strings.Split(s, ":") {
		id, ok := curveNames[el]
		if !ok {
			return nil, fmt.Errorf("%w: unknown curve %q in %q (known: X25519, P-256, P-384, P-521, X25519MLKEM768)", ErrBadValue, el, s)
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// ParseALPN parses an alpn value: a comma-separated list of protocol
// names such as "h2,http/1.1". Names must be 1 to 255 bytes long.
func ParseALPN(s string) ([]string, error) {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p == "" || len(p) > 255 {
			return nil, fmt.Errorf("%w: ALPN protocol name %q in %q must be 1 to 255 bytes", ErrBadValue, p, s)
		}
		out = append(out, p)
	}
	return out, nil
}

// Verify is the certificate verification mode of the verify keyword.
type Verify uint8

// Verification modes. VerifyDefault lets the side choose: none for bind
// lines, required for server lines, as in HAProxy.
const (
	VerifyDefault Verify = iota
	VerifyNone
	VerifyOptional
	VerifyRequired
)

// String returns the keyword value for v.
func (v Verify) String() string {
	switch v {
	case VerifyNone:
		return "none"
	case VerifyOptional:
		return "optional"
	case VerifyRequired:
		return "required"
	}
	return "default"
}

// ParseVerify parses a verify value: none, optional or required.
func ParseVerify(s string) (Verify, error) {
	switch s {
	case "none":
		return VerifyNone, nil
	case "optional":
		return VerifyOptional, nil
	case "required":
		return VerifyRequired, nil
	}
	return 0, fmt.Errorf("%w: unknown verify method %q (want none, optional or required)", ErrBadValue, s)
}

// versionSSL30 is spelt out because crypto/tls deprecates its constant;
// the value is only parsed and then refused.
const versionSSL30 = 0x0300

// OpenSSLCipherName returns the name OpenSSL gives the suite of that ID
// (ssl_fc_cipherlist_str), crypto/tls's or not, and false for an ID
// OpenSSL does not know (a GREASE value, a future suite).
func OpenSSLCipherName(id uint16) (string, bool) {
	n, ok := opensslIDs[id]
	return n, ok
}
