package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestInteropLogFormatEscapeMatchesHAProxy: %{+E} puts a backslash
// before '"', '\' and ']' in a value (after the URI's and captures' own
// #XX encoding), in variables and samples, quoted or not, and %{+E}o
// does it for every item after it; the lines are haproxy's.
func TestInteropLogFormatEscapeMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	cfg := func(port int) string {
		return fmt.Sprintf(`global
    log stdout format raw local0
defaults
    mode http
    log global
    option dontlognull
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend f
    bind 127.0.0.1:%d
    option accept-invalid-http-request
    capture request header x-h len 60
    capture request header host len 60
    unique-id-format id=%%[capture.req.hdr(1)]
    log-format "E %%{+E}HQ|%%{+E,+Q}HQ|%%{+E}r|%%{+E}hr|%%{+E,+Q}hrl|%%{+E}[capture.req.hdr(0)]|%%{+E,+Q}[capture.req.hdr(0)]|%%{+E}[capture.req.hdr(5)]|%%{+E}ID|%%{+E,+Q}ID|%%[capture.req.hdr(0)]|%%{+E}o %%HU %%{-E}HU %%{+Q}b"
    http-request return status 200
`, port)
	}
	reqs := []string{
		"GET /p\"a\\b]c?q=\"x\\y]z%22[t]{} HTTP/1.1\r\nHost: h]\r\nx-h: a\"b\\c]d{e}|f#\r\nConnection: close\r\n\r\n",
		"GET /plain HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
	}
	send := func(addr string) {
		for _, r := range reqs {
			oneShot(t, addr, r)
		}
	}
	lines := func(out func() string) []string {
		var got []string
		require.Eventually(t, func() bool {
			got = got[:0]
			for _, l := range strings.Split(out(), "\n") {
				if strings.HasPrefix(l, "E ") {
					got = append(got, l)
				}
			}
			return len(got) == len(reqs)
		}, 10*time.Second, 10*time.Millisecond, "a line per request in %q", out())
		return got
	}
	hp := freePort(t)
	hout := startHAProxyReady(t, cfg(hp))
	send(fmt.Sprintf("127.0.0.1:%d", hp))
	want := lines(hout)

	lb, lout, lmu := startInProcess(t, cfg(0))
	send(lb.Addrs("f")[0].String())
	got := lines(func() string { lmu.Lock(); defer lmu.Unlock(); return lout.String() })
	require.Equal(t, want, got, "haproxy's lines, then lb's")
	require.Contains(t, got[0], `|a\"b\\c\]d{e}|f#|"a\"b\\c\]d{e}|f#"|`)
}
