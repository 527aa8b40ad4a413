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

func afterCfg(port int, echo string) string {
	return fmt.Sprintf(httpDefaults+`frontend fe
    bind 127.0.0.1:%d
    http-request deny if { path /deny }
    http-request redirect location /elsewhere if { path /redir }
    http-response add-header X-Resp fe
    http-after-response add-header X-After fe
    http-after-response set-status 299 if { status 503 }
    use_backend empty if { path /empty }
    default_backend be
backend be
    http-after-response add-header X-After be
    http-after-response set-header X-Seen "%%[status]"
    server s1 %s
backend empty
    http-after-response add-header X-After empty
`, port, echo)
}

// TestInteropAfterResponseMatchesHAProxy: http-after-response rules run
// on the server's answers and on the balancer's own (deny, redirect, no
// server), the backend's before the frontend's, under haproxy and lb.
func TestInteropAfterResponseMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	echo := httpServer(t, "ok")
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	run := func(port int) []string {
		var got []string
		for _, p := range []string{"/", "/deny", "/redir", "/empty"} {
			resp, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d%s", port, p))
			require.NoError(t, err)
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			got = append(got, fmt.Sprintf("%s %d after=%s resp=%s seen=%s", p, resp.StatusCode,
				strings.Join(resp.Header.Values("X-After"), ","), strings.Join(resp.Header.Values("X-Resp"), ","), resp.Header.Get("X-Seen")))
		}
		return got
	}
	ports := freePorts(t, 2)
	startHAProxy(t, afterCfg(ports[0], echo), func() bool { return !bindable(fmt.Sprintf("127.0.0.1:%d", ports[0])) })
	want := run(ports[0])
	startInProcess(t, afterCfg(ports[1], echo))
	got := run(ports[1])
	require.Equal(t, want, got, "haproxy's answers, then lb's")
	require.Contains(t, got[0], "after=be,fe")
}
