package sslcache_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/proxyblocks/proxyblocks/internal/testnet"
)

const serverName = "example.test"

// testCert is a self-signed ECDSA certificate for serverName, written to
// files so that a child process can load the same one.
type testCert struct {
	cert     tls.Certificate
	pool     *x509.CertPool
	certFile string
	keyFile  string
}

var (
	certDir  string
	certOnce sync.Once
	certVal  *testCert
	certErr  error
)

func newTestCert(t testing.TB) *testCert {
	t.Helper()
	tc, err := sharedCert()
	require.NoError(t, err)
	return tc
}

// sharedCert makes the certificate once per test binary; its files are
// removed by TestMain.
func sharedCert() (*testCert, error) {
	certOnce.Do(func() {
		certVal, certErr = makeTestCert(os.TempDir())
	})
	return certVal, certErr
}

func makeTestCert(dir string) (*testCert, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: serverName},
		DNSNames:              []string{serverName},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, err
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, err
	}
	d, err := os.MkdirTemp(dir, "sslcache-cert")
	if err != nil {
		return nil, err
	}
	certDir = d
	tc := &testCert{certFile: filepath.Join(d, "cert.pem"), keyFile: filepath.Join(d, "key.pem")}
	cpem := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	kpem := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
	if err := os.WriteFile(tc.certFile, cpem, 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(tc.keyFile, kpem, 0o600); err != nil {
		return nil, err
	}
	if tc.cert, err = tls.X509KeyPair(cpem, kpem); err != nil {
		return nil, err
	}
	tc.pool = x509.NewCertPool()
	tc.pool.AppendCertsFromPEM(cpem)
	return tc, nil
}

// tlsServer accepts on 127.0.0.1, completes each handshake, writes one
// line (so a TLS 1.3 client reads the session ticket sent before it) and
// waits for the client to close.
type tlsServer struct {
	stop func()
	addr string
}

func startServer(t testing.TB, cfg *tls.Config) *tlsServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s := serve(ln, cfg)
	t.Cleanup(s.Close)
	return s
}

func serve(ln net.Listener, cfg *tls.Config) *tlsServer {
	s := &tlsServer{addr: ln.Addr().String()}
	s.stop = testnet.Accept(ln, func(c net.Conn) {
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		tc := tls.Server(c, cfg)
		if tc.Handshake() != nil {
			return
		}
		_, _ = tc.Write([]byte("hello\n"))
		_, _ = io.Copy(io.Discard, tc)
	})
	return s
}

// Close stops accepting and waits for every connection's handler.
func (s *tlsServer) Close() { s.stop() }

func serverConfig(tc *testCert, version uint16) *tls.Config {
	return &tls.Config{
		Certificates: []tls.Certificate{tc.cert},
		MinVersion:   version,
		MaxVersion:   version,
	}
}

func clientConfig(tc *testCert, version uint16, cache tls.ClientSessionCache) *tls.Config {
	return &tls.Config{
		ServerName:         serverName,
		RootCAs:            tc.pool,
		MinVersion:         version,
		MaxVersion:         version,
		ClientSessionCache: cache,
	}
}

// dial completes one connection and reports whether it resumed.
func dial(t testing.TB, addr string, cfg *tls.Config) bool {
	t.Helper()
	c, err := tls.Dial("tcp", addr, cfg)
	require.NoError(t, err)
	defer c.Close()
	buf := make([]byte, 6)
	_, err = io.ReadFull(c, buf)
	require.NoError(t, err)
	require.Equal(t, "hello\n", string(buf))
	return c.ConnectionState().DidResume
}
