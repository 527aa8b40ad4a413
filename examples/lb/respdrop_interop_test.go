package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestInteropResponseSilentDropMatchesHAProxy: http-response silent-drop
// drops the client's connection without a byte of the server's answer,
// and the line keeps the server's status and ends PR, under haproxy and
// lb; other requests are answered.
func TestInteropResponseSilentDropMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	web := strings.TrimPrefix(handlerServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		if r.URL.Path == "/missing" {
			w.WriteHeader(http.StatusNotFound)
		}
		_, _ = io.WriteString(w, "body\n")
	}), "http://")
	run := func(start func(text string) func() string) (answers []string, lines []string) {
		p := freePorts(t, 1)
		out := start(fmt.Sprintf(`global
    log stdout format raw local0
defaults
    mode http
    log global
    option dontlognull
    timeout connect 1s
    timeout client 5s
    timeout server 5s
listen f
    bind 127.0.0.1:%d
    log-format "%%ST %%ts Tr=%%Tr %%{+Q}r"
    http-response silent-drop if { status 404 }
    server s %s
`, p[0], web))
		for _, path := range []string{"/ok", "/missing"} {
			c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", p[0]))
			require.NoError(t, err)
			_, err = io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
			require.NoError(t, err)
			// A dropped client hears nothing: not a byte, maybe not
			// even the end, until its own deadline.
			_ = c.SetReadDeadline(time.Now().Add(1500 * time.Millisecond))
			b, _ := io.ReadAll(c)
			_ = c.Close()
			first, _, _ := strings.Cut(string(b), "\r\n")
			answers = append(answers, path+": "+first)
		}
		require.Eventually(t, func() bool {
			lines = lines[:0]
			for _, l := range strings.Split(out(), "\n") {
				if strings.Contains(l, `"GET /`) {
					// A response time that is one (not -1) varies.
					lines = append(lines, trTime.ReplaceAllString(l, "Tr=T"))
				}
			}
			return len(lines) == 2
		}, 10*time.Second, 10*time.Millisecond, "two request lines")
		sort.Strings(lines)
		return answers, lines
	}
	wantAnswers, wantLines := run(func(text string) func() string { return startHAProxyReady(t, text) })
	gotAnswers, gotLines := run(func(text string) func() string {
		_, logs, mu := startInProcess(t, text)
		return func() string { mu.Lock(); defer mu.Unlock(); return logs.String() }
	})
	require.Equal(t, wantAnswers, gotAnswers, "what haproxy's clients got, then lb's")
	require.Equal(t, wantLines, gotLines, "haproxy's lines, then lb's")
	require.Equal(t, []string{"/ok: HTTP/1.1 200 OK", "/missing: "}, gotAnswers)
	require.Equal(t, "404 PR Tr=-1 \"GET /missing HTTP/1.1\"", gotLines[1])
}

var trTime = regexp.MustCompile(`Tr=[0-9]+`)
