package sslcache_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
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
	ln   net.Listener
	wg   sync.WaitGroup
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
	s := &tlsServer{ln: ln, addr: ln.Addr().String()}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(10 * time.Second))
				tc := tls.Server(c, cfg)
				if tc.Handshake() != nil {
					return
				}
				_, _ = tc.Write([]byte("hello\n"))
				_, _ = io.Copy(io.Discard, tc)
			}()
		}
	}()
	return s
}

func (s *tlsServer) Close() {
	_ = s.ln.Close()
	s.wg.Wait()
}

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

// leakCheck fails the test if goroutines or file descriptors opened
// during it are still there at its end.
func leakCheck(t *testing.T) {
	t.Helper()
	g0, fd0 := runtime.NumGoroutine(), countFDs(t)
	t.Cleanup(func() {
		var g, fd int
		for range 200 {
			g, fd = runtime.NumGoroutine(), countFDs(t)
			if g <= g0 && fd <= fd0 {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		buf := make([]byte, 1<<16)
		n := runtime.Stack(buf, true)
		t.Errorf("leak: goroutines %d -> %d, fds %d -> %d\n%s", g0, g, fd0, fd, buf[:n])
	})
}

func countFDs(t *testing.T) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if errors.Is(err, os.ErrNotExist) {
		t.Skip("no /proc/self/fd on this system")
	}
	require.NoError(t, err)
	return len(ents)
}
