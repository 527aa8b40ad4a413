package testcert_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/proxyblocks/proxyblocks/internal/testcert"
)

// verify checks c's chain against pool for usage and name.
func verify(t *testing.T, c *testcert.Cert, pool *x509.CertPool, usage x509.ExtKeyUsage, name string) error {
	t.Helper()
	inter := x509.NewCertPool()
	for _, der := range c.Certificate.Certificate[1:] {
		ic, err := x509.ParseCertificate(der)
		require.NoError(t, err)
		inter.AddCert(ic)
	}
	_, err := c.Leaf.Verify(x509.VerifyOptions{Roots: pool, Intermediates: inter, DNSName: name, KeyUsages: []x509.ExtKeyUsage{usage}})
	return err
}

func TestSelfSigned(t *testing.T) {
	c := testcert.SelfSigned(t, "127.0.0.1", "localhost", "::1")
	require.Equal(t, "127.0.0.1", c.Leaf.Subject.CommonName, "CN is the first name")
	require.Equal(t, []string{"localhost"}, c.Leaf.DNSNames)
	require.Len(t, c.Leaf.IPAddresses, 2)
	require.True(t, c.Leaf.IPAddresses[0].Equal(net.IPv4(127, 0, 0, 1)))
	require.True(t, c.Leaf.IPAddresses[1].Equal(net.IPv6loopback))
	require.Len(t, c.Certificate.Certificate, 1, "a self-signed chain is the leaf alone")
	require.Same(t, c.Leaf, c.Root)
	require.False(t, c.Leaf.IsCA)
	key, ok := c.PrivateKey.(*ecdsa.PrivateKey)
	require.True(t, ok, "%T", c.PrivateKey)
	require.Equal(t, elliptic.P256(), key.Curve)
	require.NoError(t, verify(t, c, c.Pool(), x509.ExtKeyUsageServerAuth, "localhost"))
	require.Error(t, verify(t, c, c.Pool(), x509.ExtKeyUsageServerAuth, "elsewhere.test"))
	require.Error(t, verify(t, c, testcert.SelfSigned(t, "localhost").Pool(), x509.ExtKeyUsageServerAuth, "localhost"),
		"another certificate's pool does not trust it")
	require.NotEqual(t, c.Leaf.PublicKey, testcert.SelfSigned(t, "localhost").Leaf.PublicKey, "ECDSA keys are fresh")
}

func TestCAIssue(t *testing.T) {
	ca := testcert.NewCA(t, "test CA")
	require.True(t, ca.Leaf.IsCA)
	require.Equal(t, "test CA", ca.Leaf.Subject.CommonName)
	require.EqualValues(t, 1, ca.Leaf.SerialNumber.Int64())

	srv := ca.Issue(t, testcert.Options{CN: "www.example.com", Names: []string{"example.com", "*.example.org"}})
	require.Equal(t, "www.example.com", srv.Leaf.Subject.CommonName)
	require.Equal(t, []string{"example.com", "*.example.org"}, srv.Leaf.DNSNames)
	require.EqualValues(t, 2, srv.Leaf.SerialNumber.Int64())
	require.Same(t, ca.Leaf, srv.Root)
	require.Equal(t, [][]byte{srv.Leaf.Raw, ca.Leaf.Raw}, srv.Certificate.Certificate, "chain is leaf then CA")
	require.NoError(t, verify(t, srv, ca.Pool(), x509.ExtKeyUsageServerAuth, "a.example.org"))
	require.NoError(t, verify(t, srv, srv.Pool(), x509.ExtKeyUsageServerAuth, "example.com"), "Pool trusts the root")
	require.Error(t, verify(t, srv, ca.Pool(), x509.ExtKeyUsageClientAuth, ""), "a server certificate is no client one")
	require.Error(t, verify(t, srv, testcert.NewCA(t, "other").Pool(), x509.ExtKeyUsageServerAuth, "example.com"))

	cli := ca.Issue(t, testcert.Options{CN: "alice", Client: true})
	require.EqualValues(t, 3, cli.Leaf.SerialNumber.Int64(), "serials count up")
	require.Empty(t, cli.Leaf.DNSNames)
	require.NoError(t, verify(t, cli, ca.Pool(), x509.ExtKeyUsageClientAuth, ""))
	require.Error(t, verify(t, cli, ca.Pool(), x509.ExtKeyUsageServerAuth, ""))

	r1 := ca.Issue(t, testcert.Options{Names: []string{"rsa.example.com"}, RSA: true})
	r2 := ca.Issue(t, testcert.Options{Names: []string{"rsa2.example.com"}, RSA: true})
	require.Equal(t, "rsa.example.com", r1.Leaf.Subject.CommonName)
	key, ok := r1.PrivateKey.(*rsa.PrivateKey)
	require.True(t, ok, "%T", r1.PrivateKey)
	require.Equal(t, 2048, key.N.BitLen())
	require.Same(t, r1.PrivateKey, r2.PrivateKey, "one RSA key serves every RSA certificate")
	require.NoError(t, verify(t, r1, ca.Pool(), x509.ExtKeyUsageServerAuth, "rsa.example.com"))
}

