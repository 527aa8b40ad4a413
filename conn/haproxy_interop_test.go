package conn

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/proxyblocks/proxyblocks/internal/testcert"
	"github.com/proxyblocks/proxyblocks/internal/testnet"
)

const haproxyBin = testnet.HAProxyBin

// needHAProxy skips or fails the test without haproxy (testnet.NeedHAProxy).
func needHAProxy(t *testing.T) { testnet.NeedHAProxy(t) }

// freePort returns a loopback port free at the time of the call.
func freePort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startHAProxy writes cfg to a temp dir, checks it, runs haproxy in the
// foreground until the test ends, and waits until port accepts.
func startHAProxy(t *testing.T, dir, cfg string, port int) {
	t.Helper()
	path := filepath.Join(dir, "haproxy.cfg")
	require.NoError(t, os.WriteFile(path, []byte(cfg), 0o600))
	if out, err := exec.Command(haproxyBin, "-c", "-f", path).CombinedOutput(); err != nil {
		t.Fatalf("haproxy rejects the config: %v\n%s\n%s", err, out, cfg)
	}
	var logs bytes.Buffer
	cmd := exec.Command(haproxyBin, "-db", "-f", path)
	cmd.Stdout, cmd.Stderr = &logs, &logs
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("haproxy output:\n%s", logs.String())
		}
	})
	for range 500 {
		if c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
			c.Close()
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("haproxy did not listen on %d", port)
}

const haproxyDefaults = `global
    maxconn 100
defaults
    timeout connect 5s
    timeout client 5s
    timeout server 5s
`

// TestHAProxySendsProxyToListener has haproxy relay clients to a Listener
// with send-proxy, send-proxy-v2 with TLVs, and send-proxy-v2 from a TLS
// frontend, and checks what the Listener learns.
func TestHAProxySendsProxyToListener(t *testing.T) {
	needHAProxy(t)
	testnet.LeakCheck(t)
	l := listen(t, ListenConfig{AcceptProxy: true})
	conns, stop := serve(t, l)
	defer stop()

	dir := t.TempDir()
	cert := testcert.SelfSigned(t, "front.test").WritePEM(t, filepath.Join(dir, "front.pem"), testcert.EC)
	pV1, pV2, pTLS := freePort(t), freePort(t), freePort(t)
	cfg := haproxyDefaults + fmt.Sprintf(`
frontend fe_v1
    mode tcp
    bind 127.0.0.1:%[1]d
    default_backend be_v1
backend be_v1
    mode tcp
    server s1 %[4]s send-proxy

frontend fe_v2
    mode tcp
    bind 127.0.0.1:%[2]d
    unique-id-format uid-%%[src]-%%[src_port]
    default_backend be_v2
backend be_v2
    mode tcp
    server s1 %[4]s send-proxy-v2 proxy-v2-options authority,unique-id,crc32c,ssl

frontend fe_tls
    mode tcp
    bind 127.0.0.1:%[3]d ssl crt %[5]s alpn h2,http/1.1
    unique-id-format tls-%%[src_port]
    default_backend be_tls
backend be_tls
    mode tcp
    server s1 %[4]s send-proxy-v2 proxy-v2-options authority,unique-id,crc32c,ssl,ssl-cipher
`, pV1, pV2, pTLS, l.Addr().String(), cert)
	startHAProxy(t, dir, cfg, pV1)

	// The readiness probes of startHAProxy were relayed too; drain them.
	drain := func() {
		for {
			select {
			case <-conns:
			default:
				return
			}
		}
	}

	check := func(t *testing.T, client net.Conn, local net.Addr) *Conn {
		_, err := client.Write([]byte("ping"))
		require.NoError(t, err)
		var c *Conn
		for c = range conns {
			if c.Src().String() == local.String() {
				break
			}
		}
		require.Equal(t, local.String(), c.Src().String(), "the true client address and port")
		require.Equal(t, "127.0.0.1", c.Dst().Addr().String())
		got := make([]byte, 4)
		_, err = io.ReadFull(client, got)
		require.NoError(t, err)
		require.Equal(t, "ping", string(got), "bytes after the header arrive intact")
		return c
	}

	t.Run("send-proxy", func(t *testing.T) {
		drain()
		client, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", pV1))
		require.NoError(t, err)
		defer client.Close()
		c := check(t, client, client.LocalAddr())
		require.Equal(t, uint8(1), c.ProxyHeader().Version)
		require.Equal(t, FamilyTCP4, c.ProxyHeader().Family)
	})

	t.Run("send-proxy-v2 TLVs", func(t *testing.T) {
		drain()
		client, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", pV2))
		require.NoError(t, err)
		defer client.Close()
		c := check(t, client, client.LocalAddr())
		h := c.ProxyHeader()
		require.Equal(t, uint8(2), h.Version)
		require.True(t, h.HasCRC32C(), "crc32c present (and verified by the parser)")
		src := client.LocalAddr().(*net.TCPAddr)
		require.Equal(t, fmt.Sprintf("uid-%s-%d", src.IP, src.Port), string(h.UniqueID()))
		ssl, ok := h.SSL()
		require.True(t, ok, "ssl TLV present")
		require.Zero(t, ssl.Client&SSLClientSSL, "plain client")
	})

	t.Run("send-proxy-v2 from TLS", func(t *testing.T) {
		drain()
		client, err := tls.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", pTLS), &tls.Config{
			ServerName: "front.test", InsecureSkipVerify: true, NextProtos: []string{"h2"},
			MinVersion: tls.VersionTLS13,
		})
		require.NoError(t, err)
		defer client.Close()
		c := check(t, client, client.LocalAddr())
		h := c.ProxyHeader()
		require.Equal(t, "front.test", h.Authority(), "authority from SNI")
		require.Equal(t, "h2", h.ALPN())
		require.True(t, h.HasCRC32C())
		require.Equal(t, fmt.Sprintf("tls-%d", client.LocalAddr().(*net.TCPAddr).Port), string(h.UniqueID()))
		ssl, ok := h.SSL()
		require.True(t, ok)
		require.NotZero(t, ssl.Client&SSLClientSSL)
		require.Equal(t, "TLSv1.3", ssl.Version)
		require.NotEmpty(t, ssl.Cipher)
	})
}

