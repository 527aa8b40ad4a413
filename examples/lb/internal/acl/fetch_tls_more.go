package acl

import (
	"crypto/sha1"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf16"

	stdtls "crypto/tls"

	"github.com/proxyblocks/proxyblocks/xprt"
	"github.com/proxyblocks/proxyblocks/xprt/tls"
)

// The certificate fetches of both sides: ssl_c_* read the certificate
// the client presented, ssl_s_* the one the server presented to the
// balancer, ssl_f_* the frontend's own; the subject and issuer names (ssl_c_s_dn, ssl_c_i_dn with
// their entry, occurrence and format arguments), the DER encoding, the
// serial, the SHA-1 fingerprint, the validity dates, the algorithms and
// the version, as HAProxy gives them. Then the server connection's TLS
// state (ssl_bc_*), the key sizes of the negotiated ciphers, and
// ssl_fc_has_sni and ssl_fc_has_crt.
//
// What only OpenSSL keeps is refused with an error saying so: crypto/tls
// does not give it to the balancer.

func init() {
	front := func(c Context) (xprt.Info, bool) {
		tc, ok := c.(TLSContext)
		if !ok {
			return xprt.Info{}, false
		}
		return tc.TLSInfo(), true
	}
	back := func(c Context) (xprt.Info, bool) {
		cc, ok := c.(ConnContext)
		if !ok {
			return xprt.Info{}, false
		}
		bc, _ := cc.BackConn()
		if bc == nil || bc.Transport() == nil {
			return xprt.Info{}, false
		}
		return bc.Transport().Info(), true
	}
	peer := func(get func(Context) (xprt.Info, bool)) func(Context) *x509.Certificate {
		return func(c Context) *x509.Certificate {
			i, ok := get(c)
			if !ok || !i.TLS || len(i.PeerCertificates) == 0 {
				return nil
			}
			return i.PeerCertificates[0]
		}
	}
	registerCertFetches("ssl_c_", peer(front))
	registerCertFetches("ssl_s_", peer(back))
	// ssl_f_*: the certificate the frontend presented to the client.
	registerCertFetches("ssl_f_", func(c Context) *x509.Certificate {
		i, ok := front(c)
		if !ok || !i.TLS {
			return nil
		}
		return i.LocalCertificate
	})

	// ssl_bc: whether the server connection is TLS (false without one,
	// as HAProxy's); the rest have no sample on a plain one.
	RegisterFetch(Fetch{Name: "ssl_bc", Type: TypeBool, Compile: noArg(func(c Context) (Sample, bool) {
		i, _ := back(c)
		return Bool(i.TLS), true
	})})
	str := func(s string, ok bool) (Sample, bool) { return Str(s), ok && s != "" }
	side := func(name string, get func(Context) (xprt.Info, bool), t Type, fn func(i xprt.Info) (Sample, bool)) {
		RegisterFetch(Fetch{Name: name, Type: t, Compile: noArg(func(c Context) (Sample, bool) {
			i, ok := get(c)
			if !ok || !i.TLS {
				return Sample{}, false
			}
			return fn(i)
		})})
	}
	side("ssl_bc_protocol", back, TypeStr, func(i xprt.Info) (Sample, bool) { return str(tls.VersionName(i.Version), true) })
	side("ssl_bc_cipher", back, TypeStr, func(i xprt.Info) (Sample, bool) { return str(tls.CipherName(i.CipherSuite), true) })
	side("ssl_bc_alpn", back, TypeStr, func(i xprt.Info) (Sample, bool) { return str(i.ALPN, true) })
	side("ssl_bc_is_resumed", back, TypeBool, func(i xprt.Info) (Sample, bool) { return Bool(i.Resumed), true })
	for _, s := range []struct {
		prefix string
		get    func(Context) (xprt.Info, bool)
	}{{"ssl_fc_", front}, {"ssl_bc_", back}} {
		side(s.prefix+"alg_keysize", s.get, TypeInt, func(i xprt.Info) (Sample, bool) {
			alg, _, ok := cipherBits(i.CipherSuite)
			return Int(int64(alg)), ok
		})
		side(s.prefix+"use_keysize", s.get, TypeInt, func(i xprt.Info) (Sample, bool) {
			_, use, ok := cipherBits(i.CipherSuite)
			return Int(int64(use)), ok
		})
	}
	side("ssl_fc_has_sni", front, TypeBool, func(i xprt.Info) (Sample, bool) { return Bool(i.ServerName != ""), true })
	// ssl_fc_has_crt: a certificate came on this connection; a resumed
	// session keeps the one of the first, which OpenSSL does not count.
	side("ssl_fc_has_crt", front, TypeBool, func(i xprt.Info) (Sample, bool) {
		return Bool(len(i.PeerCertificates) > 0 && !i.Resumed), true
	})

	// ssl_c_err, ssl_c_ca_err and ssl_c_ca_err_depth: a handshake with
	// a verification error fails, as no crt-ignore-err or ca-ignore-err
	// can let one through, so an established connection has none (0);
	// an unverified certificate (verify none) has no number.
	for _, name := range []string{"ssl_c_err", "ssl_c_ca_err", "ssl_c_ca_err_depth"} {
		side(name, front, TypeInt, func(i xprt.Info) (Sample, bool) {
			return Int(0), len(i.PeerCertificates) == 0 || i.Verified
		})
	}
	// ssl_c_chain_der: the certificates the client sent after its own,
	// end to end, none on a resumed session (as OpenSSL keeps no chain
	// there); ssl_s_chain_der: the server's whole chain.
	side("ssl_c_chain_der", front, TypeStr, func(i xprt.Info) (Sample, bool) {
		if len(i.PeerCertificates) == 0 || i.Resumed {
			return Sample{}, false
		}
		return Str(chainDER(i.PeerCertificates[1:])), true
	})
	side("ssl_s_chain_der", back, TypeStr, func(i xprt.Info) (Sample, bool) {
		if len(i.PeerCertificates) == 0 {
			return Sample{}, false
		}
		return Str(chainDER(i.PeerCertificates)), true
	})
	// ssl_fc_unique_id, ssl_bc_unique_id: tls-unique, the first
	// Finished message, which TLS 1.3 does not define (crypto/tls gives
	// none there, so neither does lb).
	for _, s := range []struct {
		prefix string
		get    func(Context) (xprt.Info, bool)
	}{{"ssl_fc_", front}, {"ssl_bc_", back}} {
		side(s.prefix+"unique_id", s.get, TypeStr, func(i xprt.Info) (Sample, bool) {
			return Str(string(i.TLSUnique)), len(i.TLSUnique) > 0
		})
		// NPN, which crypto/tls does not implement: never negotiated.
		side(s.prefix+"npn", s.get, TypeStr, func(xprt.Info) (Sample, bool) { return Sample{}, false })
	}
	// ssl_fc_has_early: crypto/tls accepts no early data.
	side("ssl_fc_has_early", front, TypeBool, func(xprt.Info) (Sample, bool) { return Bool(false), true })
	for _, name := range []string{"ssl_c_chain_der", "ssl_s_chain_der", "ssl_fc_unique_id", "ssl_bc_unique_id"} {
		f := registry.fetches[name]
		f.Match = MatchRequired
		registry.fetches[name] = f
	}

}

