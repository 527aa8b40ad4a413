package balancer

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/proxyblocks/proxyblocks/internal/testcert"
	"github.com/proxyblocks/proxyblocks/internal/testnet"
	"github.com/stretchr/testify/require"
)

// testPKI is a CA, a server certificate it signed for a.example,
// b.example and blocked.example (crt, for "crt"), the CA file (for
// "ca-file"), and a client certificate it signed.
type testPKI struct {
	crt, ca string
	roots   *x509.CertPool
	client  tls.Certificate
}

func newTestPKI(t *testing.T) *testPKI {
	t.Helper()
	dir := t.TempDir()
	ca := testcert.NewCA(t, "test CA")
	srv := ca.Issue(t, testcert.Options{CN: "a.example", Names: []string{"a.example", "b.example", "blocked.example", "127.0.0.1"}})
	cli := ca.Issue(t, testcert.Options{CN: "alice", Names: []string{"127.0.0.1"}, Client: true})
	p := &testPKI{crt: filepath.Join(dir, "server.pem"), ca: filepath.Join(dir, "ca.pem"), roots: ca.Pool(), client: cli.Certificate}
	srv.WritePEM(t, p.crt, testcert.EC)
	ca.WriteFiles(t, p.ca, "", testcert.PKCS8)
	return p
}

// tlsVariant is one client: the baseline (TLS 1.3, SNI a.example, ALPN
// http/1.1, no certificate) with one thing changed, each of which one of
// the five fetches tells apart.
type tlsVariant struct {
	name  string
	plain bool
	sni   string
	alpn  []string
	max   uint16
	cert  bool
}

var tlsVariants = []tlsVariant{
	{name: "baseline"},
	{name: "plain", plain: true},                  // ssl_fc
	{name: "sni", sni: "b.example"},               // ssl_fc_sni
	{name: "alpn", alpn: []string{"h2"}},          // ssl_fc_alpn
	{name: "protocol", max: tls.VersionTLS12},     // ssl_fc_protocol
	{name: "client certificate", cert: true},      // ssl_c_used
	{name: "blocked sni", sni: "blocked.example"}, // ssl_fc_sni again
}

func (v tlsVariant) config(p *testPKI) *tls.Config {
	c := &tls.Config{RootCAs: p.roots, ServerName: "a.example", NextProtos: []string{"http/1.1"}}
	if v.sni != "" {
		c.ServerName = v.sni
	}
	if v.alpn != nil {
		c.NextProtos = v.alpn
	}
	if v.max != 0 {
		c.MaxVersion = v.max
	}
	if v.cert {
		c.Certificates = []tls.Certificate{p.client}
	}
	return c
}

// checkedByHAProxy runs haproxy -c on a configuration: the forms the tests
// use are ones haproxy accepts.
func checkedByHAProxy(t *testing.T, cfg string) {
	t.Helper()
	bin, err := exec.LookPath("haproxy")
	if err != nil {
		bin = "/usr/sbin/haproxy"
		if _, err := os.Stat(bin); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("haproxy is required when CI=true: %v", err)
			}
			t.Log("haproxy not installed: not checking the configuration with haproxy -c")
			return
		}
	}
	// haproxy -c refuses port 0; any fixed port will do for a check.
	cfg = strings.ReplaceAll(cfg, "127.0.0.1:0", "127.0.0.1:1")
	path := filepath.Join(t.TempDir(), "haproxy.cfg")
	require.NoError(t, os.WriteFile(path, []byte(cfg), 0o600))
	out, err := exec.Command(bin, "-c", "-f", path).CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.NotContains(t, string(out), "WARNING", "%s", out)
}

