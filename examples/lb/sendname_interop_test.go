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

// TestInteropSendNameHeaderMatchesHAProxy: http-send-name-header tells
// each server its name in the header given, in place of one the client
// sent, under haproxy and lb.
func TestInteropSendNameHeaderMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	echo := strings.TrimPrefix(handlerServer(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = fmt.Fprintf(w, "%q", r.Header.Values("X-Srv"))
	}), "http://")
	run := func(start func(text string)) []string {
		p := freePorts(t, 2)
		start(fmt.Sprintf(`defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
listen probe
    bind 127.0.0.1:%d
    http-request return status 200
listen web
    bind 127.0.0.1:%d
    http-send-name-header X-Srv
    server one %s
    server two %s
`, p[0], p[1], echo, echo))
		client := &http.Client{Timeout: 5 * time.Second}
		var got []string
		for range 3 {
			req, err := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d/", p[1]), nil)
			require.NoError(t, err)
			req.Header.Set("X-Srv", "forged")
			resp, err := client.Do(req)
			require.NoError(t, err)
			body, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			got = append(got, string(body))
		}
		return got
	}
	want := run(func(text string) { startHAProxyReady(t, text) })
	got := run(func(text string) { startInProcess(t, text) })
	require.Equal(t, want, got, "what haproxy's servers saw, then lb's")
	require.Equal(t, []string{`["one"]`, `["two"]`, `["one"]`}, got)
}