// ErrUnsupportedFetch means a fetch HAProxy has cannot be served by lb;
// the error says why.
var ErrUnsupportedFetch = errors.New("unsupported fetch method")

// unknownFetch is the error for a fetch name no fetch is registered
// under: one of unavailableTLSFetches says why lb lacks it.
func unknownFetch(name string) error {
	if why, ok := unavailableTLSFetches[name]; ok {
		return fmt.Errorf("%w: '%s' (%s)", ErrUnsupportedFetch, name, why)
	}
	if why, ok := unavailableFetches[name]; ok {
		return fmt.Errorf("%w: '%s' (%s)", ErrUnsupportedFetch, name, why)
	}
	return fmt.Errorf("%w: '%s'", ErrUnknownFetch, name)
}

// unavailableTLSFetches are HAProxy's TLS fetches whose values crypto/tls
// keeps to itself, with the reason a configuration naming one is refused.
var unavailableTLSFetches = map[string]string{
	"ssl_fc_protocol_hello_id": "lb does not capture the ClientHello (tune.ssl.capture-buffer-size)",
	"ssl_fc_cipherlist_bin":    "lb does not capture the ClientHello (tune.ssl.capture-buffer-size)",
	"ssl_fc_cipherlist_hex":    "lb does not capture the ClientHello (tune.ssl.capture-buffer-size)",
	"ssl_fc_cipherlist_str":    "lb does not capture the ClientHello (tune.ssl.capture-buffer-size)",
	"ssl_fc_cipherlist_xxh":    "lb does not capture the ClientHello (tune.ssl.capture-buffer-size)",
	"ssl_fc_eclist_bin":        "lb does not capture the ClientHello (tune.ssl.capture-buffer-size)",
	"ssl_fc_ecformats_bin":     "lb does not capture the ClientHello (tune.ssl.capture-buffer-size)",
	"ssl_fc_extlist_bin":       "lb does not capture the ClientHello (tune.ssl.capture-buffer-size)",
}

