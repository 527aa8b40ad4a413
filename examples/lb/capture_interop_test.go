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

// captureCfg logs in httplog format, and again through log-format, the
// headers captured in requests and responses.
func captureCfg(port, port2 int, echo string) string {
	return fmt.Sprintf(`global
    log stdout format raw local0
defaults
    mode http
    log global
    timeout connect 2s
    timeout client 5s
    timeout server 5s
frontend web
    bind 127.0.0.1:%d
    option httplog
    capture request header Host len 15
    capture request header X-Id len 40
    capture response header X-Srv len 3
    default_backend be
frontend lf
    bind 127.0.0.1:%d
    log-format "lf %%hr %%hrl %%hs %%hsl %%ST"
    capture request header X-Id len 5
    capture response header X-Srv len 20
    default_backend be
backend be
    server s1 %s
`, port, port2, echo)
}

// TestInteropCaptureMatchesHAProxy: captured request and response headers
// (the last of several, cut to length, special characters encoded, absent
// ones empty) read the same in haproxy's and lb's httplog lines and in
// %hr, %hrl, %hs and %hsl.
func TestInteropCaptureMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	echo := handlerServer(t, func(w http.ResponseWriter, r *http.Request) {
		if v := r.URL.Query().Get("srv"); v != "" {
			w.Header().Set("X-Srv", v)
		}
		_, _ = io.WriteString(w, "ok")
	})
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	run := func(port, port2 int) {
		for _, p := range []int{port, port2} {
			for _, c := range []struct {
				path, host string
				ids        []string
			}{
				{"/?srv=abcdef", "www.example.com:8080", []string{"first", "second{|}\"#"}},
				{"/", "h", nil},
				{"/?srv=%C3%A9t%C3%A9", "x", []string{"a b"}},
			} {
				req, err := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d%s", p, c.path), nil)
				require.NoError(t, err)
				req.Host = c.host
				req.Header["X-Id"] = c.ids
				resp, err := client.Do(req)
				require.NoError(t, err)
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
			}
		}
	}
	// The lines, without what differs from run to run (address, date,
	// timers, byte count, counters).
	steady := func(l string) string {
		f := strings.Fields(l)
		if f[0] == "lf" {
			return l
		}
		return strings.Join(append([]string{f[2], f[3], f[5], f[7], f[8], f[9]}, f[12:]...), " ")
	}
	pick := func(l string) (string, bool) {
		if !strings.HasPrefix(l, "lf ") && !strings.Contains(l, " web be/") {
			return "", false
		}
		return steady(l), true
	}
	ports := freePorts(t, 4)
	haOut := startHAProxy(t, captureCfg(ports[0], ports[1], echo), func() bool { return !bindable(fmt.Sprintf("127.0.0.1:%d", ports[1])) })
	run(ports[0], ports[1])
	want := sortedLines(t, haOut, 6, pick)
	lbOut := lbLogs(t)(captureCfg(ports[2], ports[3], echo))
	run(ports[2], ports[3])
	got := sortedLines(t, lbOut, 6, pick)
	require.Equal(t, want, got, "haproxy's lines, then lb's")
	require.Contains(t, strings.Join(got, "\n"), "{www.example.com|second#7B#7C#7D#22#23} {abc}")
}
