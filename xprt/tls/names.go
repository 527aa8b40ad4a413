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

// suite describes one crypto/tls TLS 1.0-1.2 suite with the attributes the
// OpenSSL cipher-string keywords select on.
type suite struct {
	id       uint16
	openssl  string
	kx       string // "ECDHE" or "RSA"
	auth     string // "ECDSA" or "RSA"
	enc      string // "AESGCM", "AES", "CHACHA20", "3DES", "RC4"
	bits     int
	mac      string // "AEAD", "SHA1", "SHA256", "SHA384"
	insecure bool
}

// suites lists every TLS 1.0-1.2 suite crypto/tls implements, in the
// order OpenSSL's DEFAULT would list them, with OpenSSL's names.
var suites = []suite{
	{stdtls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE", "ECDSA", "AESGCM", 256, "AEAD", false},
	{stdtls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, "ECDHE-RSA-AES256-GCM-SHA384", "ECDHE", "RSA", "AESGCM", 256, "AEAD", false},
	{stdtls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE", "ECDSA", "CHACHA20", 256, "AEAD", false},
	{stdtls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256, "ECDHE-RSA-CHACHA20-POLY1305", "ECDHE", "RSA", "CHACHA20", 256, "AEAD", false},
	{stdtls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE", "ECDSA", "AESGCM", 128, "AEAD", false},
	{stdtls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, "ECDHE-RSA-AES128-GCM-SHA256", "ECDHE", "RSA", "AESGCM", 128, "AEAD", false},
	{stdtls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256, "ECDHE-ECDSA-AES128-SHA256", "ECDHE", "ECDSA", "AES", 128, "SHA256", false},
	{stdtls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256, "ECDHE-RSA-AES128-SHA256", "ECDHE", "RSA", "AES", 128, "SHA256", false},
	{stdtls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA, "ECDHE-ECDSA-AES256-SHA", "ECDHE", "ECDSA", "AES", 256, "SHA1", false},
	{stdtls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA, "ECDHE-RSA-AES256-SHA", "ECDHE", "RSA", "AES", 256, "SHA1", false},
	{stdtls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, "ECDHE-ECDSA-AES128-SHA", "ECDHE", "ECDSA", "AES", 128, "SHA1", false},
	{stdtls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, "ECDHE-RSA-AES128-SHA", "ECDHE", "RSA", "AES", 128, "SHA1", false},
	{stdtls.TLS_RSA_WITH_AES_256_GCM_SHA384, "AES256-GCM-SHA384", "RSA", "RSA", "AESGCM", 256, "AEAD", false},
	{stdtls.TLS_RSA_WITH_AES_128_GCM_SHA256, "AES128-GCM-SHA256", "RSA", "RSA", "AESGCM", 128, "AEAD", false},
	{stdtls.TLS_RSA_WITH_AES_128_CBC_SHA256, "AES128-SHA256", "RSA", "RSA", "AES", 128, "SHA256", false},
	{stdtls.TLS_RSA_WITH_AES_256_CBC_SHA, "AES256-SHA", "RSA", "RSA", "AES", 256, "SHA1", false},
	{stdtls.TLS_RSA_WITH_AES_128_CBC_SHA, "AES128-SHA", "RSA", "RSA", "AES", 128, "SHA1", false},
	{stdtls.TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA, "ECDHE-RSA-DES-CBC3-SHA", "ECDHE", "RSA", "3DES", 112, "SHA1", true},
	{stdtls.TLS_RSA_WITH_3DES_EDE_CBC_SHA, "DES-CBC3-SHA", "RSA", "RSA", "3DES", 112, "SHA1", true},
	{stdtls.TLS_ECDHE_ECDSA_WITH_RC4_128_SHA, "ECDHE-ECDSA-RC4-SHA", "ECDHE", "ECDSA", "RC4", 128, "SHA1", true},
	{stdtls.TLS_ECDHE_RSA_WITH_RC4_128_SHA, "ECDHE-RSA-RC4-SHA", "ECDHE", "RSA", "RC4", 128, "SHA1", true},
	{stdtls.TLS_RSA_WITH_RC4_128_SHA, "RC4-SHA", "RSA", "RSA", "RC4", 128, "SHA1", true},
}

// opensslOnly are real OpenSSL suite names that crypto/tls does not
// implement (finite-field DHE, CCM, CAMELLIA, SHA384 CBC...). Common
// generated configurations list them next to the ECDHE suites, so they
// are skipped rather than refused; a list made only of them is an error.
var opensslOnly = map[string]bool{
	"DHE-RSA-AES128-GCM-SHA256": true, "DHE-RSA-AES256-GCM-SHA384": true,
	"DHE-RSA-CHACHA20-POLY1305": true, "DHE-RSA-AES128-SHA256": true,
	"DHE-RSA-AES256-SHA256": true, "DHE-RSA-AES128-SHA": true,
	"DHE-RSA-AES256-SHA": true, "DHE-DSS-AES128-GCM-SHA256": true,
	"DHE-DSS-AES256-GCM-SHA384": true, "EDH-RSA-DES-CBC3-SHA": true,
	"ECDHE-ECDSA-AES256-SHA384": true, "ECDHE-RSA-AES256-SHA384": true,
	"AES256-SHA256": true, "AES128-CCM": true, "AES256-CCM": true,
	"ECDHE-ECDSA-AES128-CCM": true, "ECDHE-ECDSA-AES256-CCM": true,
	"ECDHE-ECDSA-AES128-CCM8": true, "ECDHE-ECDSA-AES256-CCM8": true,
	"DHE-RSA-AES128-CCM": true, "DHE-RSA-AES256-CCM": true,
	"CAMELLIA128-SHA": true, "CAMELLIA256-SHA": true,
	"ECDHE-RSA-CAMELLIA128-SHA256": true, "ECDHE-ECDSA-CAMELLIA128-SHA256": true,
}

// cipherGroups maps the OpenSSL cipher-string keywords HAProxy
// configurations commonly use to predicates over the implemented suites.
// Keywords that only name things crypto/tls never offers (aNULL, MD5,
// EXPORT...) select nothing, which makes "!aNULL" a harmless no-op.
var cipherGroups = map[string]func(s suite) bool{
	"ALL":      func(suite) bool { return true },
	"DEFAULT":  func(s suite) bool { return !s.insecure },
	"HIGH":     func(s suite) bool { return s.bits >= 128 && !s.insecure },
	"MEDIUM":   func(s suite) bool { return false },
	"LOW":      func(s suite) bool { return false },
	"ECDHE":    func(s suite) bool { return s.kx == "ECDHE" },
	"EECDH":    func(s suite) bool { return s.kx == "ECDHE" },
	"kECDHE":   func(s suite) bool { return s.kx == "ECDHE" },
	"kEECDH":   func(s suite) bool { return s.kx == "ECDHE" },
	"kRSA":     func(s suite) bool { return s.kx == "RSA" },
	"RSA":      func(s suite) bool { return s.kx == "RSA" || s.auth == "RSA" },
	"aRSA":     func(s suite) bool { return s.auth == "RSA" },
	"aECDSA":   func(s suite) bool { return s.auth == "ECDSA" },
	"ECDSA":    func(s suite) bool { return s.auth == "ECDSA" },
	"AESGCM":   func(s suite) bool { return s.enc == "AESGCM" },
	"AES":      func(s suite) bool { return s.enc == "AES" || s.enc == "AESGCM" },
	"AES128":   func(s suite) bool { return (s.enc == "AES" || s.enc == "AESGCM") && s.bits == 128 },
	"AES256":   func(s suite) bool { return (s.enc == "AES" || s.enc == "AESGCM") && s.bits == 256 },
	"CHACHA20": func(s suite) bool { return s.enc == "CHACHA20" },
	"3DES":     func(s suite) bool { return s.enc == "3DES" },
	"RC4":      func(s suite) bool { return s.enc == "RC4" },
	"SHA1":     func(s suite) bool { return s.mac == "SHA1" },
	"SHA":      func(s suite) bool { return s.mac == "SHA1" },
	"SHA256":   func(s suite) bool { return s.mac == "SHA256" },
	"SHA384":   func(s suite) bool { return s.mac == "SHA384" },
}

// emptyGroups name families crypto/tls never implements.
var emptyGroups = []string{"aNULL", "eNULL", "NULL", "MD5", "EXPORT", "EXP",
	"DES", "PSK", "aPSK", "kPSK", "SRP", "kSRP", "DSS", "aDSS", "DH", "kDHE",
	"EDH", "DHE", "kEDH", "CAMELLIA", "SEED", "IDEA", "ARIA", "CCM", "CCM8",
	"ADH", "AECDH", "aDH", "kDH", "kECDH", "aECDH", "GOST", "SSLv3", "TLSv1",
	"TLSv1.2", "COMPLEMENTOFDEFAULT", "COMPLEMENTOFALL"}

func init() {
	for _, g := range emptyGroups {
		if _, ok := cipherGroups[g]; !ok {
			cipherGroups[g] = func(suite) bool { return false }
		}
	}
}

// ParseCiphers parses an OpenSSL cipher string, as written after ciphers
// or ssl-default-bind-ciphers, into crypto/tls suite IDs for TLS 1.0-1.2.
//
// Elements are separated by ':' (',' and spaces are accepted too). An
// element is a suite name in OpenSSL form (ECDHE-ECDSA-AES128-GCM-SHA256),
// a keyword such as HIGH, ECDHE, aRSA or AESGCM, or several joined by '+'
// (ECDHE+AESGCM, meaning both). A leading '!' removes the matches for
// good, '-' removes them, '+' moves them to the end. "@STRENGTH" and
// "@SECLEVEL=n" are accepted and ignored. Suites OpenSSL knows but
// crypto/tls lacks (DHE-RSA-..., CCM, CAMELLIA) are skipped. A name
// neither knows is an error, and so is a string that selects nothing.
//
// crypto/tls orders suites itself (preferring AES-GCM when the hardware has
// AES, ChaCha20 otherwise), so the order in the string is not kept.
func ParseCiphers(s string) ([]uint16, error) {
	var (
		list    []uint16
		banned  = map[uint16]bool{}
		skipped int
	)
	remove := func(id uint16) {
		for i, v := range list {
			if v == id {
				list = append(list[:i], list[i+1:]...)
				return
			}
		}
	}
	has := func(id uint16) bool {
		for _, v := range list {
			if v == id {
				return true
			}
		}
		return false
	}
	for _, el := range strings.FieldsFunc(s, func(r rune) bool { return r == ':' || r == ',' || r == ' ' }) {
		op := byte(0)
		if el[0] == '!' || el[0] == '-' || el[0] == '+' {
			op, el = el[0], el[1:]
		}
		if strings.HasPrefix(el, "@") {
			continue
		}
		if el == "" {
			return nil, fmt.Errorf("%w: empty element in cipher list %q", ErrBadValue, s)
		}
		match, known, err := selectSuites(el)
		if err != nil {
			return nil, fmt.Errorf("%w in cipher list %q", err, s)
		}
		if !known {
			skipped++
			continue
		}
		for _, id := range match {
			switch op {
			case '!':
				banned[id] = true
				remove(id)
			case '-':
				remove(id)
			case '+':
				if has(id) {
					remove(id)
					list = append(list, id)
				}
			default:
				if !banned[id] && !has(id) {
					list = append(list, id)
				}
			}
		}
	}
	if len(list) == 0 {
		if skipped > 0 {
			return nil, fmt.Errorf("%w: cipher list %q names only suites crypto/tls does not implement", ErrBadValue, s)
		}
		return nil, fmt.Errorf("%w: cipher list %q selects no cipher", ErrBadValue, s)
	}
	return list, nil
}

// selectSuites resolves one element without its operator. known is false
// for a real OpenSSL suite crypto/tls lacks.
func selectSuites(el string) (ids []uint16, known bool, err error) {
	for _, s := range suites {
		if s.openssl == el {
			return []uint16{s.id}, true, nil
		}
	}
	if opensslOnly[el] {
		return nil, false, nil
	}
	var preds []func(suite) bool
	for _, part := range strings.Split(el, "+") {
		p, ok := cipherGroups[part]
		if !ok {
			return nil, false, fmt.Errorf("%w: unknown cipher %q", ErrBadValue, el)
		}
		preds = append(preds, p)
	}
	for _, s := range suites {
		all := true
		for _, p := range preds {
			all = all && p(s)
		}
		if all {
			ids = append(ids, s.id)
		}
	}
	return ids, true, nil
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
