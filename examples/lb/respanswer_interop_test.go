package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestInteropResponseAnswersMatchHAProxy runs, under haproxy and lb,
// the rules that put an answer of their own in the place of the
// server's (http-response deny, with the status's error page or its own
// fields and body, return and redirect), a deny with its own answer in
// http-request, return with statuses whose reason phrases haproxy words
// its own way, and an empty errorfile, which answers nothing. It
// compares the answers (status line, fields, body), the log lines and
// the denied-responses counters.
func TestInteropResponseAnswersMatchHAProxy(t *testing.T) {
	haproxyBin(t)
	srv := handlerServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/bad":
			w.Header().Set("X-Bad", "1")
		case "/forbid":
			w.Header().Set("X-Forbid", "1")
		case "/nf":
			w.WriteHeader(404)
		case "/gone":
			w.WriteHeader(410)
		}
		_, _ = io.WriteString(w, "ok")
	})
	empty := filepath.Join(t.TempDir(), "empty.http")
	require.NoError(t, os.WriteFile(empty, nil, 0o600))
	ports := freePorts(t, 4)
	dir := t.TempDir()
	text := func(p1, p2 int, sock string) string {
		return fmt.Sprintf(`global
    log stdout format raw local0
    stats socket %s level admin
defaults
    mode http
    log global
    option httplog
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend f
    bind 127.0.0.1:%d
    http-request deny deny_status 429 content-type text/plain hdr retry-after 5 lf-string "slow down %%[path]" if { path /slow }
    http-request return status 407 if { path /r407 }
    http-request return status 413 if { path /r413 }
    http-request return status 502 if { path /r502 }
    http-request return status 416 if { path /r416 }
    http-request return status 203 content-type text/plain string "fine" if { path /r203 }
    http-response deny if { res.hdr(x-bad) -m found }
    http-response deny deny_status 403 hdr x-why denied content-type text/plain string "nope" if { res.hdr(x-forbid) -m found }
    http-response return status 203 content-type text/plain lf-string "replaced %%[method]" if { status 404 }
    http-response redirect location /moved if { status 410 }
    default_backend b
backend b
    server s %s
frontend f2
    bind 127.0.0.1:%d
    default_backend dead
backend dead
    errorfile 503 %s
`, sock, p1, srv, p2, empty)
	}
	targets := []string{"/slow", "/r407", "/r413", "/r502", "/r416", "/r203", "/bad", "/forbid", "/nf", "/gone", "/ok"}
	run := func(p1, p2 int, sock string) (answers []string, stat string) {
		for _, target := range targets {
			resp := string(oneShot(t, fmt.Sprintf("127.0.0.1:%d", p1), "GET "+target+" HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"))
			head, body, _ := strings.Cut(resp, "\r\n\r\n")
			lines := strings.Split(head, "\r\n")
			fields := lines[1:]
			for i, f := range fields {
				k, v, _ := strings.Cut(f, ":")
				fields[i] = strings.ToLower(k) + ":" + strings.TrimSpace(v)
			}
			fields = slices.DeleteFunc(fields, func(f string) bool { return strings.HasPrefix(f, "date:") || strings.HasPrefix(f, "connection:") })
			slices.Sort(fields)
			answers = append(answers, target+" -> "+lines[0]+" "+strings.Join(fields, "|")+" || "+body)
		}
		resp := oneShot(t, fmt.Sprintf("127.0.0.1:%d", p2), "GET /x HTTP/1.1\r\nhost: x\r\n\r\n")
		answers = append(answers, fmt.Sprintf("empty errorfile -> %q", resp))
		_, rows, _ := statTable(t, cliCommand(t, sock, "show stat"))
		stat = fmt.Sprintf("dresp fe=%s be=%s srv=%s", rows["f/FRONTEND"]["dresp"], rows["b/BACKEND"]["dresp"], rows["b/s"]["dresp"])
		return answers, stat
	}
	lines := func(out func() string) []string {
		var got []string
		require.Eventually(t, func() bool {
			got = got[:0]
			for _, l := range strings.Split(out(), "\n") {
				if strings.Contains(l, `"GET `) {
					got = append(got, normalizeHTTPLog(l))
				}
			}
			return len(got) >= len(targets)+1
		}, 5*time.Second, 10*time.Millisecond)
		return got
	}
	haSock, lbSock := filepath.Join(dir, "ha.sock"), filepath.Join(dir, "lb.sock")
	haOut := startHAProxySocket(t, text(ports[0], ports[1], haSock), haSock)
	haAnswers, haStat := run(ports[0], ports[1], haSock)
	_, lbLogs, mu := startInProcess(t, text(ports[2], ports[3], lbSock))
	lbAnswers, lbStat := run(ports[2], ports[3], lbSock)
	assert.Equal(t, haAnswers, lbAnswers, "the answers, haproxy's then lb's")
	assert.Equal(t, haStat, lbStat, "the denied responses")
	assert.Equal(t, lines(haOut), lines(func() string { mu.Lock(); defer mu.Unlock(); return lbLogs.String() }), "the log lines")
	assert.Contains(t, haAnswers[0], "HTTP/1.1 429 Too Many Requests", "deny's own answer")
	assert.Equal(t, `empty errorfile -> ""`, haAnswers[len(haAnswers)-1])
}