// chainDER is the DER encodings of certs, end to end.
func chainDER(certs []*x509.Certificate) string {
	n := 0
	for _, c := range certs {
		n += len(c.Raw)
	}
	b := make([]byte, 0, n)
	for _, c := range certs {
		b = append(b, c.Raw...)
	}
	return string(b)
}

// cipherBits returns the secret bits of a cipher suite's bulk cipher
// and the bits of strength it gives, as OpenSSL's SSL_CIPHER_get_bits
// (ssl_fc_alg_keysize, ssl_fc_use_keysize).
func cipherBits(id uint16) (alg, use int, ok bool) {
	name := stdtls.CipherSuiteName(id)
	switch {
	case strings.Contains(name, "_AES_128_"):
		return 128, 128, true
	case strings.Contains(name, "_AES_256_"), strings.Contains(name, "CHACHA20"):
		return 256, 256, true
	case strings.Contains(name, "3DES_EDE"):
		return 168, 112, true
	case strings.Contains(name, "RC4_128"):
		return 128, 128, true
	}
	return 0, 0, false
}

// registerCertFetches registers the certificate fetches of one
// certificate, named prefix+"s_dn" and so on, which leaf returns (nil:
// no sample).
func registerCertFetches(prefix string, leaf func(Context) *x509.Certificate) {
	cert := func(name string, t Type, match string, fn func(*x509.Certificate) (Sample, bool)) {
		RegisterFetch(Fetch{Name: prefix + name, Type: t, Match: match, Compile: noArg(func(c Context) (Sample, bool) {
			crt := leaf(c)
			if crt == nil {
				return Sample{}, false
			}
			return fn(crt)
		})})
	}
	for _, dn := range []struct {
		name string
		raw  func(*x509.Certificate) []byte
	}{
		{"s_dn", func(c *x509.Certificate) []byte { return c.RawSubject }},
		{"i_dn", func(c *x509.Certificate) []byte { return c.RawIssuer }},
	} {
		RegisterFetch(Fetch{Name: prefix + dn.name, Type: TypeStr, Arg: ArgOptional, Compile: func(arg string) (FetchFunc, error) {
			a, err := parseDNArgs(arg)
			if err != nil {
				return nil, err
			}
			return func(c Context) (Sample, bool) {
				crt := leaf(c)
				if crt == nil {
					return Sample{}, false
				}
				var rdns []rawRDNSET
				if rest, err := asn1.Unmarshal(dn.raw(crt), &rdns); err != nil || len(rest) > 0 {
					return Sample{}, false
				}
				var s string
				switch {
				case a.entry != "":
					v, ok := dnEntry(rdns, a.entry, a.occ)
					if !ok {
						return Sample{}, false
					}
					s = v
				case a.rfc2253:
					s = dnRFC2253(rdns)
				default:
					s = dnOneline(rdns)
				}
				return Str(s), s != ""
			}, nil
		}})
	}
	// The binary fetches: an ACL names its match method, as in HAProxy.
	cert("der", TypeStr, MatchRequired, func(c *x509.Certificate) (Sample, bool) { return Str(string(c.Raw)), true })
	cert("serial", TypeStr, MatchRequired, func(c *x509.Certificate) (Sample, bool) {
		return Str(string(c.SerialNumber.Bytes())), true
	})
	cert("sha1", TypeStr, MatchRequired, func(c *x509.Certificate) (Sample, bool) {
		sum := sha1.Sum(c.Raw)
		return Str(string(sum[:])), true
	})
	// The dates as the certificate writes them, YYMMDDhhmmssZ, a
	// GeneralizedTime losing its century ("20"); other centuries have
	// no sample.
	date := func(c *x509.Certificate, after bool) (Sample, bool) {
		t := c.NotBefore
		if after {
			t = c.NotAfter
		}
		t = t.UTC()
		if t.Year() < 1950 || t.Year() > 2099 {
			return Sample{}, false
		}
		return Str(t.Format("060102150405Z")), true
	}
	cert("notbefore", TypeStr, "", func(c *x509.Certificate) (Sample, bool) { return date(c, false) })
	cert("notafter", TypeStr, "", func(c *x509.Certificate) (Sample, bool) { return date(c, true) })
	cert("version", TypeInt, "", func(c *x509.Certificate) (Sample, bool) { return Int(int64(c.Version)), true })
	cert("sig_alg", TypeStr, "", func(c *x509.Certificate) (Sample, bool) {
		s, ok := sigAlgNames[c.SignatureAlgorithm]
		return Str(s), ok
	})
	cert("key_alg", TypeStr, "", func(c *x509.Certificate) (Sample, bool) {
		s, ok := keyAlgNames[c.PublicKeyAlgorithm]
		return Str(s), ok
	})
}

