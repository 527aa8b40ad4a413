package sslcache_test

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/proxyblocks/proxyblocks/internal/testcert"
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

// makeTestCert writes the certificate into a new directory under dir.
// An Example uses it too, so it runs without a test: testcert then
// panics on error, which comes back here as an error.
func makeTestCert(dir string) (tc *testCert, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	d, err := os.MkdirTemp(dir, "sslcache-cert")
	if err != nil {
		return nil, err
	}
	certDir = d
	c := testcert.SelfSigned(nil, serverName)
	tc = &testCert{cert: c.Certificate, pool: c.Pool(), certFile: filepath.Join(d, "cert.pem"), keyFile: filepath.Join(d, "key.pem")}
	c.WriteFiles(nil, tc.certFile, tc.keyFile, testcert.EC)
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
