package main

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func tarpitCfg(port int, echo string) string {
	return fmt.Sprintf(`global
    log stdout format raw local0
defaults
    mode http
    log global
    log-format "tp %%HU %%ST %%tsc"
    timeout connect 2s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:%d
    timeout tarpit 300ms
    http-request tarpit if { path /tp }
    http-request tarpit deny_status 429 if { path /tp429 }
    default_backend be
backend be
    server s1 %s
`, port, echo)
}

// TestInteropTarpitMatchesHAProxy: a tarpitted request is held for
// timeout tarpit, then answered with its status (500 unless deny_status
// says otherwise) and logged with PT, by haproxy and lb alike.
func TestInteropTarpitMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	echo := httpServer(t, "ok")
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	run := func(port int) []string {
		var got []string
		for _, p := range []string{"/tp", "/tp429", "/free"} {
			start := time.Now()
			resp, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d%s", port, p))
			require.NoError(t, err)
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			line := fmt.Sprintf("%s %d", p, resp.StatusCode)
			if strings.HasPrefix(p, "/tp") {
				// Held at least for the tarpit's time (a lower bound only).
				line += fmt.Sprintf(" held=%v", time.Since(start) >= 250*time.Millisecond)
			}
			got = append(got, line)
		}
		return got
	}
	ports := freePorts(t, 2)
	haOut := startHAProxy(t, tarpitCfg(ports[0], echo), func() bool { return !bindable(fmt.Sprintf("127.0.0.1:%d", ports[0])) })
	want := run(ports[0])
	lbOut := lbLogs(t)(tarpitCfg(ports[1], echo))
	got := run(ports[1])
	require.Equal(t, want, got, "haproxy's answers, then lb's")
	require.Equal(t, []string{"/tp 500 held=true", "/tp429 429 held=true", "/free 200"}, got)
	require.Equal(t, sortedLines(t, haOut, 3, withPrefix("tp ")), sortedLines(t, lbOut, 3, withPrefix("tp ")), "haproxy's lines, then lb's")
}
