package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestInteropWaitForBodyMatchesHAProxy sends POST requests through
// haproxy and lb under "http-request wait-for-body": the body fetches
// (req.body, req.body_len, req.body_size, req.body_param) see the body
// once it is in, or its first "at-least" bytes; a body that stops short
// is answered 408 when the time is up.
func TestInteropWaitForBodyMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	srv := strings.TrimPrefix(handlerServer(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "body=%q x-b=%q x-len=%q x-size=%q x-body=%q\n", b, r.Header.Get("x-b"), r.Header.Get("x-len"), r.Header.Get("x-size"), r.Header.Get("x-body"))
	}), "http://")
	cfg := func(port int) string {
		return fmt.Sprintf(`global
    log stdout format raw local0
defaults
    mode http
    log global
    option httplog
    timeout connect 1s
    timeout client 5s
    timeout server 5s
listen l
    bind 127.0.0.1:%d
    http-request wait-for-body time 500ms at-least 6 if { path /least }
    http-request wait-for-body time 500ms unless { path /least }
    http-request set-header x-b %%[req.body_param(b)]
    http-request set-header x-len %%[req.body_len]
    http-request set-header x-size %%[req.body_size]
    http-request set-header x-body %%[req.body]
    server s %s
`, port, srv)
	}
	// each request: the head, the body parts and the pause before each
	// part after the first.
	type req struct {
		path  string
		cl    int
		parts []string
		pause time.Duration
	}
	reqs := []req{
		{"/form", 13, []string{"a=1&b=two&c=3"}, 0},
		{"/split", 8, []string{"a=1&", "b=xy"}, 100 * time.Millisecond},
		{"/least", 12, []string{"b=1234", "567890"}, 200 * time.Millisecond},
		{"/short", 10, []string{"b=12"}, 0},
		{"/empty", 0, nil, 0},
	}
	send := func(addr string, r req) string {
		c, err := net.DialTimeout("tcp", addr, 2*time.Second)
		require.NoError(t, err)
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		_, err = fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: h\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\nConnection: close\r\n\r\n", r.path, r.cl)
		require.NoError(t, err)
		for i, p := range r.parts {
			if i > 0 {
				time.Sleep(r.pause)
			}
			_, err = io.WriteString(c, p)
			require.NoError(t, err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		require.NoError(t, err, r.path)
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			b = nil
		}
		return fmt.Sprintf("%s %d %s", r.path, resp.StatusCode, b)
	}
	lineRe := regexp.MustCompile(`\] l l/(\S+) \S+ (\d+) \S+ - - (\S+) .*"POST (\S+) HTTP/1\.1"`)
	run := func(addr string, out func() string) ([]string, []string) {
		var resps []string
		for _, r := range reqs {
			resps = append(resps, send(addr, r))
		}
		var lines []string
		require.Eventually(t, func() bool {
			lines = lines[:0]
			for _, l := range strings.Split(out(), "\n") {
				if m := lineRe.FindStringSubmatch(l); m != nil {
					lines = append(lines, strings.Join(m[1:], " "))
				}
			}
			return len(lines) == len(reqs)
		}, 10*time.Second, 20*time.Millisecond, "log lines in:\n%s", out())
		slices.Sort(lines)
		return resps, lines
	}
	hp := freePort(t)
	hpAddr := fmt.Sprintf("127.0.0.1:%d", hp)
	wantResp, wantLog := run(hpAddr, startHAProxy(t, cfg(hp), func() bool { return !bindable(hpAddr) }))
	b, logs, mu := startInProcess(t, cfg(0))
	gotResp, gotLog := run(b.Addrs("l")[0].String(), func() string { mu.Lock(); defer mu.Unlock(); return logs.String() })
	require.Equal(t, wantResp, gotResp, "responses: haproxy's, then lb's")
	require.Equal(t, wantLog, gotLog, "log lines: haproxy's, then lb's")
	require.Contains(t, gotResp, `/form 200 body="a=1&b=two&c=3" x-b="two" x-len="13" x-size="13" x-body="a=1&b=two&c=3"`+"\n")
}
