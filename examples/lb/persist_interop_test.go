package main

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// persistCfg: s2 never answers, and checks mark it down; per keeps
// sending its cookie's clients to it (option persist), plain moves them.
func persistCfg(p []int, up, down string) string {
	return fmt.Sprintf(`global
    log stdout format raw local0
defaults
    mode http
    log global
    log-format "ps %%f %%s %%ST %%tsc"
    retries 0
    timeout connect 1s
    timeout client 5s
    timeout server 5s
    cookie SRV insert indirect
listen per
    bind 127.0.0.1:%d
    option persist
    server s1 %s cookie a
    server s2 %s cookie b check inter 100ms fall 1
listen plain
    bind 127.0.0.1:%d
    server s1 %s cookie a
    server s2 %s cookie b check inter 100ms fall 1
`, p[0], up, down, p[1], up, down)
}

// TestInteropPersistMatchesHAProxy: a cookie naming a server that is down
// sends its client there all the same under option persist (the connect
// then fails), and to another server without it, as under haproxy.
func TestInteropPersistMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	up := httpServer(t, "ok")
	down := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	run := func(p []int, out func() string) []string {
		ok := assert.Eventually(t, func() bool {
			return strings.Contains(out(), "per/s2 is DOWN") && strings.Contains(out(), "plain/s2 is DOWN")
		}, 10*time.Second, 20*time.Millisecond)
		require.True(t, ok, "both s2 marked down:\n%s", out())
		var got []string
		for _, port := range p {
			req, err := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d/", port), nil)
			require.NoError(t, err)
			req.Header.Set("Cookie", "SRV=b")
			resp, err := client.Do(req)
			require.NoError(t, err)
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			got = append(got, fmt.Sprintf("%d %q", resp.StatusCode, resp.Header.Values("Set-Cookie")))
		}
		return append(got, sortedLines(t, out, 2, withPrefix("ps "))...)
	}
	ports := freePorts(t, 4)
	haOut := startHAProxy(t, persistCfg(ports[:2], up, down), func() bool { return !bindable(fmt.Sprintf("127.0.0.1:%d", ports[1])) })
	want := run(ports[:2], haOut)
	got := run(ports[2:], lbLogs(t)(persistCfg(ports[2:], up, down)))
	require.Equal(t, want, got, "haproxy's answers and lines, then lb's")
	require.Equal(t, []string{`503 []`, `200 ["SRV=a; path=/"]`, "ps per s2 503 SCDN", "ps plain s1 200 --DI"}, got)
}
