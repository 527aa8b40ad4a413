package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestInteropBackendSourceMatchesHAProxy logs the server connection's own
// address (%bi, %bp, with and without +X) for a TCP session, an HTTP
// request, and an HTTP request denied before any server connection,
// under haproxy and lb: the lines must be the same, the source port
// masked.
func TestInteropBackendSourceMatchesHAProxy(t *testing.T) {
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
    http-request deny if { path /deny }
    log-format "line http %%HU bi=%%bi bp=%%bp x=%%{+X}bi:%%{+X}bp"
    default_backend w
backend w
    mode http
    server w %s
frontend t
    mode tcp
    bind 127.0.0.1:%d
    log-format "line tcp bi=%%bi bp=%%bp x=%%{+X}bi:%%{+X}bp"
    default_backend e
backend e
    mode tcp
    server e %s
`, hp, web, tp, echo)
	}
	portRe := regexp.MustCompile(`bp=\d+ x=(\w+):[0-9A-F]{4}`)
	run := func(start func(text string) func() string) []string {
		ports := freePorts(t, 2)
		out := start(cfg(ports[0], ports[1]))
		client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
		for _, p := range []string{"/", "/deny"} {
			resp, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d%s", ports[0], p))
			require.NoError(t, err)
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
		}
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", ports[1]))
		require.NoError(t, err)
		roundTrip(t, c, "hi")
		require.NoError(t, c.Close())
		var lines []string
		require.Eventually(t, func() bool {
			lines = lines[:0]
			for _, l := range strings.Split(out(), "\n") {
				if strings.HasPrefix(l, "line ") && !strings.Contains(l, "<BADREQ>") {
					lines = append(lines, portRe.ReplaceAllString(l, "bp=N x=$1:NNNN"))
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
	require.Contains(t, got, "line tcp bi=127.0.0.1 bp=N x=7F000001:NNNN")
}
