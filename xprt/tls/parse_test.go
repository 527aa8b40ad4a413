package tls_test

import (
	stdtls "crypto/tls"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	ptls "github.com/proxyblocks/proxyblocks/xprt/tls"
)

func TestParseVersion(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want uint16
		err  bool
	}{
		{"TLSv1.0", stdtls.VersionTLS10, false},
		{"TLSv1.2", stdtls.VersionTLS12, false},
		{"TLSv1.3", stdtls.VersionTLS13, false},
		{"SSLv3", 0x0300, false},
		{"tlsv1.2", 0, true},
		{"", 0, true},
	} {
		got, err := ptls.ParseVersion(tc.in)
		if tc.err {
			require.ErrorIs(t, err, ptls.ErrBadValue, tc.in)
			continue
		}
		require.NoError(t, err, tc.in)
		require.Equal(t, tc.want, got)
		require.Equal(t, tc.in, ptls.VersionName(got))
	}
}

func TestParseCiphers(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []uint16
		err  string
	}{
		{"ECDHE-ECDSA-AES128-GCM-SHA256", []uint16{stdtls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}, ""},
		{"ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES128-GCM-SHA256",
			[]uint16{stdtls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, stdtls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256}, ""},
		{"ECDHE+AESGCM:!aRSA", []uint16{stdtls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, stdtls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}, ""},
		{"ECDHE-RSA-CHACHA20-POLY1305:!aNULL:!MD5:@STRENGTH", []uint16{stdtls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256}, ""},
		{"AES128-SHA:-ALL:ECDHE-RSA-AES256-SHA", []uint16{stdtls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA}, ""},
		{"!AES128-SHA:AES128-SHA:AES256-SHA", []uint16{stdtls.TLS_RSA_WITH_AES_256_CBC_SHA}, ""},
		{"ECDHE-RSA-AES128-GCM-SHA256:NOT-A-CIPHER", []uint16{stdtls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256}, ""},
		{"ECDHE-RSA-AES128-GCM-SHA256:DH+AE$", []uint16{stdtls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256}, ""},
		{"ECDHE-RSA-AES128-GCM-SHA256:$X", nil, "unable to set SSL cipher list to 'ECDHE-RSA-AES128-GCM-SHA256:$X' (invalid command at '$X')"},
		{"NOT-A-CIPHER", nil, "unable to set SSL cipher list to 'NOT-A-CIPHER' (no cipher match)"},
		{"DHE-RSA-AES128-GCM-SHA256", nil, "only suites crypto/tls does not implement"},
		{"!ALL", nil, "no cipher match"},
		{"ECDHE-RSA-AES128-GCM-SHA256::", nil, ""},
		// RC4 and 3DES, which the OpenSSL 3 of TestParseCiphersMatchesOpenSSL
		// lacks: MEDIUM, outside DEFAULT, 3DES in FIPS.
		{"MEDIUM", []uint16{stdtls.TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA, stdtls.TLS_RSA_WITH_3DES_EDE_CBC_SHA,
			stdtls.TLS_ECDHE_ECDSA_WITH_RC4_128_SHA, stdtls.TLS_ECDHE_RSA_WITH_RC4_128_SHA, stdtls.TLS_RSA_WITH_RC4_128_SHA}, ""},
		{"3DES+kRSA", []uint16{stdtls.TLS_RSA_WITH_3DES_EDE_CBC_SHA}, ""},
		{"RC4+SSLv3", []uint16{stdtls.TLS_RSA_WITH_RC4_128_SHA}, ""},
		{"MEDIUM+FIPS", []uint16{stdtls.TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA, stdtls.TLS_RSA_WITH_3DES_EDE_CBC_SHA}, ""},
		{"COMPLEMENTOFDEFAULT:!RC4", []uint16{stdtls.TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA, stdtls.TLS_RSA_WITH_3DES_EDE_CBC_SHA}, ""},
		{"DEFAULT:!HIGH", nil, "no cipher match"},
		{"PROFILE=SYSTEM:!HIGH", nil, "no cipher match"},
		{"ECDHE-RSA-AES128-GCM-SHA256;!aNULL;", []uint16{stdtls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256}, ""},
		{"kRSA+AESGCM@SECLEVEL=0", []uint16{stdtls.TLS_RSA_WITH_AES_256_GCM_SHA384, stdtls.TLS_RSA_WITH_AES_128_GCM_SHA256}, ""},
		{"ECDH+AESGCM:!ECDHE-ECDSA-AES256-GCM-SHA384+aECDSA:-aRSA", []uint16{stdtls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}, ""},
		{"ECDHE+AES128:+SHA1", []uint16{stdtls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, stdtls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
			stdtls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256, stdtls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256,
			stdtls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, stdtls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA}, ""},
		{"ECDHE+TYPO", nil, "no cipher match"},
	} {
		got, err := ptls.ParseCiphers(tc.in)
		if tc.want == nil && tc.err != "" {
			require.ErrorIs(t, err, ptls.ErrBadValue, tc.in)
			require.Contains(t, err.Error(), tc.err)
			continue
		}
		require.NoError(t, err, tc.in)
		if tc.want != nil {
			require.Equal(t, tc.want, got, tc.in)
		}
	}
	high, err := ptls.ParseCiphers("HIGH:!aNULL:!MD5")
	require.NoError(t, err)
	for _, id := range high {
		require.NotContains(t, ptls.CipherName(id), "RC4")
		require.NotContains(t, ptls.CipherName(id), "DES")
	}
	require.Equal(t, "ECDHE-RSA-AES128-GCM-SHA256", ptls.CipherName(stdtls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256))
	require.Equal(t, "TLS_AES_128_GCM_SHA256", ptls.CipherName(stdtls.TLS_AES_128_GCM_SHA256))
}

