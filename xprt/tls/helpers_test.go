package tls_test

import (
	"bufio"
	"context"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/proxyblocks/proxyblocks/internal/testcert"
	"github.com/proxyblocks/proxyblocks/internal/testnet"
	"github.com/proxyblocks/proxyblocks/xprt"
	ptls "github.com/proxyblocks/proxyblocks/xprt/tls"
)

// pki is a test CA writing leaf PEM files into a temporary directory.
type pki struct {
	t      testing.TB
	dir    string
	ca     *testcert.CA
	caFile string
}

func newPKI(t testing.TB) *pki {
	t.Helper()
	p := &pki{t: t, dir: t.TempDir(), ca: testcert.NewCA(t, "proxyblocks test CA")}
	p.caFile = filepath.Join(p.dir, "ca.pem")
	p.ca.WriteFiles(t, p.caFile, "", testcert.PKCS8)
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
	p.t.Helper()
	c := p.ca.Issue(p.t, testcert.Options{CN: o.cn, Names: o.dns, RSA: o.rsa, Client: o.client})
	path := filepath.Join(p.dir, file)
	f := map[string]testcert.KeyFormat{"pkcs1": testcert.PKCS1, "ec": testcert.EC}[o.keyFmt] // PKCS8 otherwise
	if o.keyFmt == "separate" {
		c.WriteFiles(p.t, path, path+".key", f)
		return path
	}
	return c.WritePEM(p.t, path, f)
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
