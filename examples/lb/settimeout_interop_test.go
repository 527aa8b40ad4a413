package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// serverDelay is how long the set-timeout tests' server waits before it
// answers (or, for /body, before the rest of the body).
const serverDelay = 400 * time.Millisecond

// setTimeoutCfg: a frontend whose backend waits 5s for its server but
// whose rules shorten that for some requests (a time, an expression), and
// a tunnel's; a listen section whose 200ms the rules lengthen for /long.
func setTimeoutCfg(port, port2 int, srv string) string {
	return fmt.Sprintf(`global
    log stdout format raw local0
%s
frontend web
    bind 127.0.0.1:%d
    default_backend be
backend be
    timeout server 5s
    timeout tunnel 5s
    http-request set-timeout server 150ms if { path /short } || { path /body }
    http-request set-timeout server req.hdr(x-timeout) if { req.hdr(x-timeout) -m found }
    http-request set-timeout tunnel 200ms if { path /ws }
    server s1 %s
listen li
    bind 127.0.0.1:%d
    timeout server 200ms
    http-request set-timeout server 2s if { path /long }
    server s1 %s
`, httpLogDefaults, port, srv, port2, srv)
}

// slowServer answers after serverDelay; /body sends its head and half
// its body at once and the rest after the delay; /ws switches to a
// tunnel in which it says nothing until the client leaves.
func slowServer(t *testing.T) string {
	return handlerServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/body":
			w.Header().Set("Content-Length", "4")
			w.WriteHeader(200)
			_, _ = io.WriteString(w, "ab")
			w.(http.Flusher).Flush()
			time.Sleep(serverDelay)
			_, _ = io.WriteString(w, "cd")
			return
		case "/ws":
			c, rw, err := w.(http.Hijacker).Hijack()
			if err != nil {
				return
			}
			defer func() { _ = c.Close() }()
			_, _ = rw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
				"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n")
			_ = rw.Flush()
			_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
			_, _ = io.Copy(io.Discard, c)
			return
		}
		time.Sleep(serverDelay)
		_, _ = io.WriteString(w, "ok")
	})
}

// timeoutOutcome is what one request came to: the status and termination
// state logged, and how long the client waited.
type timeoutOutcome struct {
	Status, Term string
	took         time.Duration
}

// TestInteropSetTimeoutMatchesHAProxy: http-request set-timeout server
// replaces the backend's timeout server for the request it runs on, both
// for the wait for the response (504, sH) and between body reads (sD),
// shortening or lengthening it, from a time or a sample expression (ms);
// a negative sample expires at once, a sample that is no integer changes
// nothing; set-timeout tunnel bounds an upgraded connection's silence. Statuses and
// termination states are haproxy's; the times are checked by bounds only.
func TestInteropSetTimeoutMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	srv := slowServer(t)
	type req struct {
		port    int // 0: web, 1: li
		path    string
		timeout string // X-Timeout, when set
	}
	reqs := []req{
		{0, "/short", ""},
		{0, "/other", ""},
		{0, "/expr", "120"},
		{0, "/expr-long", "1500"},
		{0, "/expr-neg", "-5"},   // expires at once
		{0, "/expr-none", "abc"}, // no integer: the rule does nothing
		{0, "/body", ""},
		{0, "/ws", ""},
		{1, "/long", ""},
		{1, "/li", ""},
	}
	run := func(ports []int, logs func() string) map[string]timeoutOutcome {
		got := map[string]timeoutOutcome{}
		for _, r := range reqs {
			start := time.Now()
			addr := fmt.Sprintf("127.0.0.1:%d", ports[r.port])
			if r.path == "/ws" {
				tunnel(t, addr)
			} else {
				plainRequest(t, addr, r.path, r.timeout)
			}
			got[r.path] = timeoutOutcome{took: time.Since(start)}
		}
		// The log lines: status and the first two characters of the
		// termination state, per path.
		lines := sortedLines(t, logs, len(reqs), func(l string) (string, bool) {
			f := strings.Fields(l)
			if len(f) < 15 || !strings.HasPrefix(f[len(f)-2], "/") {
				return "", false
			}
			return f[len(f)-2] + " " + f[5] + " " + f[9][:2], true
		})
		for _, l := range lines {
			f := strings.Fields(l)
			o := got[f[0]]
			o.Status, o.Term = f[1], f[2]
			got[f[0]] = o
		}
		return got
	}
	ports := freePorts(t, 4)
	want := run(ports[:2], startHAProxyReady(t, setTimeoutCfg(ports[0], ports[1], srv)))
	got := run(ports[2:], lbLogs(t)(setTimeoutCfg(ports[2], ports[3], srv)))

	strip := func(m map[string]timeoutOutcome) map[string]timeoutOutcome {
		out := map[string]timeoutOutcome{}
		for k, v := range m {
			out[k] = timeoutOutcome{Status: v.Status, Term: v.Term}
		}
		return out
	}
	// When a tunnel's both sides fall silent together, both blame the
	// client (cD).
	require.Equal(t, "cD", want["/ws"].Term)
	require.Equal(t, strip(want), strip(got), "haproxy's outcomes, then lb's")
	require.Equal(t, map[string]timeoutOutcome{
		"/short":     {Status: "504", Term: "sH"},
		"/other":     {Status: "200", Term: "--"},
		"/expr":      {Status: "504", Term: "sH"},
		"/expr-long": {Status: "200", Term: "--"},
		"/expr-neg":  {Status: "504", Term: "sH"},
		"/expr-none": {Status: "200", Term: "--"},
		"/body":      {Status: "200", Term: "sD"},
		"/ws":        {Status: "101", Term: "cD"},
		"/long":      {Status: "200", Term: "--"},
		"/li":        {Status: "504", Term: "sH"},
	}, strip(got))
	for name, m := range map[string]map[string]timeoutOutcome{"haproxy": want, "lb": got} {
		// A timeout cut the wait short of the server's delay only after
		// its own time; an answer came after the delay.
		assert.GreaterOrEqual(t, m["/short"].took, 140*time.Millisecond, name)
		assert.GreaterOrEqual(t, m["/expr"].took, 110*time.Millisecond, name)
		assert.GreaterOrEqual(t, m["/li"].took, 190*time.Millisecond, name)
		assert.GreaterOrEqual(t, m["/ws"].took, 190*time.Millisecond, name)
		assert.Less(t, m["/ws"].took, 4*time.Second, name, "the tunnel's 5s gave way to 200ms")
		assert.Less(t, m["/expr-neg"].took, serverDelay, name)
		for _, p := range []string{"/other", "/expr-long", "/expr-none", "/long"} {
			assert.GreaterOrEqual(t, m[p].took, serverDelay, name+" "+p)
		}
	}
}

// plainRequest sends GET path on a connection of its own and reads the
// answer, whatever it is.
func plainRequest(t *testing.T, addr, path, timeout string) {
	t.Helper()
	req, err := http.NewRequest("GET", "http://"+addr+path, nil)
	require.NoError(t, err)
	if timeout != "" {
		req.Header.Set("X-Timeout", timeout)
	}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Do(req)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body) // a body cut short ends in an error
	_ = resp.Body.Close()
}

// tunnel upgrades a connection to /ws, then stays silent until the proxy
// closes it.
func tunnel(t *testing.T, addr string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer func() { _ = c.Close() }()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	_, err = io.WriteString(c, "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
	require.NoError(t, err)
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	require.NoError(t, err)
	require.Equal(t, 101, resp.StatusCode, strconv.Itoa(resp.StatusCode))
	_, err = io.Copy(io.Discard, br)
	require.NoError(t, err, "the proxy closes the tunnel")
}
