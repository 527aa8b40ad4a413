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

// TestInteropObserveLayer7MatchesHAProxy: with "observe layer7", a
// server's 5xx answers (but 501 and 505) count as errors and a good
// answer clears them; at error-limit the on-error action runs, and
// haproxy and lb log the same state changes.
func TestInteropObserveLayer7MatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	web := strings.TrimPrefix(handlerServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/bad":
			w.WriteHeader(500)
		case "/nope":
			w.WriteHeader(501)
		}
		_, _ = io.WriteString(w, r.URL.Path)
	}), "http://")
	run := func(start func(text string) func() string, opts string, paths []string, lines int) []string {
		port := freePorts(t, 1)[0]
		out := start(fmt.Sprintf(`global
    log stdout format raw local0
defaults
    mode http
    log global
    retries 0
    timeout connect 1s
    timeout client 5s
    timeout server 5s
listen px
    bind 127.0.0.1:%d
    option log-health-checks
    server s %s check inter 60s rise 1 fall 1 observe layer7 %s
`, port, web, opts))
		checkLines(t, out, 1, "Health check for ") // the first check passed
		client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
		for _, p := range paths {
			require.Eventually(t, func() bool {
				resp, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d%s", port, p))
				if err != nil {
					return false
				}
				_ = resp.Body.Close()
				return true
			}, 5*time.Second, 10*time.Millisecond)
		}
		return checkLines(t, out, lines, "Health check for ", "Server ")
	}
	for _, tc := range []struct {
		opts  string
		paths []string
		down  bool
	}{
		{"error-limit 2 on-error mark-down", []string{"/bad", "/bad"}, true},
		{"error-limit 2 on-error mark-down", []string{"/bad", "/ok", "/bad", "/nope"}, false},
		{"error-limit 3 on-error fail-check", []string{"/bad", "/bad", "/bad"}, true},
		{"error-limit 2 on-error sudden-death", []string{"/bad", "/bad"}, true},
	} {
		// The first check's line, then for a server marked down the
		// failed check's and the state change's.
		lines := 1
		if tc.down {
			lines = 3
		}
		ha := run(haproxyLogs(t), tc.opts, tc.paths, lines)
		lb := run(lbLogs(t), tc.opts, tc.paths, lines)
		require.Equal(t, ha, lb, "%s %v", tc.opts, tc.paths)
		require.Equal(t, tc.down, strings.Contains(strings.Join(lb, "\n"), `last one was: Wrong http response`), "%s %v: %q", tc.opts, tc.paths, lb)
	}
}
