package main

import (
	"fmt"
	"io"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/proxyblocks/proxyblocks/internal/testnet"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestInteropRedispatchIntervalMatchesHAProxy sends a request whose
// persistence cookie names a server that refuses connections through
// proxies with option redispatch and different intervals, under haproxy
// and lb: which retry moves to the live server (the log's retry count
// and its '+'), or none with interval 0, must match.
func TestInteropRedispatchIntervalMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	refused := testnet.RefusedAddr(t)
	live := handlerServer(t, func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "live") })
	intervals := []string{"", "1", "2", "-2", "0"}
	logLine := regexp.MustCompile(`\] (\S+) (\S+) \S+ (-?\d+) \d+ - - (\S{2})\S\S \d+/\d+/\d+/\d+/(\+?\d+) `)
	run := func(start func(text string) func() string) []string {
		ports := freePorts(t, len(intervals))
		var b strings.Builder
		fmt.Fprintf(&b, "global\n    log stdout format raw local0\n%s    timeout connect 100ms\n", httpLogDefaults)
		for i, iv := range intervals {
			fmt.Fprintf(&b, `listen r%d
    bind 127.0.0.1:%d
    retries 3
    option redispatch %s
    cookie SRV insert indirect nocache
    server dead %s cookie d
    server live %s cookie l
`, i, ports[i], iv, refused, live)
		}
		out := start(b.String())
		var got []string
		for i := range intervals {
			req, err := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d/", ports[i]), nil)
			require.NoError(t, err)
			req.Header.Set("Cookie", "SRV=d")
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
		}
		require.Eventually(t, func() bool {
			got = got[:0]
			for _, l := range strings.Split(out(), "\n") {
				if m := logLine.FindStringSubmatch(l); m != nil {
					got = append(got, strings.Join(m[1:], " "))
				}
			}
			return len(got) == len(intervals)
		}, 10*time.Second, 20*time.Millisecond, "lines in:\n%s", out())
		sort.Strings(got)
		return got
	}
	want := run(func(text string) func() string { return startHAProxyReady(t, text) })
	got := run(func(text string) func() string {
		_, logs, mu := startInProcess(t, text)
		return func() string { mu.Lock(); defer mu.Unlock(); return logs.String() }
	})
	assert.Equal(t, want, got)
	assert.Equal(t, []string{
		"r0 r0/live 200 -- +3", // the last retry, by default
		"r1 r1/live 200 -- +1", // every retry
		"r2 r2/live 200 -- +2", // every second retry
		"r3 r3/live 200 -- +2", // the second before the end
		"r4 r4/dead 503 SC 3",  // never
	}, got)
}