// sigAlgNames and keyAlgNames are OpenSSL's short names of the
// algorithms, which HAProxy prints.
var (
	sigAlgNames = map[x509.SignatureAlgorithm]string{
		x509.MD5WithRSA:       "RSA-MD5",
		x509.SHA1WithRSA:      "RSA-SHA1",
		x509.SHA256WithRSA:    "RSA-SHA256",
		x509.SHA384WithRSA:    "RSA-SHA384",
		x509.SHA512WithRSA:    "RSA-SHA512",
		x509.SHA256WithRSAPSS: "RSASSA-PSS",
		x509.SHA384WithRSAPSS: "RSASSA-PSS",
		x509.SHA512WithRSAPSS: "RSASSA-PSS",
		x509.DSAWithSHA1:      "DSA-SHA1",
		x509.DSAWithSHA256:    "dsa_with_SHA256",
		x509.ECDSAWithSHA1:    "ecdsa-with-SHA1",
		x509.ECDSAWithSHA256:  "ecdsa-with-SHA256",
		x509.ECDSAWithSHA384:  "ecdsa-with-SHA384",
		x509.ECDSAWithSHA512:  "ecdsa-with-SHA512",
		x509.PureEd25519:      "ED25519",
	}
	keyAlgNames = map[x509.PublicKeyAlgorithm]string{
		x509.RSA:     "rsaEncryption",
		x509.DSA:     "DSA",
		x509.ECDSA:   "id-ecPublicKey",
		x509.Ed25519: "ED25519",
	}
)

// dnArgs are the arguments of the DN fetches: "[ENTRY[,OCC[,FORMAT]]]".
type dnArgs struct {
	entry   string
	occ     int
	rfc2253 bool
}

func parseDNArgs(arg string) (dnArgs, error) {
	a := dnArgs{occ: 1}
	if arg == "" {
		return a, nil
	}
	parts := strings.Split(arg, ",")
	if len(parts) > 3 {
		return a, fmt.Errorf("%w: too many arguments in '%s' (expects [entry[,occ[,format]]])", ErrSyntax, arg)
	}
	a.entry = strings.TrimSpace(parts[0])
	if len(parts) > 1 {
		o := strings.TrimSpace(parts[1])
		n, err := strconv.Atoi(o)
		if err != nil {
			return a, fmt.Errorf("%w: failed to parse '%s' as type 'integer' in '%s'", ErrSyntax, o, arg)
		}
		a.occ = n
	}
	if len(parts) > 2 {
		switch f := strings.TrimSpace(parts[2]); f {
		case "":
		case "rfc2253":
			a.rfc2253 = true
		default:
			return a, fmt.Errorf("%w: only rfc2253 or a blank value are currently supported as the format argument (got '%s')", ErrSyntax, f)
		}
	}
	return a, nil
}

// rawRDNSET is one relative distinguished name, its values as encoded
// (the SET suffix makes encoding/asn1 read a SET OF).
type rawRDNSET []rawATV

// rawATV is one attribute of a name.
type rawATV struct {
	Type  asn1.ObjectIdentifier
	Value asn1.RawValue
}