func TestParseCipherSuitesCurvesALPNVerify(t *testing.T) {
	ids, err := ptls.ParseCipherSuites("TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_CCM_SHA256")
	require.NoError(t, err)
	require.Equal(t, []uint16{stdtls.TLS_AES_256_GCM_SHA384, stdtls.TLS_CHACHA20_POLY1305_SHA256, 0x1304}, ids)
	_, err = ptls.ParseCipherSuites("TLS_AES_128_GCM_SHA256:ECDHE-RSA-AES128-GCM-SHA256")
	require.ErrorIs(t, err, ptls.ErrBadValue)

	curves, err := ptls.ParseCurves("X25519:prime256v1:secp384r1")
	require.NoError(t, err)
	require.Equal(t, []stdtls.CurveID{stdtls.X25519, stdtls.CurveP256, stdtls.CurveP384}, curves)
	_, err = ptls.ParseCurves("X25519:brainpool")
	require.ErrorContains(t, err, `"brainpool"`)

	alpn, err := ptls.ParseALPN("h2,http/1.1")
	require.NoError(t, err)
	require.Equal(t, []string{"h2", "http/1.1"}, alpn)
	_, err = ptls.ParseALPN("h2,,http/1.1")
	require.ErrorIs(t, err, ptls.ErrBadValue)

	for s, want := range map[string]ptls.Verify{"none": ptls.VerifyNone, "optional": ptls.VerifyOptional, "required": ptls.VerifyRequired} {
		v, err := ptls.ParseVerify(s)
		require.NoError(t, err)
		require.Equal(t, want, v)
		require.Equal(t, s, v.String())
	}
	_, err = ptls.ParseVerify("yes")
	require.ErrorIs(t, err, ptls.ErrBadValue)
}

func TestParseOptions(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want ptls.Options
		err  bool
	}{
		{"ssl-min-ver TLSv1.2 no-tls-tickets", ptls.Options{MinVersion: stdtls.VersionTLS12, NoTLSTickets: true}, false},
		{"no-sslv3 no-tlsv10 no-tlsv11", ptls.Options{}, false},
		{"no-tlsv10 no-tlsv11 no-tlsv12", ptls.Options{MinVersion: stdtls.VersionTLS13}, false},
		{"no-tlsv13", ptls.Options{MaxVersion: stdtls.VersionTLS12}, false},
		{"force-tlsv12", ptls.Options{MinVersion: stdtls.VersionTLS12, MaxVersion: stdtls.VersionTLS12}, false},
		{"prefer-client-ciphers ssl-max-ver TLSv1.3", ptls.Options{MaxVersion: stdtls.VersionTLS13}, false},
		// Below the TLSv1.2 floor no word leaves a hole, as in HAProxy.
		{"no-tlsv12", ptls.Options{MinVersion: stdtls.VersionTLS13}, false},
		{"no-tlsv11", ptls.Options{}, false},
		{"no-tlsv12 no-tlsv13", ptls.Options{}, true},
		{"ssl-min-ver", ptls.Options{}, true},
		{"no-such-option", ptls.Options{}, true},
	} {
		got, err := ptls.ParseOptions(strings.Fields(tc.in))
		if tc.err {
			require.ErrorIs(t, err, ptls.ErrBadValue, tc.in)
			continue
		}
		require.NoError(t, err, tc.in)
		require.Equal(t, tc.want, got, tc.in)
	}
}

