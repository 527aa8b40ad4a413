package tls_test

import (
	"bufio"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/proxyblocks/proxyblocks/internal/testnet"
	"github.com/proxyblocks/proxyblocks/xprt"
	ptls "github.com/proxyblocks/proxyblocks/xprt/tls"
)

// RSA key generation is slow, so one key serves every RSA certificate.
var (
	rsaOnce sync.Once
	rsaKey  *rsa.PrivateKey
)

func sharedRSA(t testing.TB) *rsa.PrivateKey {
	rsaOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		rsaKey = k
	})
	return rsaKey
}

// pki is a test CA writing leaf PEM files into a temporary directory.
type pki struct {
	t      testing.TB
	dir    string
	cert   *x509.Certificate
	key    crypto.Signer
	caFile string
	serial int64
}

func newPKI(t testing.TB) *pki {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "proxyblocks test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	p := &pki{t: t, dir: t.TempDir(), cert: cert, key: key, serial: 1}
	p.caFile = filepath.Join(p.dir, "ca.pem")
	require.NoError(t, os.WriteFile(p.caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	return p
}

// leafOpts describes one certificate to issue.
type leafOpts struct {
	cn     string
	dns    []string
	rsa    bool
	client bool
	keyFmt string // "pkcs8" (default), "pkcs1", "ec", "separate"
}

// leaf issues a certificate and writes chain then key into file, in the
// form HAProxy reads. It returns the file path.
func (p *pki) leaf(file string, o leafOpts) string {
	t := p.t
	t.Helper()
	var key crypto.Signer
	if o.rsa {
		key = sharedRSA(t)
	} else {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		require.NoError(t, err)
		key = k
	}
	p.serial++
	usage := x509.ExtKeyUsageServerAuth
	if o.client {
		usage = x509.ExtKeyUsageClientAuth
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(p.serial),
		Subject:      pkix.Name{CommonName: o.cn},
		DNSNames:     o.dns,
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{usage},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.cert, key.Public(), p.key)
	require.NoError(t, err)
	var kb *pem.Block
	switch o.keyFmt {
	case "pkcs1":
		kb = &pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key.(*rsa.PrivateKey))}
	case "ec":
		b, err := x509.MarshalECPrivateKey(key.(*ecdsa.PrivateKey))
		require.NoError(t, err)
		kb = &pem.Block{Type: "EC PRIVATE KEY", Bytes: b}
	default:
		b, err := x509.MarshalPKCS8PrivateKey(key)
		require.NoError(t, err)
		kb = &pem.Block{Type: "PRIVATE KEY", Bytes: b}
	}
	path := filepath.Join(p.dir, file)
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o700))
	data := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	data = append(data, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.cert.Raw})...)
	if o.keyFmt == "separate" {
		require.NoError(t, os.WriteFile(path+".key", pem.EncodeToMemory(kb), 0o600))
	} else {
		data = append(data, pem.EncodeToMemory(kb)...)
	}
	require.NoError(t, os.WriteFile(path, data, 0o600))
	return path
}

// pemParts writes the leaf certificate and the key of a PEM file into
// two files, as openssl -cert/-key want them.
func pemParts(t testing.TB, path string) (certFile, keyFile string) {
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	var certs, keys []byte
	for rest := data; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			break
		}
		if b.Type == "CERTIFICATE" {
			certs = append(certs, pem.EncodeToMemory(b)...)
		} else {
			keys = append(keys, pem.EncodeToMemory(b)...)
		}
	}
	certFile, keyFile = path+".crt", path+".k"
	require.NoError(t, os.WriteFile(certFile, certs, 0o600))
	require.NoError(t, os.WriteFile(keyFile, keys, 0o600))
	return certFile, keyFile
}

// testServer accepts on 127.0.0.1 and, after each handshake, reports the
// negotiated Info and answers: "line" mode writes one line describing the
// session and closes; "http" mode reads a request and answers with the
// same line as body.
type testServer struct {
	addr  string
	port  string
	infos chan xprt.Info
	errs  chan error
}

func describe(i xprt.Info) string {
	cn := ""
	if len(i.PeerCertificates) > 0 {
		cn = i.PeerCertificates[0].Subject.CommonName
	}
	return fmt.Sprintf("sni=%s version=%s cipher=%s alpn=%s resumed=%v client=%s verified=%v",
		i.ServerName, ptls.VersionName(i.Version), ptls.CipherName(i.CipherSuite), i.ALPN, i.Resumed, cn, i.Verified)
}

func serve(t testing.TB, in *ptls.Inbound, mode string) *testServer {
	t.Helper()
	ln := testnet.Listen(t)
	s := &testServer{addr: ln.Addr().String(), infos: make(chan xprt.Info, 64), errs: make(chan error, 64)}
	_, s.port, _ = net.SplitHostPort(s.addr)
	t.Cleanup(testnet.Accept(ln, func(c net.Conn) { s.handle(in.Server(c), mode) }))
	return s
}

func (s *testServer) handle(c *ptls.Conn, mode string) {
	defer c.Close()
	// A guard against a stuck peer, not a measured limit.
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if err := c.Handshake(context.Background()); err != nil {
		s.errs <- err
		return
	}
	info := c.Info()
	s.infos <- info
	line := describe(info)
	switch mode {
	case "http":
		br := bufio.NewReader(c)
		for {
			l, err := br.ReadString('\n')
			if err != nil {
				return
			}
			if l == "\r\n" {
				break
			}
		}
		fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s\n", len(line)+1, line)
	default:
		fmt.Fprintf(c, "%s\n", line)
		_ = c.CloseWrite()
		buf := make([]byte, 512)
		for {
			if _, err := c.Read(buf); err != nil {
				return
			}
		}
	}
}

// needTool skips when a binary is missing, unless CI=true.
func needTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is required when CI=true: %v", name, err)
		}
		t.Skipf("%s not installed; skipping interop test", name)
	}
	return p
}

// sClient runs openssl s_client against addr and returns its output.
func sClient(t testing.TB, addr string, args ...string) string {
	t.Helper()
	bin := needTool(t, "openssl")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	full := append([]string{"s_client", "-connect", addr, "-ign_eof"}, args...)
	out, _ := exec.CommandContext(ctx, bin, full...).CombinedOutput()
	return string(out)
}
