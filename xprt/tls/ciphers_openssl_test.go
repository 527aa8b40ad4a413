package tls_test

import (
	stdtls "crypto/tls"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"

	ptls "github.com/proxyblocks/proxyblocks/xprt/tls"
)

// opensslSuites runs "openssl ciphers -V" on a cipher string and returns
// the TLS 1.0-1.2 suites it selects, by ID; ok is false when OpenSSL
// finds no cipher in it.
func opensslSuites(t *testing.T, bin, s string) (ids []uint16, ok bool) {
	t.Helper()
	out, err := exec.Command(bin, "ciphers", "-V", s).CombinedOutput()
	if err != nil {
		if strings.Contains(string(out), "no cipher match") || strings.Contains(string(out), "invalid command") {
			return nil, false
		}
		t.Fatalf("openssl ciphers %q: %v: %s", s, err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) < 3 {
			continue
		}
		hi, lo, found := strings.Cut(f[0], ",")
		if !found {
			continue
		}
		a, err1 := strconv.ParseUint(strings.TrimPrefix(hi, "0x"), 16, 8)
		b, err2 := strconv.ParseUint(strings.TrimPrefix(lo, "0x"), 16, 8)
		if err1 != nil || err2 != nil {
			t.Fatalf("openssl ciphers: unreadable line %q", line)
		}
		if id := uint16(a)<<8 | uint16(b); a != 0x13 {
			ids = append(ids, id)
		}
	}
	return ids, true
}

// TestParseCiphersMatchesOpenSSL checks ParseCiphers against the real
// openssl on every cipher-string keyword and on strings real
// configurations use: the suites lb enables are the ones OpenSSL
// selects, among those both implement. (Suites this OpenSSL lacks, such
// as RC4 and 3DES on OpenSSL 3, are checked by TestParseCiphers.)
func TestParseCiphersMatchesOpenSSL(t *testing.T) {
	bin := needTool(t, "openssl")
	known, _ := opensslSuites(t, bin, "ALL:COMPLEMENTOFALL:@SECLEVEL=0")
	implemented := map[uint16]bool{}
	for _, cs := range append(stdtls.CipherSuites(), stdtls.InsecureCipherSuites()...) {
		implemented[cs.ID] = true
	}
	var cases []string
	for _, kw := range []string{
		"ALL", "DEFAULT", "COMPLEMENTOFALL", "COMPLEMENTOFDEFAULT", "HIGH", "MEDIUM", "LOW",
		"kRSA", "aRSA", "RSA", "kEDH", "kDHE", "EDH", "DHE", "DH", "kECDHE", "kEECDH", "ECDHE", "EECDH", "ECDH",
		"aECDSA", "ECDSA", "aDSS", "DSS", "aNULL", "eNULL", "NULL", "ADH", "AECDH",
		"PSK", "kPSK", "aPSK", "kRSAPSK", "kECDHEPSK", "kDHEPSK", "SRP", "kSRP", "aSRP",
		"AES", "AES128", "AES256", "AESGCM", "AESCCM", "AESCCM8", "CHACHA20", "CAMELLIA", "CAMELLIA128", "CAMELLIA256",
		"ARIA", "ARIAGCM", "ARIA128", "ARIA256", "3DES", "DES", "RC4", "RC2", "IDEA", "SEED", "CBC",
		"MD5", "SHA1", "SHA", "SHA256", "SHA384", "SSLv3", "TLSv1", "TLSv1.0", "TLSv1.2", "FIPS",
		"GOST", "kGOST", "aGOST", "aGOST01", "aGOST12",
	} {
		cases = append(cases, kw, "ALL:!"+kw, "HIGH:-"+kw, "ECDHE+"+kw, kw+"+AES256")
	}
	cases = append(cases,
		"ECDH+AESGCM:DH+AESGCM:ECDH+AES256:DH+AES256:ECDH+AES128:DH+AES:RSA+AESGCM:RSA+AES:!aNULL:!MD5:!DSS",
		"ECDH+AESGCM:DH+AESGCM:ECDH+AES256:DH+AES256:ECDH+AES128:DH+AES:ECDH+3DES:DH+3DES:RSA+AESGCM:RSA+AES:RSA+3DES:!aNULL:!MD5:!DSS",
		"AES256+EECDH:AES256+EDH:!aNULL",
		"ECDHE-RSA-AES256-SHA:RC4-SHA:RC4:HIGH:!MD5:!aNULL:!EDH:!AESGCM",
		"ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES128-GCM-SHA256:kEDH+AESGCM:ECDHE-RSA-AES128-SHA256:!aNULL:!eNULL:!EXPORT:!DES:!RC4:!3DES:!MD5:!PSK:!DSS:!SRP:!LOW",
		"HIGH:!aNULL:!MD5", "HIGH:!aNULL:!MD5:!3DES:@STRENGTH", "DEFAULT:!RSA", "DEFAULT:-kRSA:+AES128",
		"EECDH+AESGCM:EDH+AESGCM", "EECDH+CHACHA20:EECDH+AES128:RSA+AES128:EECDH+AES256:RSA+AES256:EECDH+3DES:RSA+3DES:!MD5",
		"ALL:!aNULL:!eNULL:!LOW:!EXP:!RC4:!3DES:+HIGH:+MEDIUM", "kECDHE+aECDSA+AESGCM",
		"AES128-SHA:-ALL:ECDHE-RSA-AES256-SHA", "!AES128-SHA:AES128-SHA:AES256-SHA",
		"AESGCM+AES128", "SHA256+aRSA", "TLSv1.2+ECDHE", "ECDHE:-ECDSA:+AES256",
		// Words OpenSSL does not know select nothing; a character that
		// cannot start a word fails the whole string.
		"ECDH+AESGCM:DH+AESGCM:ECDH+AES256:DH+AES256:ECDH+AES128:DH+AE$", "AESGCM:FOO", "AESGCM:FOO$",
		"AESGCM:!FOO", "AESGCM:-FOO", "AESGCM:FOO+BAR", "AESGCM:AES+FOO", "FOO", "FOO:!BAR",
		"AESGCM:$FOO", "AESGCM:AES$", "AESGCM:DH+$", "AESGCM:!", "AESGCM:AES+", "AESGCM:-",
		"AES128!SHA1", "AESGCM+AES128-ECDHE",
	)
	for _, s := range cases {
		theirs, ok := opensslSuites(t, bin, s)
		var want []uint16
		for _, id := range theirs {
			if implemented[id] {
				want = append(want, id)
			}
		}
		got, err := ptls.ParseCiphers(s)
		var mine []uint16
		for _, id := range got {
			if slices.Contains(known, id) {
				mine = append(mine, id)
			}
		}
		slices.Sort(want)
		slices.Sort(mine)
		switch {
		case !ok || len(want) == 0:
			// OpenSSL selects nothing lb can serve: lb must refuse it, or
			// select only suites this OpenSSL lacks.
			if err == nil && len(mine) > 0 {
				t.Errorf("%q: openssl selects none of lb's suites, lb selects %v", s, names(mine))
			}
		case err != nil:
			t.Errorf("%q: lb refuses it (%v); openssl selects %v", s, err, names(want))
		case !slices.Equal(want, mine):
			t.Errorf("%q:\n openssl %v\n lb      %v", s, names(want), names(mine))
		}
	}
}

func names(ids []uint16) []string {
	var out []string
	for _, id := range ids {
		out = append(out, ptls.CipherName(id))
	}
	return out
}
