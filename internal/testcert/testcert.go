// Package testcert makes the certificates the project's tests need: a
// self-signed leaf, or a certificate authority and the server and client
// certificates it signs, with a pool trusting them and PEM files in the
// forms HAProxy and OpenSSL read.
//
// It is internal test plumbing shared by the project's tests, not an API
// for users. Its functions take the test's testing.TB and fail the test
// on error; a nil testing.TB (in an Example or TestMain, which have none)
// makes an error panic instead.
package testcert

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// Options describes a certificate a CA issues.
type Options struct {
	// CN is the subject's common name; empty takes the first of Names.
	CN string
	// Names are the subject alternative names: IP literals become IP
	// addresses, anything else a DNS name.
	Names []string
	// RSA picks an RSA-2048 key over ECDSA P-256. Every RSA certificate
	// of a test binary shares one key, as RSA keys are slow to make.
	RSA bool
	// Client makes a client certificate (extended key usage client
	// authentication) rather than a server one.
	Client bool
}

// Cert is a certificate with its key. The embedded tls.Certificate holds
// the chain, leaf first then the issuing CA (if any), the private key
// and the parsed leaf, ready for a tls.Config.
type Cert struct {
	tls.Certificate
	// Root is the certificate a peer must trust: the issuing CA, or the
	// certificate itself when self-signed.
	Root *x509.Certificate
}

// CA is a certificate authority issuing certificates for one test.
type CA struct {
	Cert
	mu     sync.Mutex
	serial int64
}

// KeyFormat is how a private key is written in PEM.
type KeyFormat int

// The key formats HAProxy and OpenSSL read.
const (
	PKCS8 KeyFormat = iota // "PRIVATE KEY", any key type
	PKCS1                  // "RSA PRIVATE KEY", RSA keys only
	EC                     // "EC PRIVATE KEY", ECDSA keys only
)

var (
	rsaOnce sync.Once
	rsaKey  *rsa.PrivateKey
	rsaErr  error
)

// fail ends t's test with err, or panics when there is no test.
func fail(t testing.TB, err error) {
	if err == nil {
		return
	}
	if t == nil {
		panic(fmt.Sprintf("testcert: %v", err))
	}
	t.Helper()
	t.Fatalf("testcert: %v", err)
}

func newKey(t testing.TB, useRSA bool) crypto.Signer {
	if t != nil {
		t.Helper()
	}
	if useRSA {
		rsaOnce.Do(func() { rsaKey, rsaErr = rsa.GenerateKey(rand.Reader, 2048) })
		fail(t, rsaErr)
		return rsaKey
	}
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	fail(t, err)
	return k
}

// template is a certificate valid from an hour ago for a day.
func template(serial int64, cn string, names []string) *x509.Certificate {
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
	}
	if cn == "" && len(names) > 0 {
		tmpl.Subject.CommonName = names[0]
	}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	return tmpl
}

// leafUsage sets tmpl up as a server or client certificate.
func leafUsage(tmpl *x509.Certificate, client bool) {
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment
	tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	if client {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
}

// sign makes the certificate tmpl describes for key, signed by parent's
// key (tmpl itself signs when parent is nil).
func sign(t testing.TB, tmpl *x509.Certificate, key crypto.Signer, parent *Cert) Cert {
	if t != nil {
		t.Helper()
	}
	issuer, signer := tmpl, key
	if parent != nil {
		issuer, signer = parent.Leaf, parent.PrivateKey.(crypto.Signer)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, issuer, key.Public(), signer)
	fail(t, err)
	leaf, err := x509.ParseCertificate(der)
	fail(t, err)
	c := Cert{Certificate: tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, Root: leaf}
	if parent != nil {
		c.Certificate.Certificate = append(c.Certificate.Certificate, parent.Leaf.Raw)
		c.Root = parent.Leaf
	}
	return c
}

// SelfSigned returns a self-signed ECDSA P-256 server certificate for
// names (IP literals become IP addresses), its common name the first of
// them.
func SelfSigned(t testing.TB, names ...string) *Cert {
	if t != nil {
		t.Helper()
	}
	tmpl := template(1, "", names)
	leafUsage(tmpl, false)
	c := sign(t, tmpl, newKey(t, false), nil)
	return &c
}

// NewCA returns a certificate authority whose ECDSA P-256 certificate
// has cn as its common name.
func NewCA(t testing.TB, cn string) *CA {
	if t != nil {
		t.Helper()
	}
	tmpl := template(1, cn, nil)
	tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
	tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature
	return &CA{Cert: sign(t, tmpl, newKey(t, false), nil), serial: 1}
}

// Issue returns a certificate ca signs as o describes. Serial numbers
// count up from 2 in the order of issue (the CA's own is 1).
func (ca *CA) Issue(t testing.TB, o Options) *Cert {
	if t != nil {
		t.Helper()
	}
	ca.mu.Lock()
	ca.serial++
	serial := ca.serial
	ca.mu.Unlock()
	tmpl := template(serial, o.CN, o.Names)
	leafUsage(tmpl, o.Client)
	c := sign(t, tmpl, newKey(t, o.RSA), &ca.Cert)
	return &c
}

// Pool returns a pool trusting c's Root.
func (c *Cert) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(c.Root)
	return p
}

