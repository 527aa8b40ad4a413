package main

import (
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func errorlocCfg(port int) string {
	return fmt.Sprintf(`global
    log stdout format raw local0
defaults
    mode http
    log global
    log-format "el %%HU %%ST %%tsc"
    timeout connect 2s
    timeout client 5s
    timeout server 5s
    errorloc 503 http://example.com/down
frontend fe
    bind 127.0.0.1:%d
    errorloc303 403 /denied
    http-request deny if { path /deny }
    default_backend empty
backend empty
`, port)
}

// TestInteropErrorlocMatchesHAProxy: errorloc and errorloc303 turn error
// answers into redirects, with the same status, Location and log line as
// haproxy's.
func TestInteropErrorlocMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	run := func(port int) []string {
		var got []string
		for _, p := range []string{"/deny", "/other"} {
			resp, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d%s", port, p))
			require.NoError(t, err)
			// Read to the end: a client leaving mid-answer makes another line.
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			got = append(got, fmt.Sprintf("%s %d %s %s", p, resp.StatusCode, resp.Header.Get("Location"), resp.Header.Get("Cache-Control")))
		}
		return got
	}
	ports := freePorts(t, 2)
	haOut := startHAProxy(t, errorlocCfg(ports[0]), func() bool { return !bindable(fmt.Sprintf("127.0.0.1:%d", ports[0])) })
	want := run(ports[0])
	lbOut := lbLogs(t)(errorlocCfg(ports[1]))
	got := run(ports[1])
	require.Equal(t, want, got, "haproxy's answers, then lb's")
	require.Equal(t, []string{"/deny 303 /denied no-cache", "/other 302 http://example.com/down no-cache"}, got)
	require.Equal(t, sortedLines(t, haOut, 2, withPrefix("el ")), sortedLines(t, lbOut, 2, withPrefix("el ")), "haproxy's lines, then lb's")
}
