package main

import (
	"bufio"
	"context"
	stdtls "crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/proxyblocks/proxyblocks/conn"
	"github.com/proxyblocks/proxyblocks/internal/testcert"
	"github.com/proxyblocks/proxyblocks/internal/testnet"
	lbtls "github.com/proxyblocks/proxyblocks/xprt/tls"
)

// testPKI is a certificate authority made for one test, writing PEM files
// into the test's temporary directory.
type testPKI struct {
	t      *testing.T
	dir    string
	auth   *testcert.CA
	ca     *x509.Certificate
	caFile string
}

func newPKI(t *testing.T, name string) *testPKI {
	t.Helper()
	auth := testcert.NewCA(t, name)
	p := &testPKI{t: t, dir: t.TempDir(), auth: auth, ca: auth.Leaf}
	p.caFile = filepath.Join(p.dir, name+"-ca.pem")
	auth.WriteFiles(t, p.caFile, "", testcert.PKCS8)
	return p
}

// issue writes a PEM file holding a certificate for cn (and the DNS
// names) and the CA's, followed by its key, as HAProxy's crt reads it,
// and returns its path. rsaKey picks RSA-2048 over ECDSA P-256.
func (p *testPKI) issue(file, cn string, dns []string, rsaKey, client bool) string {
	p.t.Helper()
	c := p.auth.Issue(p.t, testcert.Options{CN: cn, Names: dns, RSA: rsaKey, Client: client})
	return c.WritePEM(p.t, filepath.Join(p.dir, file), testcert.PKCS8)
}

// toolBin returns an external tool's path, skipping the test when it is
// absent unless CI=true.
func toolBin(t *testing.T, name string) string {
	t.Helper()
	bin, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is required when CI=true: %v", name, err)
		}
		t.Skipf("%s not installed: skipping", name)
	}
	return bin
}

// sClient runs openssl s_client against addr until the server closes,
// returning everything it printed and whether it exited cleanly.
func sClient(t *testing.T, addr string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, toolBin(t, "openssl"), append([]string{"s_client", "-connect", addr, "-ign_eof"}, args...)...)
	cmd.Stdin = strings.NewReader("")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// greeter answers every connection with line and closes it, after reading
// a PROXY header when ppv2 (then the line also tells the SSL TLV).
func greeter(t *testing.T, line string, ppv2 bool) string {
	t.Helper()
	return serveEach(t, func(c net.Conn) {
		msg := line
		if ppv2 {
			var h conn.ProxyHeader
			if err := conn.ReadProxyHeader(c, &h, 0); err != nil {
				msg = "bad proxy header: " + err.Error() + "\n"
			} else if ssl, ok := h.SSL(); ok {
				msg = fmt.Sprintf("ssl client=%d verify=%d version=%s cn=%s\n", ssl.Client, ssl.Verify, ssl.Version, ssl.CN)
			} else {
				msg = "no ssl tlv\n"
			}
		}
		_, _ = io.WriteString(c, msg)
	})
}

// httpServer answers one HTTP/1.1 request per connection with body.
func httpServer(t *testing.T, body string) string {
	t.Helper()
	return serveEach(t, func(c net.Conn) {
		r := bufio.NewReader(c)
		for {
			l, err := r.ReadString('\n')
			if err != nil || l == "\r\n" {
				break
			}
		}
		_, _ = fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", len(body), body)
	})
}

// serveEach runs handle for every connection, with ten seconds to finish.
func serveEach(t *testing.T, handle func(net.Conn)) string {
	t.Helper()
	return testnet.Serve(t, func(c net.Conn) {
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		handle(c)
	})
}

// countingStore counts the calls crypto/tls makes into a session store.
type countingStore struct {
	lbtls.SessionStore
	wraps, unwraps atomic.Int64
}

func (s *countingStore) Wrap(cs stdtls.ConnectionState, ss *stdtls.SessionState) ([]byte, error) {
	s.wraps.Add(1)
	return s.SessionStore.Wrap(cs, ss)
}

func (s *countingStore) Unwrap(label []byte, cs stdtls.ConnectionState) (*stdtls.SessionState, error) {
	s.unwraps.Add(1)
	return s.SessionStore.Unwrap(label, cs)
}
