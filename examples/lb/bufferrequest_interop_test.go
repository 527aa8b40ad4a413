package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestInteropBufferRequestMatchesHAProxy sends request bodies that come
// whole, late, never, behind an Expect: 100-continue or larger than a
// buffer, through proxies with and without option http-buffer-request,
// under haproxy and lb. With the option the server sees nothing until
// the body (or a buffer of it) is in, and a body that never comes ends
// in a 408 (cR) at timeout http-request without reaching the server;
// without it the request goes on at once. What the clients got, which
// requests reached the server with how many body bytes, and the log
// lines' status and termination state must match.
func TestInteropBufferRequestMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	type result struct{ seen, server, lines []string }
	logLine := regexp.MustCompile(`\] (\S+) \S+ \S+ (-?\d+) \d+ - - (\S{2})-- .*"(\S+ \S+)`)
	run := func(start func(text string) func() string) result {
		var mu sync.Mutex
		var server []string
		web := handlerServer(t, func(w http.ResponseWriter, r *http.Request) {
			n, _ := io.Copy(io.Discard, r.Body)
			mu.Lock()
			server = append(server, fmt.Sprintf("%s %d", r.URL.Path, n))
			mu.Unlock()
			_, _ = io.WriteString(w, "ok\n")
		})
		ports := freePorts(t, 2)
		out := start(fmt.Sprintf(`global
    log stdout format raw local0
%s    timeout http-request 300ms
listen buf
    bind 127.0.0.1:%d
    option http-buffer-request
    server s %s
listen plain
    bind 127.0.0.1:%d
    server s %s
`, httpLogDefaults, ports[0], web, ports[1], web))
		var res result
		// send writes head, then body after a pause (body "": never),
		// and reports the status lines the client reads.
		send := func(port int, path string, head string, body string, pause time.Duration) string {
			c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
			require.NoError(t, err)
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(5 * time.Second))
			_, err = fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n%s\r\n", path, head)
			require.NoError(t, err)
			r := bufio.NewReader(c)
			var got []string
			if strings.Contains(head, "100-continue") {
				line, err := r.ReadString('\n')
				require.NoError(t, err)
				got = append(got, strings.TrimSpace(line))
				for line != "\r\n" && err == nil {
					line, err = r.ReadString('\n')
				}
			}
			if body == "" {
				time.Sleep(pause) // past timeout http-request, then the client gives up
			} else {
				time.Sleep(pause)
				_, err = io.WriteString(c, body)
				require.NoError(t, err)
			}
			if body == "" {
				_ = c.(*net.TCPConn).CloseWrite()
			}
			resp, err := http.ReadResponse(r, nil)
			if err != nil {
				return strings.Join(append(got, "no answer"), ", ")
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			return strings.Join(append(got, resp.Status), ", ")
		}
		big := strings.Repeat("b", 20000)
		for i, px := range []string{"buf", "plain"} {
			p := ports[i]
			res.seen = append(res.seen,
				px+" whole: "+send(p, "/whole", "Content-Length: 5\r\n", "hello", 0),
				px+" late: "+send(p, "/late", "Content-Length: 5\r\n", "hello", 100*time.Millisecond),
				px+" continue: "+send(p, "/continue", "Content-Length: 5\r\nExpect: 100-continue\r\n", "hello", 0),
				px+" big: "+send(p, "/big", fmt.Sprintf("Content-Length: %d\r\n", len(big)), big, 0),
				px+" chunked: "+send(p, "/chunked", "Transfer-Encoding: chunked\r\n", "5\r\nhello\r\n0\r\n\r\n", 50*time.Millisecond),
			)
		}
		// A body that never comes: the buffering proxy answers 408 at
		// timeout http-request; the other sends the head on.
		res.seen = append(res.seen, "buf never: "+send(ports[0], "/never", "Content-Length: 5\r\n", "", 600*time.Millisecond))
		require.Eventually(t, func() bool {
			res.lines = res.lines[:0]
			for _, l := range strings.Split(out(), "\n") {
				if m := logLine.FindStringSubmatch(l); m != nil {
					res.lines = append(res.lines, strings.Join(m[1:], " "))
				}
			}
			return len(res.lines) == 11
		}, 5*time.Second, 10*time.Millisecond, "eleven lines in:\n%s", out())
		sort.Strings(res.lines)
		mu.Lock()
		res.server = append(res.server, server...)
		mu.Unlock()
		sort.Strings(res.server)
		return res
	}
	want := run(func(text string) func() string { return startHAProxyReady(t, text) })
	got := run(func(text string) func() string {
		_, logs, mu := startInProcess(t, text)
		return func() string { mu.Lock(); defer mu.Unlock(); return logs.String() }
	})
	assert.Equal(t, want.seen, got.seen, "what the clients got under haproxy, then lb")
	assert.Equal(t, want.server, got.server, "what reached the server")
	assert.Equal(t, want.lines, got.lines, "the log lines")
	assert.Contains(t, got.seen, "buf never: 408 Request Time-out")
	assert.NotContains(t, got.server, "/never 0", "a body that never came kept the request from the server")
	assert.Contains(t, got.lines, "buf 408 cR POST /never")
}