func TestDefaultsApply(t *testing.T) {
	d := ptls.NewDefaults()
	for _, line := range []string{
		"ssl-default-bind-ciphers ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256",
		"ssl-default-bind-ciphersuites TLS_AES_128_GCM_SHA256",
		"ssl-default-bind-options ssl-min-ver TLSv1.3 no-tls-tickets",
		"ssl-default-server-options ssl-min-ver TLSv1.2",
		"tune.ssl.cachesize 100",
		"tune.ssl.lifetime 10m",
		"ssl-server-verify none",
	} {
		args := strings.Fields(line)
		n, err := d.Apply(args)
		require.NoError(t, err, line)
		require.Equal(t, len(args), n, line)
	}
	require.Len(t, d.BindCiphers, 2)
	require.Equal(t, ptls.Options{MinVersion: stdtls.VersionTLS13, NoTLSTickets: true}, d.BindOptions)
	require.Equal(t, uint16(stdtls.VersionTLS12), d.ServerOptions.MinVersion)
	require.Equal(t, 100, d.CacheSize)
	require.Equal(t, 10*time.Minute, d.Lifetime)
	require.Equal(t, ptls.VerifyNone, d.ServerVerify)

	_, err := d.Apply([]string{"maxconn", "10"})
	require.ErrorIs(t, err, ptls.ErrUnknownKeyword)
	_, err = d.Apply([]string{"tune.ssl.lifetime", "soon"})
	require.ErrorIs(t, err, ptls.ErrBadValue)
	require.ErrorContains(t, err, "tune.ssl.lifetime")
	lt, err := ptls.ParseLifetime("300")
	require.NoError(t, err)
	require.Equal(t, 300*time.Second, lt)
}

func TestBindAndServerApply(t *testing.T) {
	line := strings.Fields("ssl crt a.pem crt dir/ crt-list l.txt alpn h2,http/1.1 ssl-min-ver TLSv1.2 ssl-max-ver TLSv1.3 ciphers ECDHE-RSA-AES128-GCM-SHA256 ciphersuites TLS_AES_128_GCM_SHA256 curves X25519:P-256 ca-file ca.pem verify optional no-tls-tickets strict-sni tls-ticket-keys k.txt")
	var b ptls.BindConfig
	for len(line) > 0 {
		n, err := b.Apply(line)
		require.NoError(t, err, line[0])
		line = line[n:]
	}
	require.Equal(t, []string{"a.pem", "dir/"}, b.Crt)
	require.Equal(t, []string{"l.txt"}, b.CrtList)
	require.Equal(t, []string{"h2", "http/1.1"}, b.ALPN)
	require.Equal(t, ptls.VerifyOptional, b.Verify)
	require.True(t, b.NoTLSTickets)
	require.True(t, b.StrictSNI)
	require.Equal(t, "k.txt", b.TicketKeys)
	require.Equal(t, []stdtls.CurveID{stdtls.X25519, stdtls.CurveP256}, b.Curves)
	_, err := b.Apply([]string{"accept-proxy"})
	require.ErrorIs(t, err, ptls.ErrUnknownKeyword)
	_, err = b.Apply([]string{"alpn"})
	require.ErrorIs(t, err, ptls.ErrBadValue)

	line = strings.Fields("ssl verify required ca-file ca.pem sni example.com alpn h2 crt client.pem no-ssl-reuse verifyhost host.example")
	var s ptls.ServerConfig
	for len(line) > 0 {
		n, err := s.Apply(line)
		require.NoError(t, err, line[0])
		line = line[n:]
	}
	require.Equal(t, ptls.ServerConfig{Verify: ptls.VerifyRequired, CAFile: "ca.pem", SNI: "example.com",
		ALPN: []string{"h2"}, Crt: "client.pem", NoSSLReuse: true, VerifyHost: "host.example"}, s)
	_, err = s.Apply([]string{"verify", "optional"})
	require.ErrorIs(t, err, ptls.ErrBadValue)
	_, err = s.Apply([]string{"check"})
	require.ErrorIs(t, err, ptls.ErrUnknownKeyword)
}

func TestLoadCertificateForms(t *testing.T) {
	p := newPKI(t)
	for _, tc := range []leafOpts{
		{cn: "pkcs8.example.com", keyFmt: "pkcs8"},
		{cn: "ec.example.com", keyFmt: "ec"},
		{cn: "rsa1.example.com", rsa: true, keyFmt: "pkcs1"},
		{cn: "sep.example.com", keyFmt: "separate", dns: []string{"Sep.Example.com", "alt.example.com"}},
	} {
		path := p.leaf(tc.cn+".pem", tc)
		c, err := ptls.LoadCertificate(path)
		require.NoError(t, err, tc.keyFmt)
		require.Equal(t, tc.cn, c.Cert.Leaf.Subject.CommonName)
		require.Len(t, c.Cert.Certificate, 2, "chain kept")
		require.Contains(t, c.Names, tc.cn)
	}
	sep, err := ptls.LoadCertificate(filepath.Join(p.dir, "sep.example.com.pem"))
	require.NoError(t, err)
	require.Equal(t, []string{"sep.example.com", "alt.example.com"}, sep.Names, "SANs lower-cased, CN deduplicated")

	// A directory loads every certificate, skipping .key companions.
	_, err = ptls.LoadCrt(p.dir + "/")
	require.Error(t, err, "ca.pem has no key, so the directory does not load")
	require.ErrorContains(t, err, "ca.pem")
	require.NoError(t, os.Remove(p.caFile))
	certs, err := ptls.LoadCrt(p.dir)
	require.NoError(t, err)
	require.Len(t, certs, 4)
}

