package osslsign

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// noGoSign is a Go key that refuses to sign, so that a handshake that
// succeeds proves libcrypto made the signature.
type noGoSign struct{ crypto.Signer }

func (noGoSign) Sign(io.Reader, []byte, crypto.SignerOpts) ([]byte, error) {
	return nil, errors.New("the Go key was asked to sign")
}

func TestTLSHandshakesSignedByLibcrypto(t *testing.T) {
	if err := Available(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("libcrypto is required when CI=true: %v", err)
		}
		t.Skipf("SKIP: %v", err)
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "signer.test"},
		DNSNames:     []string{"signer.test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:         true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	leaf, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	roots := x509.NewCertPool()
	roots.AddCert(leaf)

	s, err := New(key)
	require.NoError(t, err)
	defer s.Close()
	s.key = noGoSign{key}
	srvCfg := &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: s, Leaf: leaf}}}

	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		srvErr := make(chan error, 1)
		go func() {
			a, err := ln.Accept()
			if err != nil {
				srvErr <- err
				return
			}
			c := tls.Server(a, srvCfg)
			srvErr <- c.Handshake()
			_ = c.Close()
		}()
		b, err := net.Dial("tcp", ln.Addr().String())
		require.NoError(t, err)
		c := tls.Client(b, &tls.Config{ServerName: "signer.test", RootCAs: roots, MinVersion: v, MaxVersion: v})
		require.NoError(t, c.Handshake(), "version %x", v)
		require.Equal(t, v, c.ConnectionState().Version)
		_ = c.Close()
		require.NoError(t, <-srvErr)
		_ = ln.Close()
	}
}
