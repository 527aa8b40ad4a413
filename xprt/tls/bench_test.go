package tls_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	stdtls "crypto/tls"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/proxyblocks/proxyblocks/internal/testnet"
	ptls "github.com/proxyblocks/proxyblocks/xprt/tls"
)

// benchSigner sets the RSA signer a benchmark named ".../signer=go" or
// ".../signer=openssl" asks for, until it ends; other names keep the
// default. The OpenSSL one needs libcrypto.
func benchSigner(b *testing.B, name string) {
	switch {
	case strings.HasSuffix(name, "/signer=openssl"):
		needOpenSSLSigner(b)
		withOpenSSLSigner(b, true)
	case strings.HasSuffix(name, "/signer=go"):
		withOpenSSLSigner(b, false)
	}
}

// BenchmarkHandshake measures handshakes per second over loopback, the
// server built by this package and a crypto/tls client in the same
// process (both sides' CPU is counted). Each connection carries one byte
// so that the client takes the TLS 1.3 ticket as real clients do.
func BenchmarkHandshake(b *testing.B) {
	p := newPKI(b)
	ecPEM := p.leaf("ec.pem", leafOpts{cn: "example.com", dns: []string{"example.com"}})
	rsaPEM := p.leaf("rsa.pem", leafOpts{cn: "example.com", dns: []string{"example.com"}, rsa: true})
	for _, bc := range []struct {
		name    string
		crt     string
		resume  bool
		version uint16
	}{
		{"full/ECDSA-P256/TLSv1.3", ecPEM, false, stdtls.VersionTLS13},
		{"full/RSA-2048/TLSv1.3/signer=openssl", rsaPEM, false, stdtls.VersionTLS13},
		{"full/RSA-2048/TLSv1.3/signer=go", rsaPEM, false, stdtls.VersionTLS13},
		{"full/ECDSA-P256/TLSv1.2", ecPEM, false, stdtls.VersionTLS12},
		{"full/RSA-2048/TLSv1.2/signer=openssl", rsaPEM, false, stdtls.VersionTLS12},
		{"full/RSA-2048/TLSv1.2/signer=go", rsaPEM, false, stdtls.VersionTLS12},
		{"resumed/ECDSA-P256/TLSv1.3", ecPEM, true, stdtls.VersionTLS13},
		{"resumed/RSA-2048/TLSv1.3", rsaPEM, true, stdtls.VersionTLS13},
		{"resumed/ECDSA-P256/TLSv1.2", ecPEM, true, stdtls.VersionTLS12},
	} {
		b.Run(bc.name, func(b *testing.B) {
			benchSigner(b, bc.name)
			in, err := ptls.NewInbound(ptls.BindConfig{Crt: []string{bc.crt}}, nil)
			require.NoError(b, err)
			addr, stop := benchServer(b, in)
			defer stop()
			cfg := &stdtls.Config{ServerName: "example.com", InsecureSkipVerify: true, MaxVersion: bc.version}
			if bc.resume {
				cfg.ClientSessionCache = stdtls.NewLRUClientSessionCache(1)
				benchDial(b, addr, cfg)
			}
			b.ResetTimer()
			start := time.Now()
			for i := 0; i < b.N; i++ {
				if resumed := benchDial(b, addr, cfg); resumed != bc.resume {
					b.Fatalf("resumed=%v, want %v", resumed, bc.resume)
				}
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "handshakes/s")
		})
	}
}

func benchServer(b *testing.B, in *ptls.Inbound) (string, func()) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(b, err)
	return ln.Addr().String(), testnet.Accept(ln, func(c net.Conn) {
		tc := in.Server(c)
		defer tc.Close()
		if tc.Handshake(context.Background()) != nil {
			return
		}
		_, _ = tc.Write([]byte{'x'})
		_, _ = io.Copy(io.Discard, tc)
	})
}

func benchDial(b *testing.B, addr string, cfg *stdtls.Config) bool {
	raw, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	c := stdtls.Client(raw, cfg)
	defer c.Close()
	var one [1]byte
	if _, err := io.ReadFull(c, one[:]); err != nil {
		b.Fatal(err)
	}
	return c.ConnectionState().DidResume
}

// BenchmarkSign isolates the private-key operation a full handshake's
// server does once: an RSA-2048 PSS signature (in libcrypto and in
// crypto/rsa) against an ECDSA P-256 one.
func BenchmarkSign(b *testing.B) {
	p := newPKI(b)
	pss := &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA256}
	for _, bc := range []struct {
		name string
		o    leafOpts
		opts crypto.SignerOpts
	}{
		{"RSA-2048-PSS/signer=openssl", leafOpts{cn: "r", rsa: true}, pss},
		{"RSA-2048-PSS/signer=go", leafOpts{cn: "r", rsa: true}, pss},
		{"ECDSA-P256", leafOpts{cn: "e"}, crypto.SHA256},
	} {
		b.Run(bc.name, func(b *testing.B) {
			benchSigner(b, bc.name)
			c, err := ptls.LoadCertificate(p.leaf(strings.ReplaceAll(bc.name, "/", "-")+".pem", bc.o))
			require.NoError(b, err)
			signer := c.Cert.PrivateKey.(crypto.Signer)
			digest := sha256.Sum256([]byte("transcript"))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := signer.Sign(rand.Reader, digest[:], bc.opts); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