// blocks returns the PEM block types in data, in order.
func blocks(t *testing.T, data []byte) []string {
	t.Helper()
	var types []string
	for {
		var b *pem.Block
		if b, data = pem.Decode(data); b == nil {
			break
		}
		types = append(types, b.Type)
	}
	return types
}

func TestKeyFormats(t *testing.T) {
	ca := testcert.NewCA(t, "test CA")
	ec := ca.Issue(t, testcert.Options{CN: "ec"})
	rs := ca.Issue(t, testcert.Options{CN: "rsa", RSA: true})
	for _, tc := range []struct {
		cert *testcert.Cert
		f    testcert.KeyFormat
		typ  string
	}{
		{ec, testcert.PKCS8, "PRIVATE KEY"},
		{ec, testcert.EC, "EC PRIVATE KEY"},
		{rs, testcert.PKCS8, "PRIVATE KEY"},
		{rs, testcert.PKCS1, "RSA PRIVATE KEY"},
	} {
		k := tc.cert.KeyPEM(t, tc.f)
		require.Equal(t, []string{tc.typ}, blocks(t, k))
		pair, err := tls.X509KeyPair(tc.cert.ChainPEM(), k)
		require.NoError(t, err, tc.typ)
		require.Equal(t, tc.cert.Certificate.Certificate, pair.Certificate)
	}
	// A format that does not fit the key fails; without a test, it panics.
	require.Panics(t, func() { ec.KeyPEM(nil, testcert.PKCS1) })
	require.Panics(t, func() { rs.KeyPEM(nil, testcert.EC) })
}

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	ca := testcert.NewCA(t, "test CA")
	c := ca.Issue(t, testcert.Options{Names: []string{"example.com"}})

	one := c.WritePEM(t, filepath.Join(dir, "sub", "site.pem"), testcert.EC)
	require.Equal(t, filepath.Join(dir, "sub", "site.pem"), one)
	data, err := os.ReadFile(one)
	require.NoError(t, err)
	require.Equal(t, []string{"CERTIFICATE", "CERTIFICATE", "EC PRIVATE KEY"}, blocks(t, data), "chain then key")
	pair, err := tls.LoadX509KeyPair(one, one)
	require.NoError(t, err)
	require.Equal(t, c.Certificate.Certificate, pair.Certificate)

	certFile, keyFile := filepath.Join(dir, "a", "cert.pem"), filepath.Join(dir, "b", "key.pem")
	c.WriteFiles(t, certFile, keyFile, testcert.PKCS8)
	data, err = os.ReadFile(certFile)
	require.NoError(t, err)
	require.Equal(t, []string{"CERTIFICATE", "CERTIFICATE"}, blocks(t, data))
	data, err = os.ReadFile(keyFile)
	require.NoError(t, err)
	require.Equal(t, []string{"PRIVATE KEY"}, blocks(t, data))
	_, err = tls.LoadX509KeyPair(certFile, keyFile)
	require.NoError(t, err)

	caFile := filepath.Join(dir, "ca.pem")
	ca.WriteFiles(t, caFile, "", testcert.PKCS8)
	data, err = os.ReadFile(caFile)
	require.NoError(t, err)
	require.Equal(t, []string{"CERTIFICATE"}, blocks(t, data), "a CA file holds no key")
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(data))
	require.NoError(t, verify(t, c, pool, x509.ExtKeyUsageServerAuth, "example.com"))

	require.Panics(t, func() { c.WritePEM(nil, filepath.Join(one, "under-a-file.pem"), testcert.PKCS8) },
		"a write that fails panics without a test")
}

// recorder is a testing.TB whose Fatalf records the message and ends the
// goroutine, as testing's own does.
type recorder struct {
	testing.TB
	msg string
}

func (r *recorder) Helper() {}

func (r *recorder) Fatalf(format string, args ...any) {
	r.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func TestErrorFailsTheTest(t *testing.T) {
	ec := testcert.SelfSigned(t, "example.com")
	r := &recorder{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		ec.KeyPEM(r, testcert.PKCS1)
		r.msg = "went on"
	}()
	<-done
	require.Contains(t, r.msg, "testcert: key format")
}

// Configs and Handshake give a client and a server that agree on name.
func TestConfigsHandshake(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	scfg, ccfg := testcert.Configs(t, "pair.test")
	server := tls.Server(b, scfg)
	client := tls.Client(a, ccfg)
	testcert.Handshake(t, client, ctxConn{server})
	if got := server.ConnectionState().ServerName; got != "pair.test" {
		t.Fatalf("server saw SNI %q", got)
	}
	if len(client.ConnectionState().VerifiedChains) == 0 {
		t.Fatal("the client did not verify the server")
	}
}

// ctxConn gives a *tls.Conn the Handshake(ctx) of an xprt transport.
type ctxConn struct{ *tls.Conn }

func (c ctxConn) Handshake(ctx context.Context) error { return c.HandshakeContext(ctx) }