func TestLoadCertificateErrors(t *testing.T) {
	p := newPKI(t)
	good := p.leaf("good.pem", leafOpts{cn: "good.example.com"})
	other := p.leaf("other.pem", leafOpts{cn: "other.example.com"})
	goodData, _ := os.ReadFile(good)
	otherData, _ := os.ReadFile(other)
	write := func(name string, data []byte) string {
		path := filepath.Join(p.dir, name)
		require.NoError(t, os.WriteFile(path, data, 0o600))
		return path
	}
	certOnly := string(goodData[:strings.Index(string(goodData), "-----BEGIN PRIVATE KEY")])
	keyOnly := string(otherData[strings.Index(string(otherData), "-----BEGIN PRIVATE KEY"):])
	for _, tc := range []struct {
		name, data, want string
	}{
		{"garbage.pem", "not a pem file\n", "no PEM data"},
		{"nokey.pem", certOnly, "no private key"},
		{"mismatch.pem", certOnly + keyOnly, "private key does not match"},
		{"nocert.pem", keyOnly, "no certificate in the file"},
		{"enc.pem", certOnly + "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n", "encrypted private keys"},
		{"badcert.pem", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n" + keyOnly, "does not parse"},
	} {
		path := write(tc.name, []byte(tc.data))
		_, err := ptls.LoadCertificate(path)
		require.ErrorIs(t, err, ptls.ErrBadFile, tc.name)
		require.ErrorContains(t, err, tc.want, tc.name)
		require.ErrorContains(t, err, path, "the error names the file")
		var fe *ptls.FileError
		require.True(t, errors.As(err, &fe))
		require.Equal(t, "crt", fe.Keyword)
	}
	_, err := ptls.LoadCertificate(filepath.Join(p.dir, "missing.pem"))
	require.ErrorIs(t, err, os.ErrNotExist)

	// The same errors reach NewInbound unchanged.
	_, err = ptls.NewInbound(ptls.BindConfig{Crt: []string{filepath.Join(p.dir, "garbage.pem")}}, nil)
	require.ErrorContains(t, err, "garbage.pem")

	_, err = ptls.LoadCAFile(filepath.Join(p.dir, "garbage.pem"))
	require.ErrorContains(t, err, "ca-file")
	require.ErrorContains(t, err, "no PEM data")
}

func TestLoadTicketKeys(t *testing.T) {
	dir := t.TempDir()
	key := func(b byte, n int) string {
		k := make([]byte, n)
		for i := range k {
			k[i] = b
		}
		return base64.StdEncoding.EncodeToString(k)
	}
	write := func(lines ...string) string {
		path := filepath.Join(dir, "keys")
		require.NoError(t, os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600))
		return path
	}
	k1, err := ptls.LoadTicketKeys(write(key(1, 48), key(2, 48), key(3, 48), key(4, 48)))
	require.NoError(t, err)
	require.Len(t, k1, 3)
	// Keys 2, 3 and 4 are in use; 3 (second to last) encrypts.
	// Appending key 5 rotates: the previous newest key (4) starts
	// encrypting and the previous encrypting key (3) still decrypts.
	k2, err := ptls.LoadTicketKeys(write(key(3, 48), key(4, 48), key(5, 48)))
	require.NoError(t, err)
	require.Equal(t, k1[1], k2[0])
	require.Equal(t, k1[0], k2[2])
	k3, err := ptls.LoadTicketKeys(write(key(2, 48), key(3, 48), key(4, 48)))
	require.NoError(t, err)
	require.Equal(t, k1, k3, "older lines than the last three are ignored")

	for _, tc := range []struct {
		lines []string
		want  string
	}{
		{[]string{key(1, 48), key(2, 48)}, "at least 3"},
		{[]string{key(1, 48), "!!!", key(3, 48)}, "line 2"},
		{[]string{key(1, 48), key(2, 32), key(3, 48)}, "32 bytes"},
		{[]string{key(1, 80), key(2, 48), key(3, 48)}, "cannot be mixed"},
	} {
		_, err := ptls.LoadTicketKeys(write(tc.lines...))
		require.ErrorIs(t, err, ptls.ErrBadFile)
		require.ErrorContains(t, err, tc.want)
	}
}
