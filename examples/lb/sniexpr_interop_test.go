package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/proxyblocks/proxyblocks/internal/testcert"
)

// TestInteropSNIExpressionMatchesHAProxy runs a TLS server behind
// haproxy and lb with "sni req.hdr(host)" and "check-sni": each request
// must reach the server over a connection that sent its own Host as the
// SNI, a kept connection serving only requests of the same name, and
// the checks must send the check-sni name.
func TestInteropSNIExpressionMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	serverTLS, _ := testcert.Configs(t, "localhost")
	var mu sync.Mutex
	checks := map[string]bool{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{TLSConfig: serverTLS, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/health" {
			mu.Lock()
			checks[r.TLS.ServerName] = true
			mu.Unlock()
			return
		}
		_, _ = io.WriteString(w, "sni="+r.TLS.ServerName)
	})}
	go func() { _ = srv.ServeTLS(ln, "", "") }()
	t.Cleanup(func() { _ = srv.Close() })
	text := func(port int) string {
		return fmt.Sprintf(`defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend f
    bind 127.0.0.1:%d
    default_backend b
backend b
    option httpchk GET /health
    http-reuse always
    server s %s ssl verify none sni req.hdr(host),lower check inter 200 check-sni checks.example
`, port, ln.Addr())
	}
	run := func(port int) []string {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		require.NoError(t, err)
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, 4096)
		var out []string
		for _, host := range []string{"A.example", "b.example", "a.example", "c.example", "b.example"} {
			req := "GET / HTTP/1.1\r\n"
			if host != "" {
				req += "host: " + host + "\r\n"
			}
			_, err := io.WriteString(c, req+"\r\n")
			require.NoError(t, err)
			n, err := c.Read(buf)
			require.NoError(t, err)
			_, body, _ := strings.Cut(string(buf[:n]), "\r\n\r\n")
			out = append(out, host+" -> "+body)
		}
		require.Eventually(t, func() bool {
			mu.Lock()
			defer mu.Unlock()
			return checks["checks.example"]
		}, 5*time.Second, 20*time.Millisecond, "a check with the check-sni name")
		mu.Lock()
		out = append(out, fmt.Sprintf("check names: %d", len(checks)))
		clear(checks)
		mu.Unlock()
		return out
	}
	ports := freePorts(t, 2)
	runHAProxy(t, text(ports[0]), fmt.Sprintf("127.0.0.1:%d", ports[0]))
	want := run(ports[0])
	startInProcess(t, text(ports[1]))
	got := run(ports[1])
	assert.Equal(t, want, got, "haproxy's answers, then lb's")
	assert.Equal(t, "A.example -> sni=a.example", want[0])
	assert.Equal(t, "b.example -> sni=b.example", want[1], "not the kept connection of another name")
}
