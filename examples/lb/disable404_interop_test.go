package main

import (
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestInteropDisableOn404MatchesHAProxy runs one backend with
// "http-check disable-on-404" under haproxy and lb, both checking the
// same two servers, whose health answers the test sets, and compares:
// a 404 stops a running server (NOLB, "is stopping") so that it takes
// no new client but those its cookie sends; a 2xx brings it back at
// once; with every server stopping the backend answers 503 and says it
// has none; a failing stopping server goes down; a server that is down
// stays down on 404s and comes up on 2xx. The state lines, the traffic,
// the statistics' status and check columns and "show servers state"
// must read the same.
func TestInteropDisableOn404MatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	var codes [2]atomic.Int32
	servers := make([]string, 2)
	for i, name := range []string{"a", "b"} {
		codes[i].Store(200)
		servers[i] = handlerServer(t, func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/health" {
				w.WriteHeader(int(codes[i].Load()))
				return
			}
			_, _ = io.WriteString(w, name)
		})
	}
	ports := freePorts(t, 2)
	dir := t.TempDir()
	text := func(port int, sock string) string {
		return fmt.Sprintf(`global
    log stdout format raw local0
    stats socket %s level admin
defaults
    mode http
    log global
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend f
    bind 127.0.0.1:%d
    default_backend b
backend b
    option httpchk GET /health
    http-check disable-on-404
    cookie SRV insert indirect nocache
    server a %s check inter 100 rise 2 fall 3 cookie a
    server b %s check inter 100 rise 2 fall 3 cookie b
`, sock, port, servers[0], servers[1])
	}
	socks := []string{filepath.Join(dir, "ha.sock"), filepath.Join(dir, "lb.sock")}
	haOut := startHAProxySocket(t, text(ports[0], socks[0]), socks[0])
	_, lbLogs, mu := startInProcess(t, text(ports[1], socks[1]))
	outputs := []func() string{haOut, func() string { mu.Lock(); defer mu.Unlock(); return lbLogs.String() }}

	status := func(i int, srv string) string {
		_, rows, _ := statTable(t, cliCommand(t, socks[i], "show stat"))
		r := rows["b/"+srv]
		return r["status"] + " " + r["check_status"] + " " + r["check_code"]
	}
	// waitFor waits until both proxies show server srv as want.
	waitFor := func(srv, want string) {
		t.Helper()
		for i := range 2 {
			require.Eventually(t, func() bool { return strings.HasPrefix(status(i, srv), want) }, 10*time.Second, 20*time.Millisecond,
				"proxy %d: server %s never showed %q (now %q)", i, srv, want, status(i, srv))
		}
	}
	// settled is status once no check is under way: haproxy marks a
	// running check "* " in check_status, which a loaded machine
	// catches more often.
	settled := func(i int, srv string) string {
		t.Helper()
		var st string
		require.Eventually(t, func() bool {
			st = status(i, srv)
			return !strings.Contains(st, "* ")
		}, 10*time.Second, 5*time.Millisecond, "proxy %d: server %s's check kept running", i, srv)
		return st
	}
	type result struct {
		phases []string
	}
	var got [2]result
	// record notes, for both proxies, the servers' statistics and where
	// plain and cookie requests go.
	record := func(label string) {
		for i := range 2 {
			var b strings.Builder
			fmt.Fprintf(&b, "%s: a=%q b=%q", label, settled(i, "a"), settled(i, "b"))
			for _, cookie := range []string{"", "SRV=a", "SRV=b"} {
				for range 2 {
					req := "GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n"
					if cookie != "" {
						req += "cookie: " + cookie + "\r\n"
					}
					resp := string(oneShot(t, fmt.Sprintf("127.0.0.1:%d", ports[i]), req+"\r\n"))
					st, _, _ := strings.Cut(resp, "\r\n")
					_, body, _ := strings.Cut(resp, "\r\n\r\n")
					if !strings.HasSuffix(st, "200 OK") {
						body = ""
					}
					fmt.Fprintf(&b, " [%s] %s %s", cookie, st, body)
				}
			}
			// The state, once no check is under way: a running check's
			// srv_check_result is 0 (unknown) until it ends.
			var states string
			require.Eventually(t, func() bool {
				var sb strings.Builder
				for _, l := range strings.Split(cliCommand(t, socks[i], "show servers state b"), "\n") {
					if f := strings.Fields(l); len(f) > 12 && f[1] == "b" {
						if f[11] == "0" {
							return false
						}
						// srv_op_state, srv_check_status, srv_check_result, srv_check_health
						fmt.Fprintf(&sb, " state(%s)=%s/%s/%s/%s", f[3], f[5], f[10], f[11], f[12])
					}
				}
				states = sb.String()
				return true
			}, 10*time.Second, 5*time.Millisecond, "proxy %d: a check kept running", i)
			b.WriteString(states)
			got[i].phases = append(got[i].phases, b.String())
		}
	}

	waitFor("a", "UP L7OK")
	waitFor("b", "UP L7OK")
	record("running")
	codes[0].Store(404)
	waitFor("a", "NOLB L7OKC 404")
	record("a stopping")
	codes[0].Store(200)
	waitFor("a", "UP L7OK 200")
	record("a back")
	codes[0].Store(404)
	waitFor("a", "NOLB")
	codes[1].Store(404)
	waitFor("b", "NOLB")
	record("both stopping")
	codes[0].Store(503)
	waitFor("a", "DOWN L7STS")
	record("a down")
	codes[0].Store(404)
	// A down server's 404 is a wrong status, not a conditional pass.
	waitFor("a", "DOWN L7STS 404")
	record("a down, 404s")
	codes[0].Store(200)
	codes[1].Store(200)
	waitFor("a", "UP L7OK")
	waitFor("b", "UP L7OK")
	record("both back")

	duration := regexp.MustCompile(`check duration: \d+ms`)
	stateLines := func(out string) []string {
		var lines []string
		for _, l := range strings.Split(out, "\n") {
			// haproxy's own copies on stderr start with "[LEVEL]".
			if !strings.HasPrefix(l, "[") && (strings.Contains(l, "Server b/") || strings.Contains(l, "has no server available")) {
				lines = append(lines, duration.ReplaceAllString(strings.TrimSpace(l), "check duration: Nms"))
			}
		}
		return lines
	}
	want, have := stateLines(outputs[0]()), stateLines(outputs[1]())
	assert.Equal(t, want, have, "the state lines, haproxy's then lb's")
	assert.Contains(t, strings.Join(want, "\n"), "Server b/a is stopping, reason: Layer7 check conditionally passed, code: 404")
	assert.Equal(t, got[0].phases, got[1].phases, "statistics and traffic, haproxy's then lb's")
}
