package main

import (
	"crypto/tls"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/proxyblocks/proxyblocks/internal/testcert"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestInteropSSLHelloCheckMatchesHAProxy: option ssl-hello-chk marks a
// server down while nothing answers, and up once a TLS server does (its
// alert to the SSLv3 hello is enough), with haproxy's reasons.
func TestInteropSSLHelloCheckMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	serverTLS, _ := testcert.Configs(t, "localhost")
	run := func(start func(text string) func() string) []string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		addr := ln.Addr().String()
		require.NoError(t, ln.Close())
		out := start(fmt.Sprintf(`global
    log stdout format raw local0
defaults
    mode tcp
    log global
    timeout connect 1s
    timeout client 5s
    timeout server 5s
    timeout check 500ms
frontend fe
    bind 127.0.0.1:%d
    default_backend b
backend b
    option ssl-hello-chk
    server s %s check inter 150 fall 1 rise 1
`, freePorts(t, 1)[0], addr))
		changes := func(n int) []string {
			var got []string
			ok := assert.Eventually(t, func() bool {
				got = got[:0]
				seen := map[string]bool{}
				for _, l := range strings.Split(out(), "\n") {
					if m := stateLineRe.FindStringSubmatch(strings.TrimSpace(l)); m != nil && !seen[m[1]+m[2]] {
						seen[m[1]+m[2]] = true
						got = append(got, m[1]+" "+m[2]+": "+m[3])
					}
				}
				return len(got) == n
			}, 10*time.Second, 10*time.Millisecond)
			require.True(t, ok, "%d state changes in:\n%s", n, out())
			return got
		}
		changes(1)
		tl, err := tls.Listen("tcp", addr, serverTLS)
		require.NoError(t, err)
		defer tl.Close()
		go func() {
			for {
				c, err := tl.Accept()
				if err != nil {
					return
				}
				go func() { _ = c.(*tls.Conn).Handshake(); _ = c.Close() }()
			}
		}()
		return changes(2)
	}
	want := run(haproxyLogs(t))
	got := run(lbLogs(t))
	require.Equal(t, want, got, "haproxy's reasons, then lb's")
	require.Contains(t, got[1], "b/s UP: Layer6 check passed")
}
