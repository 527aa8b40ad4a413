package main

import (
	stdtls "crypto/tls"
	"fmt"
	"io"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestInteropHTTPSLogMatchesHAProxy: option httpslog writes the httplog
// line followed by the connection's error codes, resumption, SNI, TLS
// version and cipher, as haproxy's; the lines are compared with the
// client's port, the date and the times masked.
func TestInteropHTTPSLogMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	crt := newPKI(t, "httpslog").issue("srv.pem", "srv", nil, false, false)
	cfg := func(port int) string {
		return fmt.Sprintf(`global
    log stdout format raw local0
defaults
    mode http
    log global
    option dontlognull
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend f
    bind 127.0.0.1:%d ssl crt %s
    option httpslog
    capture request header host len 20
    http-request return status 200 content-type text/plain string ok
`, port, crt)
	}
	send := func(addr string) {
		c, err := stdtls.Dial("tcp", addr, &stdtls.Config{
			InsecureSkipVerify: true, ServerName: "sni.example", MaxVersion: stdtls.VersionTLS12,
			CipherSuites: []uint16{stdtls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256},
		})
		require.NoError(t, err)
		defer func() { _ = c.Close() }()
		_, err = io.WriteString(c, "GET /x HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
		require.NoError(t, err)
		_, _ = io.ReadAll(c)
	}
	mask := regexp.MustCompile(`^127\.0\.0\.1:\d+ \[[^]]*\] (\S+ \S+) -?\d+/-?\d+/-?\d+/-?\d+/-?\d+ `)
	line := func(out func() string) string {
		var got string
		require.Eventually(t, func() bool {
			for _, l := range strings.Split(out(), "\n") {
				if strings.Contains(l, `"GET /x HTTP/1.1"`) {
					got = mask.ReplaceAllString(l, "127.0.0.1:P [DATE] $1 TIMES ")
					return true
				}
			}
			return false
		}, 10*time.Second, 10*time.Millisecond, "a line in %q", out())
		return got
	}
	hp := freePort(t)
	hout := startHAProxyReady(t, cfg(hp))
	send(fmt.Sprintf("127.0.0.1:%d", hp))
	want := line(hout)

	lb, lout, lmu := startInProcess(t, cfg(0))
	send(lb.Addrs("f")[0].String())
	got := line(func() string { lmu.Lock(); defer lmu.Unlock(); return lout.String() })
	require.Equal(t, want, got, "haproxy's line, then lb's")
	require.True(t, strings.HasSuffix(got, ` {h} "GET /x HTTP/1.1" 0/0000000000000000/0/0/0 sni.example/TLSv1.2/ECDHE-ECDSA-AES128-GCM-SHA256`), got)
}
