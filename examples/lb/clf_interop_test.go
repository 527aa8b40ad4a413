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

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestInteropHTTPLogCLFMatchesHAProxy logs the same requests under
// haproxy and lb with "option httplog clf" (with header and cookie
// captures, with none, and for a statistics page answer), with a
// log-format whose runs of spaces and empty captures HAProxy collapses,
// and with httplog and capture cookie, and compares the lines with the
// timings, ports and byte counts masked.
func TestInteropHTTPLogCLFMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	web := strings.TrimPrefix(handlerServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("Set-Cookie", "other=1")
		w.Header().Add("Set-Cookie", `SESSIONID=abc"def; Path=/; HttpOnly`)
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		_, _ = io.WriteString(w, "ok\n")
	}), "http://")
	cfg := func(ports []int) string {
		return fmt.Sprintf(`global
    log stdout format raw local0
defaults
    mode http
    log global
    option dontlognull
    timeout connect 1s
    timeout client 5s
    timeout server 5s
listen capt
    bind 127.0.0.1:%d
    option httplog clf
    capture request header X-Tag len 20
    capture request header X-None len 5
    capture cookie SESS len 12
    server s1 %s
listen plain
    bind 127.0.0.1:%d
    option httplog clf
    stats uri /stats
    server s1 %s
listen fmt
    bind 127.0.0.1:%d
    log-format "%%ci   %%hr %%hs  %%{+Q}r %%ST %%{+Q}CC%%{+Q}hrl %%CS end"
    server s1 %s
listen hl
    bind 127.0.0.1:%d
    option httplog
    capture cookie other= len 32
    server s1 %s
`, ports[0], web, ports[1], web, ports[2], web, ports[3], web)
	}
	clf := regexp.MustCompile(`^(\S+) - - \[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d \+0000\] ("[^"]*") (\d+) \d+ "" "" \d+ \d{3} (\S+ \S+ \S+) (\S+ \S+ \S+ \S+ \S+) (.*)$`)
	httplog := regexp.MustCompile(`^127\.0\.0\.1:\d+ \[[^]]+\] (\S+ \S+) \S+ (\d+) \d+ (.*)$`)
	slashCounts := regexp.MustCompile(` \d+/\d+/\d+/\d+/`)
	counts := regexp.MustCompile(`^(\S+) \d+ \d+ \d+ \d+ `)
	mask := func(line string) string {
		if m := httplog.FindStringSubmatch(line); m != nil {
			return m[1] + " " + m[2] + " " + slashCounts.ReplaceAllString(m[3], " C/C/C/C/")
		}
		m := clf.FindStringSubmatch(line)
		if m == nil {
			return line
		}
		timers := strings.Fields(m[5])
		for i, v := range timers {
			if v != "-1" {
				timers[i] = "T"
			}
		}
		// %ac, %fc, %bc and %sc count connections a previous request
		// may still hold for a moment.
		rest := counts.ReplaceAllString(m[6], "$1 C C C C ")
		return strings.Join([]string{m[1], m[2], m[3], m[4], strings.Join(timers, " "), rest}, " ") + "|"
	}
	run := func(start func(text string) func() string) []string {
		ports := freePorts(t, 4)
		out := start(cfg(ports))
		client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
		get := func(port int, path, tag string, cookies ...string) {
			req, err := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d%s", port, path), nil)
			require.NoError(t, err)
			for _, c := range cookies {
				req.Header.Add("Cookie", c)
			}
			if tag != "" {
				req.Header.Set("X-Tag", tag)
			}
			resp, err := client.Do(req)
			require.NoError(t, err)
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
		}
		get(ports[0], "/a?b=c", `ex"am{p}le`, "a=1; SESSION2=xyz; SESSIONID=12345678901234567890")
		get(ports[0], "/", "")
		get(ports[1], "/", "")
		get(ports[1], "/stats;csv", "")
		get(ports[2], "/", "")
		get(ports[3], "/", "", "otherx=5; other=7", "other=8")
		get(ports[3], "/", "")
		var lines []string
		require.Eventually(t, func() bool {
			lines = lines[:0]
			for _, l := range strings.Split(out(), "\n") {
				if strings.HasPrefix(l, "127.0.0.1") {
					lines = append(lines, mask(l))
				}
			}
			return len(lines) == 7
		}, 5*time.Second, 10*time.Millisecond)
		// A line is written once its answer is sent: the next request's
		// may come first.
		sort.Strings(lines)
		return lines
	}
	haStart := func(text string) func() string { return startHAProxyReady(t, text) }
	lbStart := func(text string) func() string {
		_, logs, mu := startInProcess(t, text)
		return func() string { mu.Lock(); defer mu.Unlock(); return logs.String() }
	}
	want := run(haStart)
	got := run(lbStart)
	assert.Equal(t, want, got, "haproxy's lines, then lb's")
	assert.Contains(t, got, `hl hl/s1 200 other=7 other=1 ---- C/C/C/C/0 0/0 "GET / HTTP/1.1"`)
	assert.Contains(t, got, `127.0.0.1 "GET /a?b=c HTTP/1.1" 404 "capt" "capt" "s1" T T T T T ---- C C C C 0 0 0 "SESSION2=xyz" "SESSIONID=ab" "ex#22am#7Bp#7Dle" "" |`)
}