// TestDialerSendsProxyToHAProxy sends PROXY headers with a Dialer to an
// haproxy frontend with accept-proxy, which answers with what it saw.
func TestDialerSendsProxyToHAProxy(t *testing.T) {
	needHAProxy(t)
	testnet.LeakCheck(t)
	dir := t.TempDir()
	port := freePort(t)
	cfg := haproxyDefaults + fmt.Sprintf(`
frontend fe
    mode http
    bind 127.0.0.1:%d accept-proxy
    http-request return status 200 content-type text/plain lf-string "%%[src] %%[src_port] %%[dst] %%[dst_port] auth=%%[fc_pp_authority] uid=%%[fc_pp_unique_id]"
`, port)
	// The readiness probe sends no header; haproxy just drops it.
	startHAProxy(t, dir, cfg, port)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	ap := netip.MustParseAddrPort
	tests := []struct {
		name string
		d    Dialer
		ph   func() *ProxyHeader
		want string
	}{
		{"v1 tcp4", Dialer{SendProxy: 1}, func() *ProxyHeader {
			return NewProxyHeader(ap("203.0.113.5:40001"), ap("198.51.100.9:8443"))
		}, "203.0.113.5 40001 198.51.100.9 8443 auth= uid="},
		{"v1 tcp6", Dialer{SendProxy: 1}, func() *ProxyHeader {
			return NewProxyHeader(ap("[2001:db8::5]:40002"), ap("[2001:db8::9]:443"))
		}, "2001:db8::5 40002 2001:db8::9 443 auth= uid="},
		{"v2 tlvs crc32c", Dialer{SendProxy: 2}, func() *ProxyHeader {
			h := NewProxyHeader(ap("203.0.113.6:40003"), ap("198.51.100.9:443"))
			h.AddTLV(TLVAuthority, []byte("shop.example"))
			h.AddTLV(TLVUniqueID, []byte("abc-123"))
			h.AddCRC32C()
			h.AddSSL(SSLInfo{Client: SSLClientSSL, Version: "TLSv1.3"})
			return h
		}, "203.0.113.6 40003 198.51.100.9 443 auth=shop.example uid=abc-123"},
		{"v2 tcp6", Dialer{SendProxy: 2}, func() *ProxyHeader {
			return NewProxyHeader(ap("[2001:db8::7]:40004"), ap("[2001:db8::9]:80"))
		}, "2001:db8::7 40004 2001:db8::9 80 auth= uid="},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := tt.d.Dial(context.Background(), "tcp", addr, tt.ph())
			require.NoError(t, err)
			defer c.Close()
			_, err = c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"))
			require.NoError(t, err)
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			require.NoError(t, err)
			body, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			require.Equal(t, 200, resp.StatusCode)
			require.Equal(t, tt.want, strings.TrimSpace(string(body)))
		})
	}

	t.Run("v2 bad crc32c is refused", func(t *testing.T) {
		h := NewProxyHeader(ap("203.0.113.6:40003"), ap("198.51.100.9:443"))
		h.Version = 2
		h.AddCRC32C()
		b, err := h.AppendTo(nil)
		require.NoError(t, err)
		b[len(b)-1] ^= 0xFF
		raw, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		defer raw.Close()
		_, err = raw.Write(append(b, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"...))
		require.NoError(t, err)
		raw.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, err := raw.Read(make([]byte, 64))
		require.Zero(t, n, "haproxy must not answer a header with a bad checksum")
		require.Error(t, err)
	})
}
