package tls

import (
	stdtls "crypto/tls"
	"fmt"
	"slices"
	"strings"
)

// OpenSSL cipher strings (ciphers, ssl-default-bind-ciphers), read as
// OpenSSL 3 reads them, for the TLS 1.0-1.2 suites crypto/tls implements.

// suite is one crypto/tls TLS 1.0-1.2 suite with the attributes OpenSSL's
// cipher-string keywords select on.
type suite struct {
	id      uint16
	openssl string
	kx      string // key exchange: "ECDHE" or "RSA"
	auth    string // "ECDSA" or "RSA"
	enc     string // "AES128", "AES256", "AES128GCM", "AES256GCM", "CHACHA20", "3DES", "RC4"
	mac     string // "AEAD", "SHA1" or "SHA256"
	// since is the protocol version the suite was defined for, which the
	// SSLv3, TLSv1 and TLSv1.2 keywords select on.
	since string
	// medium: OpenSSL's MEDIUM strength, HIGH otherwise. notDefault:
	// outside OpenSSL's DEFAULT (in COMPLEMENTOFDEFAULT). fips: approved
	// for FIPS mode.
	medium, notDefault, fips bool
}

// suites lists every TLS 1.0-1.2 suite crypto/tls implements, with
// OpenSSL's names and attributes.
var suites = []suite{
	{stdtls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE", "ECDSA", "AES256GCM", "AEAD", "TLSv1.2", false, false, true},
	{stdtls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, "ECDHE-RSA-AES256-GCM-SHA384", "ECDHE", "RSA", "AES256GCM", "AEAD", "TLSv1.2", false, false, true},
	{stdtls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE", "ECDSA", "CHACHA20", "AEAD", "TLSv1.2", false, false, false},
	{stdtls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256, "ECDHE-RSA-CHACHA20-POLY1305", "ECDHE", "RSA", "CHACHA20", "AEAD", "TLSv1.2", false, false, false},
	{stdtls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE", "ECDSA", "AES128GCM", "AEAD", "TLSv1.2", false, false, true},
	{stdtls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, "ECDHE-RSA-AES128-GCM-SHA256", "ECDHE", "RSA", "AES128GCM", "AEAD", "TLSv1.2", false, false, true},
	{stdtls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256, "ECDHE-ECDSA-AES128-SHA256", "ECDHE", "ECDSA", "AES128", "SHA256", "TLSv1.2", false, false, true},
	{stdtls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256, "ECDHE-RSA-AES128-SHA256", "ECDHE", "RSA", "AES128", "SHA256", "TLSv1.2", false, false, true},
	{stdtls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA, "ECDHE-ECDSA-AES256-SHA", "ECDHE", "ECDSA", "AES256", "SHA1", "TLSv1", false, false, true},
	{stdtls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA, "ECDHE-RSA-AES256-SHA", "ECDHE", "RSA", "AES256", "SHA1", "TLSv1", false, false, true},
	{stdtls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, "ECDHE-ECDSA-AES128-SHA", "ECDHE", "ECDSA", "AES128", "SHA1", "TLSv1", false, false, true},
	{stdtls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, "ECDHE-RSA-AES128-SHA", "ECDHE", "RSA", "AES128", "SHA1", "TLSv1", false, false, true},
	{stdtls.TLS_RSA_WITH_AES_256_GCM_SHA384, "AES256-GCM-SHA384", "RSA", "RSA", "AES256GCM", "AEAD", "TLSv1.2", false, false, true},
	{stdtls.TLS_RSA_WITH_AES_128_GCM_SHA256, "AES128-GCM-SHA256", "RSA", "RSA", "AES128GCM", "AEAD", "TLSv1.2", false, false, true},
	{stdtls.TLS_RSA_WITH_AES_128_CBC_SHA256, "AES128-SHA256", "RSA", "RSA", "AES128", "SHA256", "TLSv1.2", false, false, true},
	{stdtls.TLS_RSA_WITH_AES_256_CBC_SHA, "AES256-SHA", "RSA", "RSA", "AES256", "SHA1", "SSLv3", false, false, true},
	{stdtls.TLS_RSA_WITH_AES_128_CBC_SHA, "AES128-SHA", "RSA", "RSA", "AES128", "SHA1", "SSLv3", false, false, true},
	{stdtls.TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA, "ECDHE-RSA-DES-CBC3-SHA", "ECDHE", "RSA", "3DES", "SHA1", "TLSv1", true, true, true},
	{stdtls.TLS_RSA_WITH_3DES_EDE_CBC_SHA, "DES-CBC3-SHA", "RSA", "RSA", "3DES", "SHA1", "SSLv3", true, true, true},
	{stdtls.TLS_ECDHE_ECDSA_WITH_RC4_128_SHA, "ECDHE-ECDSA-RC4-SHA", "ECDHE", "ECDSA", "RC4", "SHA1", "TLSv1", true, true, false},
	{stdtls.TLS_ECDHE_RSA_WITH_RC4_128_SHA, "ECDHE-RSA-RC4-SHA", "ECDHE", "RSA", "RC4", "SHA1", "TLSv1", true, true, false},
	{stdtls.TLS_RSA_WITH_RC4_128_SHA, "RC4-SHA", "RSA", "RSA", "RC4", "SHA1", "SSLv3", true, true, false},
}

// opensslOnly holds the names of the suites OpenSSL knows (those of
// OpenSSL 3, and older ones configurations still carry) that crypto/tls
// does not implement: finite-field DHE, PSK, SRP, CCM, CAMELLIA, ARIA,
// anonymous and NULL suites. A cipher string may name them; they select
// nothing.
var opensslOnly = func() map[string]bool {
	m := map[string]bool{}
	for _, n := range strings.Fields(`
DHE-DSS-AES256-GCM-SHA384 DHE-RSA-AES256-GCM-SHA384 DHE-RSA-CHACHA20-POLY1305
ECDHE-ECDSA-AES256-CCM8 ECDHE-ECDSA-AES256-CCM DHE-RSA-AES256-CCM8 DHE-RSA-AES256-CCM
ECDHE-ECDSA-ARIA256-GCM-SHA384 ECDHE-ARIA256-GCM-SHA384 DHE-DSS-ARIA256-GCM-SHA384
DHE-RSA-ARIA256-GCM-SHA384 ADH-AES256-GCM-SHA384 DHE-DSS-AES128-GCM-SHA256
DHE-RSA-AES128-GCM-SHA256 ECDHE-ECDSA-AES128-CCM8 ECDHE-ECDSA-AES128-CCM DHE-RSA-AES128-CCM8
DHE-RSA-AES128-CCM ECDHE-ECDSA-ARIA128-GCM-SHA256 ECDHE-ARIA128-GCM-SHA256
DHE-DSS-ARIA128-GCM-SHA256 DHE-RSA-ARIA128-GCM-SHA256 ADH-AES128-GCM-SHA256
ECDHE-ECDSA-AES256-SHA384 ECDHE-RSA-AES256-SHA384 DHE-RSA-AES256-SHA256 DHE-DSS-AES256-SHA256
ECDHE-ECDSA-CAMELLIA256-SHA384 ECDHE-RSA-CAMELLIA256-SHA384 DHE-RSA-CAMELLIA256-SHA256
DHE-DSS-CAMELLIA256-SHA256 ADH-AES256-SHA256 ADH-CAMELLIA256-SHA256 DHE-RSA-AES128-SHA256
DHE-DSS-AES128-SHA256 ECDHE-ECDSA-CAMELLIA128-SHA256 ECDHE-RSA-CAMELLIA128-SHA256
DHE-RSA-CAMELLIA128-SHA256 DHE-DSS-CAMELLIA128-SHA256 ADH-AES128-SHA256 ADH-CAMELLIA128-SHA256
DHE-RSA-AES256-SHA DHE-DSS-AES256-SHA DHE-RSA-CAMELLIA256-SHA DHE-DSS-CAMELLIA256-SHA
AECDH-AES256-SHA ADH-AES256-SHA ADH-CAMELLIA256-SHA DHE-RSA-AES128-SHA DHE-DSS-AES128-SHA
DHE-RSA-CAMELLIA128-SHA DHE-DSS-CAMELLIA128-SHA AECDH-AES128-SHA ADH-AES128-SHA
ADH-CAMELLIA128-SHA RSA-PSK-AES256-GCM-SHA384 DHE-PSK-AES256-GCM-SHA384
RSA-PSK-CHACHA20-POLY1305 DHE-PSK-CHACHA20-POLY1305 ECDHE-PSK-CHACHA20-POLY1305
DHE-PSK-AES256-CCM8 DHE-PSK-AES256-CCM RSA-PSK-ARIA256-GCM-SHA384 DHE-PSK-ARIA256-GCM-SHA384
AES256-CCM8 AES256-CCM ARIA256-GCM-SHA384 PSK-AES256-GCM-SHA384 PSK-CHACHA20-POLY1305
PSK-AES256-CCM8 PSK-AES256-CCM PSK-ARIA256-GCM-SHA384 RSA-PSK-AES128-GCM-SHA256
DHE-PSK-AES128-GCM-SHA256 DHE-PSK-AES128-CCM8 DHE-PSK-AES128-CCM RSA-PSK-ARIA128-GCM-SHA256
DHE-PSK-ARIA128-GCM-SHA256 AES128-CCM8 AES128-CCM ARIA128-GCM-SHA256 PSK-AES128-GCM-SHA256
PSK-AES128-CCM8 PSK-AES128-CCM PSK-ARIA128-GCM-SHA256 AES256-SHA256 CAMELLIA256-SHA256
CAMELLIA128-SHA256 ECDHE-PSK-AES256-CBC-SHA384 ECDHE-PSK-AES256-CBC-SHA SRP-DSS-AES-256-CBC-SHA
SRP-RSA-AES-256-CBC-SHA SRP-AES-256-CBC-SHA RSA-PSK-AES256-CBC-SHA384 DHE-PSK-AES256-CBC-SHA384
RSA-PSK-AES256-CBC-SHA DHE-PSK-AES256-CBC-SHA ECDHE-PSK-CAMELLIA256-SHA384
RSA-PSK-CAMELLIA256-SHA384 DHE-PSK-CAMELLIA256-SHA384 CAMELLIA256-SHA PSK-AES256-CBC-SHA384
PSK-AES256-CBC-SHA PSK-CAMELLIA256-SHA384 ECDHE-PSK-AES128-CBC-SHA256 ECDHE-PSK-AES128-CBC-SHA
SRP-DSS-AES-128-CBC-SHA SRP-RSA-AES-128-CBC-SHA SRP-AES-128-CBC-SHA RSA-PSK-AES128-CBC-SHA256
DHE-PSK-AES128-CBC-SHA256 RSA-PSK-AES128-CBC-SHA DHE-PSK-AES128-CBC-SHA
ECDHE-PSK-CAMELLIA128-SHA256 RSA-PSK-CAMELLIA128-SHA256 DHE-PSK-CAMELLIA128-SHA256
CAMELLIA128-SHA PSK-AES128-CBC-SHA256 PSK-AES128-CBC-SHA PSK-CAMELLIA128-SHA256
ECDHE-ECDSA-NULL-SHA ECDHE-RSA-NULL-SHA AECDH-NULL-SHA NULL-SHA256 ECDHE-PSK-NULL-SHA384
ECDHE-PSK-NULL-SHA256 ECDHE-PSK-NULL-SHA RSA-PSK-NULL-SHA384 RSA-PSK-NULL-SHA256
DHE-PSK-NULL-SHA384 DHE-PSK-NULL-SHA256 RSA-PSK-NULL-SHA DHE-PSK-NULL-SHA NULL-SHA NULL-MD5
PSK-NULL-SHA384 PSK-NULL-SHA256 PSK-NULL-SHA RC4-MD5 EXP-RC4-MD5 EXP-RC2-CBC-MD5 IDEA-CBC-SHA
EXP-DES-CBC-SHA DES-CBC-SHA EXP-EDH-DSS-DES-CBC-SHA EDH-DSS-DES-CBC-SHA EDH-DSS-DES-CBC3-SHA
EXP-EDH-RSA-DES-CBC-SHA EDH-RSA-DES-CBC-SHA EDH-RSA-DES-CBC3-SHA EXP-ADH-RC4-MD5 ADH-RC4-MD5
EXP-ADH-DES-CBC-SHA ADH-DES-CBC-SHA ADH-DES-CBC3-SHA SEED-SHA DHE-DSS-SEED-SHA DHE-RSA-SEED-SHA
ADH-SEED-SHA ECDH-ECDSA-NULL-SHA ECDH-ECDSA-RC4-SHA ECDH-ECDSA-DES-CBC3-SHA
ECDH-ECDSA-AES128-SHA ECDH-ECDSA-AES256-SHA ECDHE-ECDSA-DES-CBC3-SHA ECDH-RSA-NULL-SHA
ECDH-RSA-RC4-SHA ECDH-RSA-DES-CBC3-SHA ECDH-RSA-AES128-SHA ECDH-RSA-AES256-SHA AECDH-RC4-SHA
AECDH-DES-CBC3-SHA ECDH-ECDSA-AES128-SHA256 ECDH-ECDSA-AES256-SHA384 ECDH-RSA-AES128-SHA256
ECDH-RSA-AES256-SHA384 ECDH-ECDSA-AES128-GCM-SHA256 ECDH-ECDSA-AES256-GCM-SHA384
ECDH-RSA-AES128-GCM-SHA256 ECDH-RSA-AES256-GCM-SHA384 DHE-DSS-RC4-SHA PSK-RC4-SHA
PSK-3DES-EDE-CBC-SHA ECDHE-PSK-RC4-SHA ECDHE-PSK-3DES-EDE-CBC-SHA DHE-PSK-RC4-SHA
DHE-PSK-3DES-EDE-CBC-SHA RSA-PSK-RC4-SHA RSA-PSK-3DES-EDE-CBC-SHA SRP-3DES-EDE-CBC-SHA
SRP-RSA-3DES-EDE-CBC-SHA SRP-DSS-3DES-EDE-CBC-SHA GOST2001-GOST89-GOST89
GOST2012-GOST8912-GOST8912 GOST2001-NULL-GOST94 GOST2012-NULL-GOST12`) {
		m[n] = true
	}
	return m
}()

// is reports whether s's field equals one of vals.
func is(field string, vals ...string) bool { return slices.Contains(vals, field) }

// cipherAliases are OpenSSL 3's cipher-string keywords, each selecting
// the implemented suites it names. Keywords for families crypto/tls does
// not implement (DHE, PSK, CAMELLIA, aNULL, eNULL, GOST...) select
// nothing, which makes "!aNULL" a harmless no-op, as it is in OpenSSL.
var cipherAliases = map[string]func(s suite) bool{
	"ALL":                 func(suite) bool { return true },
	"COMPLEMENTOFDEFAULT": func(s suite) bool { return s.notDefault },
	"HIGH":                func(s suite) bool { return !s.medium },
	"MEDIUM":              func(s suite) bool { return s.medium },
	"FIPS":                func(s suite) bool { return s.fips },
	"kRSA":                func(s suite) bool { return s.kx == "RSA" },
	"RSA":                 func(s suite) bool { return s.kx == "RSA" },
	"aRSA":                func(s suite) bool { return s.auth == "RSA" },
	"kECDHE":              func(s suite) bool { return s.kx == "ECDHE" },
	"kEECDH":              func(s suite) bool { return s.kx == "ECDHE" },
	"ECDHE":               func(s suite) bool { return s.kx == "ECDHE" },
	"EECDH":               func(s suite) bool { return s.kx == "ECDHE" },
	"ECDH":                func(s suite) bool { return s.kx == "ECDHE" },
	"aECDSA":              func(s suite) bool { return s.auth == "ECDSA" },
	"ECDSA":               func(s suite) bool { return s.auth == "ECDSA" },
	"AES128":              func(s suite) bool { return is(s.enc, "AES128", "AES128GCM") },
	"AES256":              func(s suite) bool { return is(s.enc, "AES256", "AES256GCM") },
	"AES":                 func(s suite) bool { return is(s.enc, "AES128", "AES256", "AES128GCM", "AES256GCM") },
	"AESGCM":              func(s suite) bool { return is(s.enc, "AES128GCM", "AES256GCM") },
	"CHACHA20":            func(s suite) bool { return s.enc == "CHACHA20" },
	"3DES":                func(s suite) bool { return s.enc == "3DES" },
	"RC4":                 func(s suite) bool { return s.enc == "RC4" },
	"CBC":                 func(s suite) bool { return is(s.enc, "AES128", "AES256", "3DES") },
	"SHA1":                func(s suite) bool { return s.mac == "SHA1" },
	"SHA":                 func(s suite) bool { return s.mac == "SHA1" },
	"SHA256":              func(s suite) bool { return s.mac == "SHA256" },
	"SSLv3":               func(s suite) bool { return s.since == "SSLv3" },
	"TLSv1":               func(s suite) bool { return s.since == "TLSv1" },
	"TLSv1.0":             func(s suite) bool { return s.since == "TLSv1" },
	"TLSv1.2":             func(s suite) bool { return s.since == "TLSv1.2" },
}

// emptyAliases are the OpenSSL keywords, current and former, whose
// suites crypto/tls does not implement.
var emptyAliases = strings.Fields(`COMPLEMENTOFALL LOW SHA384 MD5 aNULL eNULL NULL ADH AECDH
	kEDH kDHE EDH DHE DH aDSS DSS PSK kPSK aPSK kRSAPSK kECDHEPSK kDHEPSK SRP kSRP aSRP
	AESCCM AESCCM8 CAMELLIA CAMELLIA128 CAMELLIA256 ARIA ARIAGCM ARIA128 ARIA256 DES RC2 IDEA
	SEED GOST GOST94 GOST89MAC GOST12 GOST2012 kGOST kGOST18 aGOST aGOST01 aGOST12 CHACHA20POLY1305
	EXP EXPORT EXPORT40 EXPORT56 kECDH aECDH kDH aDH kDHr kDHd kECDHr kECDHe kFZA aFZA eFZA FZA KRB5 kKRB5 aKRB5`)

func init() {
	// DEFAULT means something only at the start of a string; elsewhere
	// OpenSSL selects nothing with it ("ALL:!DEFAULT" is ALL).
	for _, a := range append(emptyAliases, "DEFAULT", "PROFILE=SYSTEM") {
		if _, ok := cipherAliases[a]; !ok {
			cipherAliases[a] = func(suite) bool { return false }
		}
	}
}

// defaultCiphers is what OpenSSL's DEFAULT stands for. "PROFILE=SYSTEM",
// the system-wide policy of Red Hat's OpenSSL, reads as the same: lb's
// platform default.
const defaultCiphers = "ALL:!COMPLEMENTOFDEFAULT:!eNULL"

// ParseCiphers parses an OpenSSL cipher string, as written after ciphers
// or ssl-default-bind-ciphers, into crypto/tls suite IDs for TLS 1.0-1.2.
// It selects what OpenSSL 3 selects, among the suites crypto/tls
// implements.
//
// Elements are separated by ':' (',', ';' and spaces too). An element is
// a suite name in OpenSSL form (ECDHE-ECDSA-AES128-GCM-SHA256), a keyword
// such as HIGH, ECDHE, aRSA, AESGCM or TLSv1.2, or several joined by '+'
// (ECDH+AESGCM, meaning both). A leading '!' removes the matches for
// good, '-' removes them (a later element may add them back), '+' moves
// them to the end. DEFAULT (or Red Hat's PROFILE=SYSTEM) opens the string
// with OpenSSL's default list. "@STRENGTH" and "@SECLEVEL=n" are accepted
// and ignored. Suites OpenSSL knows but crypto/tls lacks (DHE-RSA-...,
// CCM, CAMELLIA) select nothing. As in OpenSSL, an element with a word
// it does not know selects nothing, a character that cannot start a word
// is an error, and so is a string that selects nothing.
//
// crypto/tls orders suites itself (preferring AES-GCM when the hardware has
// AES, ChaCha20 otherwise), so the order in the string is not kept.
func ParseCiphers(s string) ([]uint16, error) {
	rest := strings.TrimLeft(s, ":,; ")
	for _, d := range []string{"DEFAULT", "PROFILE=SYSTEM"} {
		if after, ok := strings.CutPrefix(rest, d); ok {
			rest = defaultCiphers + ":" + after
			break
		}
	}
	var (
		list    []uint16
		killed  = map[uint16]bool{}
		skipped int
	)
	for _, el := range strings.FieldsFunc(rest, func(r rune) bool { return r == ':' || r == ',' || r == ';' || r == ' ' }) {
		// "ALL@SECLEVEL=0": what follows '@' is a command, ignored.
		if i := strings.IndexByte(el, '@'); i >= 0 {
			el = el[:i]
		}
		// An element may run into the next one ("AES!RC4"), as OpenSSL
		// reads them: selectSuites returns what it left.
		for el != "" {
			op := byte(0)
			if el[0] == '!' || el[0] == '-' || el[0] == '+' {
				op, el = el[0], el[1:]
			}
			match, known, left, err := selectSuites(el)
			if err != nil {
				return nil, fmt.Errorf("%w: unable to set SSL cipher list to '%s' (%v)", ErrBadValue, s, err)
			}
			el = left
			if !known {
				skipped++
				continue
			}
			for _, id := range match {
				i := slices.Index(list, id)
				switch op {
				case '!':
					killed[id] = true
					if i >= 0 {
						list = slices.Delete(list, i, i+1)
					}
				case '-':
					if i >= 0 {
						list = slices.Delete(list, i, i+1)
					}
				case '+':
					if i >= 0 {
						list = append(slices.Delete(list, i, i+1), id)
					}
				default:
					if !killed[id] && i < 0 {
						list = append(list, id)
					}
				}
			}
		}
	}
	if len(list) == 0 {
		if skipped > 0 {
			return nil, fmt.Errorf("%w: unable to set SSL cipher list to '%s' (it names only suites crypto/tls does not implement)", ErrBadValue, s)
		}
		return nil, fmt.Errorf("%w: unable to set SSL cipher list to '%s' (no cipher match)", ErrBadValue, s)
	}
	return list, nil
}

// selectSuites resolves one element without its operator: the suites
// that match every '+'-joined word, and what follows the element when a
// character other than '+' ends its last word. known is false when the
// element names only a suite crypto/tls lacks. As OpenSSL does, a word
// it does not know makes the element select nothing (the rest of the
// element is skipped), while a character that cannot start a word is an
// error.
func selectSuites(el string) (ids []uint16, known bool, left string, err error) {
	if opensslOnly[el] {
		return nil, false, "", nil
	}
	var preds []func(suite) bool
	for {
		n := 0
		for n < len(el) && isCipherWordByte(el[n]) {
			n++
		}
		if n == 0 {
			return nil, false, "", fmt.Errorf("invalid command at '%s'", el)
		}
		word := el[:n]
		el = el[n:]
		if p, ok := cipherAliases[word]; ok {
			preds = append(preds, p)
		} else if i := slices.IndexFunc(suites, func(s suite) bool { return s.openssl == word }); i >= 0 {
			id := suites[i].id
			preds = append(preds, func(s suite) bool { return s.id == id })
		} else if opensslOnly[word] {
			// A suite crypto/tls lacks, combined with more: nothing.
			preds = append(preds, func(suite) bool { return false })
		} else {
			return nil, true, "", nil
		}
		if !strings.HasPrefix(el, "+") {
			break
		}
		el = el[1:]
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
	return ids, true, el, nil
}

// isCipherWordByte reports whether c may be part of a word of a cipher
// string, as OpenSSL reads them.
func isCipherWordByte(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '='
}