// dnShortNames are OpenSSL's short names of the attribute types.
var dnShortNames = map[string]string{
	"2.5.4.3": "CN", "2.5.4.4": "SN", "2.5.4.5": "serialNumber", "2.5.4.6": "C",
	"2.5.4.7": "L", "2.5.4.8": "ST", "2.5.4.9": "street", "2.5.4.10": "O",
	"2.5.4.11": "OU", "2.5.4.12": "title", "2.5.4.13": "description",
	"2.5.4.15": "businessCategory", "2.5.4.16": "postalAddress", "2.5.4.17": "postalCode",
	"2.5.4.18": "postOfficeBox", "2.5.4.41": "name", "2.5.4.42": "GN",
	"2.5.4.43": "initials", "2.5.4.44": "generationQualifier", "2.5.4.46": "dnQualifier",
	"2.5.4.65": "pseudonym", "2.5.4.97": "organizationIdentifier",
	"1.2.840.113549.1.9.1": "emailAddress", "1.2.840.113549.1.9.2": "unstructuredName",
	"0.9.2342.19200300.100.1.25": "DC", "0.9.2342.19200300.100.1.1": "UID",
	"1.3.6.1.4.1.311.60.2.1.1": "jurisdictionL", "1.3.6.1.4.1.311.60.2.1.2": "jurisdictionST",
	"1.3.6.1.4.1.311.60.2.1.3": "jurisdictionC",
}

// attrName returns the short name of an attribute type, its dotted
// number when OpenSSL has none (known false).
func attrName(t asn1.ObjectIdentifier) (name string, known bool) {
	s := t.String()
	if n, ok := dnShortNames[s]; ok {
		return n, true
	}
	return s, false
}

// attrUTF8 returns a value as UTF-8: a BMPString's UTF-16 converted, the
// other strings as they are.
func attrUTF8(v asn1.RawValue) []byte {
	if v.Tag != asn1.TagBMPString || len(v.Bytes)%2 != 0 {
		return v.Bytes
	}
	u := make([]uint16, len(v.Bytes)/2)
	for i := range u {
		u[i] = uint16(v.Bytes[2*i])<<8 | uint16(v.Bytes[2*i+1])
	}
	return []byte(string(utf16.Decode(u)))
}

// dnEntry returns the value of the occ-th attribute named entry (OCC
// negative: counting from the last), as HAProxy's ssl_c_s_dn(CN) does:
// the bytes as encoded.
func dnEntry(rdns []rawRDNSET, entry string, occ int) (string, bool) {
	var flat []rawATV
	for _, rdn := range rdns {
		flat = append(flat, rdn...)
	}
	cur := 0
	for i := range flat {
		j := i
		if occ < 0 {
			j = len(flat) - 1 - i
		}
		if n, _ := attrName(flat[j].Type); !strings.EqualFold(n, entry) {
			continue
		}
		if occ < 0 {
			cur--
		} else {
			cur++
		}
		if cur == occ {
			return string(flat[j].Value.Bytes), true
		}
	}
	return "", false
}

// dnOneline writes a name as OpenSSL's X509_NAME_oneline does, HAProxy's
// default: "/C=FR/O=Example/CN=www", bytes outside printable ASCII as
// \xHH.
func dnOneline(rdns []rawRDNSET) string {
	var b strings.Builder
	for _, rdn := range rdns {
		for _, atv := range rdn {
			n, _ := attrName(atv.Type)
			b.WriteByte('/')
			b.WriteString(n)
			b.WriteByte('=')
			for _, c := range atv.Value.Bytes {
				if c < ' ' || c > '~' {
					fmt.Fprintf(&b, "\\x%02X", c)
					continue
				}
				b.WriteByte(c)
			}
		}
	}
	return b.String()
}

// dnRFC2253 writes a name as OpenSSL's RFC 2253 printer does: the last
// RDN first, "," between RDNs and "+" within one, the special characters
// and bytes outside ASCII escaped, a type OpenSSL does not name dumped as
// "#" and its encoding in hexadecimal.
func dnRFC2253(rdns []rawRDNSET) string {
	var b strings.Builder
	for i := len(rdns) - 1; i >= 0; i-- {
		if i != len(rdns)-1 {
			b.WriteByte(',')
		}
		for j, atv := range rdns[i] {
			if j > 0 {
				b.WriteByte('+')
			}
			n, known := attrName(atv.Type)
			b.WriteString(n)
			b.WriteByte('=')
			if !known {
				fmt.Fprintf(&b, "#%X", atv.Value.FullBytes)
				continue
			}
			v := attrUTF8(atv.Value)
			for k, c := range v {
				switch {
				case c > 0x7e || c < ' ':
					fmt.Fprintf(&b, "\\%02X", c)
				case strings.IndexByte(",+\"\\<>;", c) >= 0,
					k == 0 && (c == '#' || c == ' '),
					k == len(v)-1 && c == ' ':
					b.WriteByte('\\')
					b.WriteByte(c)
				default:
					b.WriteByte(c)
				}
			}
		}
	}
	return b.String()
}
