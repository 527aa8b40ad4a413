package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestInteropResponseWaitForBodyMatchesHAProxy: http-response
// wait-for-body holds the start of the server's body for the response
// rules, whose res.body, res.body_len and res.body_size read it, then
// sends it on whole; a body that stops coming for the rule's time gets
// the client a 504, logged sR, under haproxy and lb alike. (A body
// larger than a buffer is held up to tune.bufsize less tune.maxrewrite
// by lb, where haproxy's room also loses the size of its internal head.)
func TestInteropResponseWaitForBodyMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	web := handlerServer(t, func(w http.ResponseWriter, r *http.Request) {
		fl := w.(http.Flusher)
		switch r.URL.Path {
		case "/cl":
			w.Header().Set("Content-Length", "10")
			_, _ = io.WriteString(w, "hello")
			fl.Flush()
			time.Sleep(50 * time.Millisecond)
			_, _ = io.WriteString(w, "-body")
		case "/chunked":
			_, _ = io.WriteString(w, "hello")
			fl.Flush()
			time.Sleep(50 * time.Millisecond)
			_, _ = io.WriteString(w, "-body")
		case "/atleast":
			w.Header().Set("X-Mode", "atleast")
			_, _ = io.WriteString(w, "hello")
			fl.Flush()
			time.Sleep(50 * time.Millisecond)
			_, _ = io.WriteString(w, "-body")
		case "/slow":
			_, _ = io.WriteString(w, "hello")
			fl.Flush()
			time.Sleep(1500 * time.Millisecond)
			_, _ = io.WriteString(w, "-body")
		case "/empty":
			w.WriteHeader(http.StatusNoContent)
		}
	})
	web = strings.TrimPrefix(web, "http://")
	run := func(start func(text string) func() string) (answers, lines []string) {
		port := freePorts(t, 1)[0]
		out := start(fmt.Sprintf(`global
    log stdout format raw local0
defaults
    mode http
    log global
    timeout connect 1s
    timeout client 5s
    timeout server 5s
listen l
    bind 127.0.0.1:%d
    log-format "%%ST %%tsc %%{+Q}r"
    http-response wait-for-body time 1s at-least 5 if { res.hdr(x-mode) atleast }
    http-response wait-for-body time 300ms
    http-response set-header x-body "%%[res.body]" if { res.body_len lt 100 }
    http-response set-header x-len "%%[res.body_len]"
    http-response set-header x-size "%%[res.body_size]"
    server s %s
`, port, web))
		for _, path := range []string{"/cl", "/chunked", "/atleast", "/empty", "/slow"} {
			c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
			require.NoError(t, err)
			_ = c.SetDeadline(time.Now().Add(10 * time.Second))
			_, err = io.WriteString(c, "GET "+path+" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
			require.NoError(t, err)
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			require.NoError(t, err, path)
			b, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			_ = c.Close()
			body := string(b)
			if len(body) > 20 {
				body = fmt.Sprintf("%d bytes", len(body))
			}
			xb := resp.Header.Get("X-Body")
			if len(xb) > 20 {
				xb = fmt.Sprintf("%d bytes", len(xb))
			}
			answers = append(answers, fmt.Sprintf("%s: %d body=%q x-body=%q x-len=%q x-size=%q", path, resp.StatusCode, body,
				xb, resp.Header.Get("X-Len"), resp.Header.Get("X-Size")))
		}
		require.Eventually(t, func() bool {
			lines = lines[:0]
			for _, l := range strings.Split(out(), "\n") {
				if strings.Contains(l, `"GET /`) {
					lines = append(lines, l)
				}
			}
			return len(lines) == 5
		}, 10*time.Second, 10*time.Millisecond)
		sort.Strings(lines)
		return answers, lines
	}
	wantAnswers, wantLines := run(func(text string) func() string { return startHAProxyReady(t, text) })
	gotAnswers, gotLines := run(func(text string) func() string {
		_, logs, mu := startInProcess(t, text)
		return func() string { mu.Lock(); defer mu.Unlock(); return logs.String() }
	})
	require.Equal(t, wantAnswers, gotAnswers, "haproxy's answers, then lb's")
	require.Equal(t, wantLines, gotLines, "haproxy's lines, then lb's")
	require.Equal(t, `/cl: 200 body="hello-body" x-body="hello-body" x-len="10" x-size="10"`, gotAnswers[0])
	// A later rule without at-least waits for more than the first.
	require.Equal(t, `/atleast: 200 body="hello-body" x-body="hello-body" x-len="10" x-size="10"`, gotAnswers[2])
	require.Contains(t, gotLines, `504 sR-- "GET /slow HTTP/1.1"`)
}