// ChainPEM returns c's chain in PEM, leaf first.
func (c *Cert) ChainPEM() []byte {
	var out []byte
	for _, der := range c.Certificate.Certificate {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	}
	return out
}

// KeyPEM returns c's private key in PEM, in format f.
func (c *Cert) KeyPEM(t testing.TB, f KeyFormat) []byte {
	if t != nil {
		t.Helper()
	}
	var b *pem.Block
	switch key := c.PrivateKey.(type) {
	case *rsa.PrivateKey:
		if f == PKCS1 {
			b = &pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}
		}
	case *ecdsa.PrivateKey:
		if f == EC {
			der, err := x509.MarshalECPrivateKey(key)
			fail(t, err)
			b = &pem.Block{Type: "EC PRIVATE KEY", Bytes: der}
		}
	}
	if b == nil {
		if f != PKCS8 {
			fail(t, fmt.Errorf("key format %d does not fit a %T", f, c.PrivateKey))
		}
		der, err := x509.MarshalPKCS8PrivateKey(c.PrivateKey)
		fail(t, err)
		b = &pem.Block{Type: "PRIVATE KEY", Bytes: der}
	}
	return pem.EncodeToMemory(b)
}

// WritePEM writes c's chain then its key (in format f) into one file at
// path, the form HAProxy's "crt" reads, making path's directory if need
// be, and returns path.
func (c *Cert) WritePEM(t testing.TB, path string, f KeyFormat) string {
	if t != nil {
		t.Helper()
	}
	write(t, path, append(c.ChainPEM(), c.KeyPEM(t, f)...))
	return path
}

// WriteFiles writes c's chain to certPath and its key (in format f) to
// keyPath, making their directories if need be. An empty keyPath writes
// the chain alone, as a CA file.
func (c *Cert) WriteFiles(t testing.TB, certPath, keyPath string, f KeyFormat) {
	if t != nil {
		t.Helper()
	}
	write(t, certPath, c.ChainPEM())
	if keyPath != "" {
		write(t, keyPath, c.KeyPEM(t, f))
	}
}

func write(t testing.TB, path string, data []byte) {
	if t != nil {
		t.Helper()
	}
	fail(t, os.MkdirAll(filepath.Dir(path), 0o700))
	fail(t, os.WriteFile(path, data, 0o600))
}

// Configs returns a server config serving a self-signed certificate for
// name and a client config that trusts it and asks for name.
func Configs(t testing.TB, name string) (server, client *tls.Config) {
	t.Helper()
	c := SelfSigned(t, name)
	return &tls.Config{Certificates: []tls.Certificate{c.Certificate}},
		&tls.Config{ServerName: name, RootCAs: c.Pool()}
}

// Handshake runs client's handshake and server's at once, and fails t if
// either fails. server is typically an xprt transport.
func Handshake(t testing.TB, client *tls.Conn, server interface {
	Handshake(context.Context) error
}) {
	t.Helper()
	hs := make(chan error, 1)
	go func() { hs <- server.Handshake(context.Background()) }()
	fail(t, client.Handshake())
	fail(t, <-hs)
}
