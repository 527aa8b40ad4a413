package tls_test

import (
	"crypto/ecdsa"
	"crypto/fips140"
	"crypto/rsa"
	stdtls "crypto/tls"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/proxyblocks/proxyblocks/internal/testnet"
	ptls "github.com/proxyblocks/proxyblocks/xprt/tls"
	"github.com/proxyblocks/proxyblocks/xprt/tls/osslsign"
)

// needOpenSSLSigner skips when libcrypto cannot be loaded, unless CI=true,
// and in FIPS 140 mode, where the signer is not used.
func needOpenSSLSigner(t testing.TB) {
	t.Helper()
	if fips140.Enabled() {
		t.Skip("SKIP: in FIPS 140 mode RSA keys stay with Go's module")
	}
	if err := osslsign.Available(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("libcrypto is required when CI=true: %v", err)
		}
		t.Skipf("SKIP: %v", err)
	}
}

// withOpenSSLSigner sets the package switch for the test and restores it.
func withOpenSSLSigner(t testing.TB, on bool) {
	prev := ptls.OpenSSLSigner() != ptls.ErrOpenSSLSignerOff
	ptls.UseOpenSSLSigner(on)
	t.Cleanup(func() { ptls.UseOpenSSLSigner(prev) })
}

// An RSA certificate's key signs in libcrypto by default, and the
// handshakes it signs (TLS 1.2 ECDHE-RSA and TLS 1.3 RSA-PSS) verify in a
// Go client that checks the chain.
func TestOpenSSLSignerHandshakes(t *testing.T) {
	needOpenSSLSigner(t)
	testnet.LeakCheck(t)
	withOpenSSLSigner(t, true)
	require.NoError(t, ptls.OpenSSLSigner())
	p := newPKI(t)
	for _, format := range []string{"pkcs8", "pkcs1", "separate"} {
		crt := p.leaf("rsa-"+format+".pem", leafOpts{cn: "rsa.example.com", dns: []string{"rsa.example.com"}, rsa: true, keyFmt: format})
		c, err := ptls.LoadCertificate(crt)
		require.NoError(t, err)
		s, ok := c.Cert.PrivateKey.(*osslsign.Signer)
		require.True(t, ok, "%s key loaded as %T", format, c.Cert.PrivateKey)
		require.IsType(t, &rsa.PrivateKey{}, s.Key())
	}
	ec, err := ptls.LoadCertificate(p.leaf("ec.pem", leafOpts{cn: "ec.example.com"}))
	require.NoError(t, err)
	require.IsType(t, &ecdsa.PrivateKey{}, ec.Cert.PrivateKey, "ECDSA keys stay Go keys")

	roots, err := ptls.LoadCAFile(p.caFile)
	require.NoError(t, err)
	in, err := ptls.NewInbound(ptls.BindConfig{Crt: []string{p.dir + "/rsa-pkcs8.pem"}}, nil)
	require.NoError(t, err)
	srv := serve(t, in, "line")
	for _, v := range []uint16{stdtls.VersionTLS12, stdtls.VersionTLS13} {
		cs, line, err := goDial(t, srv.addr, &stdtls.Config{ServerName: "rsa.example.com", RootCAs: roots,
			MinVersion: v, MaxVersion: v})
		require.NoError(t, err, ptls.VersionName(v))
		require.Equal(t, v, cs.Version)
		require.Equal(t, "RSA", cs.PeerCertificates[0].PublicKeyAlgorithm.String())
		require.Contains(t, line, "version="+ptls.VersionName(v))
	}
}

func TestOpenSSLSignerOff(t *testing.T) {
	withOpenSSLSigner(t, false)
	require.ErrorIs(t, ptls.OpenSSLSigner(), ptls.ErrOpenSSLSignerOff)
	p := newPKI(t)
	c, err := ptls.LoadCertificate(p.leaf("rsa.pem", leafOpts{cn: "rsa.example.com", rsa: true}))
	require.NoError(t, err)
	require.IsType(t, &rsa.PrivateKey{}, c.Cert.PrivateKey)
}
