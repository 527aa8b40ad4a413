package main

import (
	stdtls "crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestInteropNoTLSVersionWordsMatchHAProxy: no-tlsv10, no-tlsv11,
// no-tlsv12 and no-tlsv13 on bind and server lines, alone or together in
// any order, leave the same protocol versions under haproxy and lb (a
// lone word used to look like a hole in the range to lb).
func TestInteropNoTLSVersionWordsMatchHAProxy(t *testing.T) {
	haproxyBin(t)
	pki := newPKI(t, "vers")
	crt := pki.issue("site.pem", "localhost", []string{"localhost"}, false, false)
	// The server answers with the version its client negotiated.
	backend := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, stdtls.VersionName(r.TLS.Version))
	}))
	backend.TLS = &stdtls.Config{MinVersion: stdtls.VersionTLS10}
	backend.StartTLS()
	t.Cleanup(backend.Close)
	srv := strings.TrimPrefix(backend.URL, "https://")
	binds := []string{"no-sslv3 no-tls-tickets no-tlsv10 no-tlsv11", "no-tlsv11", "no-tlsv11 no-tlsv10", "no-tlsv12", "no-tlsv13 no-tlsv11"}
	servers := []string{"no-tlsv13", "no-tlsv10 no-tlsv11", "no-tlsv12"}
	run := func(start func(text string)) (got []string) {
		p := freePorts(t, 1+len(binds)+len(servers))
		var cfg strings.Builder
		fmt.Fprintf(&cfg, `defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend probe
    bind 127.0.0.1:%d
    http-request return status 200
`, p[0])
		for i, o := range binds {
			fmt.Fprintf(&cfg, "frontend tls%d\n    bind 127.0.0.1:%d ssl crt %s %s\n    http-request return status 200 content-type text/plain string ok\n", i, p[1+i], crt, o)
		}
		for i, o := range servers {
			fmt.Fprintf(&cfg, "listen out%d\n    bind 127.0.0.1:%d\n    server s %s ssl verify none %s\n", i, p[1+len(binds)+i], srv, o)
		}
		start(cfg.String())
		for i, o := range binds {
			for _, max := range []uint16{stdtls.VersionTLS11, stdtls.VersionTLS12, stdtls.VersionTLS13} {
				d := &net.Dialer{Timeout: 5 * time.Second}
				c, err := stdtls.DialWithDialer(d, "tcp", fmt.Sprintf("127.0.0.1:%d", p[1+i]), &stdtls.Config{
					InsecureSkipVerify: true, MinVersion: stdtls.VersionTLS10, MaxVersion: max})
				res := "refused"
				if err == nil {
					res = stdtls.VersionName(c.ConnectionState().Version)
					_ = c.Close()
				}
				got = append(got, fmt.Sprintf("bind %q, client up to %s: %s", o, stdtls.VersionName(max), res))
			}
		}
		client := &http.Client{Timeout: 5 * time.Second}
		for i, o := range servers {
			resp, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d/", p[1+len(binds)+i]))
			require.NoError(t, err)
			body, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			got = append(got, fmt.Sprintf("server %q: %d %s", o, resp.StatusCode, body))
		}
		return got
	}
	want := run(func(text string) { startHAProxyReady(t, text) })
	got := run(func(text string) { startInProcess(t, text) })
	require.Equal(t, want, got, "the versions under haproxy, then lb")
	require.Equal(t, `bind "no-sslv3 no-tls-tickets no-tlsv10 no-tlsv11", client up to TLS 1.1: refused`, got[0])
	require.Equal(t, `server "no-tlsv13": 200 TLS 1.2`, got[len(got)-3])
}
