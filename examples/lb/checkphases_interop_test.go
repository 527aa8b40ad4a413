package main

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/proxyblocks/proxyblocks/internal/testnet"
)

// TestInteropCheckPhasesMatchHAProxy: with timeout check set, a check's
// connection (here through a SOCKS4 proxy that takes its time) has
// min(inter, timeout connect) to come up, and its exchange then has
// timeout check of its own, as haproxy counts them. Three servers: one
// whose proxy and answer together take longer than timeout check, but
// each less, passes; one whose answer alone takes longer fails with a
// Layer7 timeout; one whose proxy takes longer than timeout connect
// fails while connecting. The check lines must match haproxy's.
func TestInteropCheckPhasesMatchHAProxy(t *testing.T) {
	haproxyBin(t)
	run := func(start func(text string) func() string) []string {
		answer := func(delay time.Duration) string {
			return checkPeer(t, func(c *net.TCPConn) {
				if _, err := http.ReadRequest(bufio.NewReader(c)); err != nil {
					return
				}
				time.Sleep(delay)
				_, _ = c.Write([]byte("HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"))
			})
		}
		proxy := func(delay time.Duration) string {
			p := testnet.StartSOCKS4(t, testnet.SOCKS4Grant)
			p.SetDelay(delay)
			return p.Addr
		}
		port := testnet.FreePorts(t, 1)[0]
		text := fmt.Sprintf(`global
    log stdout format raw local0
defaults
    mode http
    log global
    option log-health-checks
    option httpchk GET /
    timeout connect 3s
    timeout client 5s
    timeout server 5s
    timeout check 2s
    default-server check check-via-socks4 inter 4s rise 1 fall 1
backend slow_proxy
    server s %s socks4 %s
backend slow_answer
    server s %s socks4 %s
backend proxy_past_connect
    server s %s socks4 %s
frontend fe
    bind 127.0.0.1:%d
    default_backend slow_proxy
`, answer(time.Second), proxy(1500*time.Millisecond),
			answer(3*time.Second), proxy(50*time.Millisecond),
			answer(0), proxy(3800*time.Millisecond), port)
		return checkLines(t, start(text), 3, "Health check for ")
	}
	ha := run(haproxyLogs(t))
	lb := run(lbLogs(t))
	assert.Equal(t, ha, lb, "the check lines: haproxy's, then lb's")
	// What they say, that both could not get wrong alike.
	require.Len(t, lb, 3)
	assert.Contains(t, lb[2], "server slow_proxy/s succeeded, reason: Layer7 check passed")
	assert.Contains(t, lb[1], "server slow_answer/s failed, reason: Layer7 timeout")
	assert.Contains(t, lb[0], "server proxy_past_connect/s failed")
}
