package main

import (
	"fmt"
	"net/http"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestInteropResponseTrackMatchesHAProxy runs http-response track-sc0,
// sc-inc-gpc0 on 404 answers and sc-set-gpt0 under haproxy and lb, the
// way sites count the scanners that probe for missing pages, and
// compares the stick table: a connection and a request per answer, the
// 4xx counted as errors, gpc0 for each 404, gpt0 set.
func TestInteropResponseTrackMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	srv := handlerServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/nf":
			w.WriteHeader(404)
		case "/fail":
			w.WriteHeader(503)
		}
	})
	dir := t.TempDir()
	text := func(port int, sock string) string {
		return fmt.Sprintf(`global
    stats socket %s level admin
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend f
    bind 127.0.0.1:%d
    default_backend b
backend b
    stick-table type ip size 10 store gpc0,gpt0,http_req_cnt,http_err_cnt,http_fail_cnt,conn_cnt,conn_cur
    http-response track-sc0 src
    http-response sc-inc-gpc0(0) if { status 404 }
    http-response sc-set-gpt0(0) 7 if { status 503 }
    server s %s
`, sock, port, srv)
	}
	run := func(port int, sock string) string {
		for _, p := range []string{"/a", "/nf", "/nf", "/fail", "/b"} {
			oneShot(t, fmt.Sprintf("127.0.0.1:%d", port), "GET "+p+" HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
		}
		var st string
		require.Eventually(t, func() bool {
			st = cliCommand(t, sock, "show table b")
			return regexp.MustCompile(`conn_cur=0`).MatchString(st)
		}, 5*time.Second, 10*time.Millisecond)
		return regexp.MustCompile(`(?m)^0x[0-9a-f]+: `).ReplaceAllString(st, "")
	}
	ports := freePorts(t, 2)
	haSock, lbSock := filepath.Join(dir, "ha.sock"), filepath.Join(dir, "lb.sock")
	startHAProxySocket(t, text(ports[0], haSock), haSock)
	want := run(ports[0], haSock)
	startInProcess(t, text(ports[1], lbSock))
	got := run(ports[1], lbSock)
	assert.Equal(t, want, got, "haproxy's table, then lb's")
	assert.Contains(t, want, "gpc0=2")
}