// In TCP mode, "tcp-request session" rules run after the handshake and
// see what it negotiated: each of ssl_fc, ssl_fc_sni, ssl_fc_alpn,
// ssl_fc_protocol and ssl_c_used rejects exactly the client that differs
// from the baseline in what it looks at.
func TestSSLFetchesTCPSessionRules(t *testing.T) {
	testnet.LeakCheck(t)
	p := newTestPKI(t)
	srv := newServer(t, "greet", false)
	text := fmt.Sprintf(`defaults
    mode tcp
    timeout connect 5s
    timeout client 10s
    timeout server 10s
frontend f
    bind 127.0.0.1:0 ssl crt %[1]s ca-file %[2]s verify optional alpn h2,http/1.1
    bind 127.0.0.1:0
    acl tls ssl_fc
    tcp-request session reject unless tls
    tcp-request session reject if { ssl_fc_sni -m str b.example }
    tcp-request session reject if { ssl_fc_alpn -m str h2 }
    tcp-request session reject if { ssl_fc_protocol -m str TLSv1.2 }
    tcp-request session reject if { ssl_c_used }
    default_backend b
backend b
    server s %[3]s
`, p.crt, p.ca, srv.addr())
	checkedByHAProxy(t, text)
	b, _ := startLB(t, parseCfg(t, "%s", text))
	addrs := b.Addrs("f")
	require.Len(t, addrs, 2)
	for _, v := range tlsVariants {
		t.Run(v.name, func(t *testing.T) {
			var c net.Conn
			var err error
			d := &net.Dialer{Timeout: 5 * time.Second}
			if v.plain {
				c, err = d.Dial("tcp", addrs[1].String())
			} else {
				c, err = tls.DialWithDialer(d, "tcp", addrs[0].String(), v.config(p))
			}
			require.NoError(t, err)
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(10 * time.Second))
			line, _ := bufio.NewReader(c).ReadString('\n')
			if v.name == "baseline" || v.name == "blocked sni" {
				require.Equal(t, "greet\n", line)
			} else {
				require.Empty(t, line, "the session rules should have closed the connection")
			}
		})
	}
	require.NoError(t, b.Close())
}

// In HTTP mode, use_backend and http-request deny see the same facts:
// each fetch sends its client to its own backend, and ssl_fc_sni denies
// one.
func TestSSLFetchesHTTPRules(t *testing.T) {
	testnet.LeakCheck(t)
	p := newTestPKI(t)
	names := []string{"def", "plain", "sni", "h2", "v12", "cert"}
	backs := map[string]*httpBackend{}
	var be strings.Builder
	for _, n := range names {
		backs[n] = newHTTPBackend(t, n)
		fmt.Fprintf(&be, "backend b_%s\n    server s %s\n", n, backs[n].addr())
	}
	text := fmt.Sprintf(httpDefaults+`frontend f
    bind 127.0.0.1:0 ssl crt %[1]s ca-file %[2]s verify optional alpn h2,http/1.1
    bind 127.0.0.1:0
    acl tls ssl_fc
    http-request deny if { ssl_fc_sni -m str blocked.example }
    use_backend b_plain unless tls
    use_backend b_sni if { ssl_fc_sni -m str b.example }
    use_backend b_h2 if { ssl_fc_alpn -m str h2 }
    use_backend b_v12 if { ssl_fc_protocol -m str TLSv1.2 }
    use_backend b_cert if { ssl_c_used }
    default_backend b_def
%[3]s`, p.crt, p.ca, be.String())
	checkedByHAProxy(t, text)
	b, _ := startLB(t, parseCfg(t, "%s", text))
	addrs := b.Addrs("f")
	require.Len(t, addrs, 2)
	want := map[string]string{
		"baseline": "hello from def", "plain": "hello from plain", "sni": "hello from sni",
		"alpn": "hello from h2", "protocol": "hello from v12", "client certificate": "hello from cert",
		"blocked sni": "403",
	}
	for _, v := range tlsVariants {
		t.Run(v.name, func(t *testing.T) {
			tr := &http.Transport{DisableKeepAlives: true}
			url := "http://" + addrs[1].String() + "/"
			if !v.plain {
				tr.TLSClientConfig = v.config(p)
				tr.ForceAttemptHTTP2 = v.alpn != nil
				url = "https://" + addrs[0].String() + "/"
			}
			defer tr.CloseIdleConnections()
			c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
			resp, err := c.Get(url)
			require.NoError(t, err)
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			require.NoError(t, err)
			if v.alpn != nil {
				require.Equal(t, 2, resp.ProtoMajor, "ALPN h2 should give HTTP/2")
			}
			if want[v.name] == "403" {
				require.Equal(t, http.StatusForbidden, resp.StatusCode)
				return
			}
			require.Equal(t, http.StatusOK, resp.StatusCode)
			require.Contains(t, string(body), want[v.name])
		})
	}
	require.NoError(t, b.Close())
}
