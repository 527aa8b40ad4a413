package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestInteropCaptureSlotsMatchHAProxy fills capture slots with
// tcp-request content capture in mode tcp (logged by %hr and read back
// by capture.req.hdr), and reads an HTTP header capture back with
// capture.req.hdr in a log-format, under haproxy and lb: the lines must
// be the same.
func TestInteropCaptureSlotsMatchHAProxy(t *testing.T) {
	haproxyBin(t)
	echo := echoServer(t)
	web := nameServers(t, 1, true)[0]
	cfg := func(hp, tp int) string {
		return fmt.Sprintf(`global
    log stdout format raw local0
defaults
    log global
    timeout connect 2s
    timeout client 5s
    timeout server 5s
frontend h
    mode http
    bind 127.0.0.1:%d
    capture request header X-Tag len 8
    log-format "http %%hr [%%[capture.req.hdr(0)]] [%%{+Q}[capture.req.hdr(1)]]"
    default_backend w
backend w
    mode http
    server w %s
frontend t
    mode tcp
    bind 127.0.0.1:%d
    tcp-request inspect-delay 1s
    tcp-request content capture src len 20
    tcp-request content capture req.len len 1
    tcp-request content capture str(never) len 5 if { req.len gt 100 }
    tcp-request content accept if { req.len ge 2 }
    log-format "tcp %%hr [%%[capture.req.hdr(0)]] [%%[capture.req.hdr(1)]] [%%[capture.req.hdr(2)]]"
    default_backend e
backend e
    mode tcp
    server e %s
`, hp, web, tp, echo)
	}
	run := func(start func(text string) func() string) []string {
		ports := freePorts(t, 2)
		out := start(cfg(ports[0], ports[1]))
		time.Sleep(200 * time.Millisecond)
		client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
		for _, tag := range []string{`a"b{c}d-long-tag`, ""} {
			req, err := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d/", ports[0]), nil)
			require.NoError(t, err)
			if tag != "" {
				req.Header.Set("X-Tag", tag)
			}
			resp, err := client.Do(req)
			require.NoError(t, err)
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
		}
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", ports[1]))
		require.NoError(t, err)
		roundTrip(t, c, "hello")
		require.NoError(t, c.Close())
		var lines []string
		require.Eventually(t, func() bool {
			lines = lines[:0]
			for _, l := range strings.Split(out(), "\n") {
				if strings.HasPrefix(l, "http {") || strings.HasPrefix(l, "tcp {") {
					lines = append(lines, l)
				}
			}
			return len(lines) == 3
		}, 10*time.Second, 10*time.Millisecond, "three traffic lines")
		sort.Strings(lines)
		return lines
	}
	want := run(func(text string) func() string { return startHAProxyReady(t, text) })
	got := run(func(text string) func() string {
		_, logs, mu := startInProcess(t, text)
		return func() string { mu.Lock(); defer mu.Unlock(); return logs.String() }
	})
	require.Equal(t, want, got, "haproxy's lines, then lb's")
	require.Contains(t, got, "tcp {127.0.0.1|5|} [127.0.0.1] [5] [-]")
}
