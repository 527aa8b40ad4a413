package main

import (
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

// TestInteropEarlyHintAndLogLevelMatchHAProxy sends the same requests
// through haproxy and lb: early-hint rules answer 103 Early Hints first
// (one per rule, none to an HTTP/1.0 client), and set-log-level, on the
// request or the response, changes the priority the log line goes out
// with, or leaves it out (silent).
func TestInteropEarlyHintAndLogLevelMatchHAProxy(t *testing.T) {
	haproxyBin(t)
	srv := strings.TrimPrefix(handlerServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Date"] = nil
		_, _ = io.WriteString(w, "ok "+r.URL.Path)
	}), "http://")
	cfg := func(port int) string {
		return fmt.Sprintf(`global
    log stdout format rfc3164 local0 debug
defaults
    mode http
    log global
    option httplog
    timeout connect 1s
    timeout client 5s
    timeout server 5s
listen l
    bind 127.0.0.1:%d
    http-request early-hint link "</a.css>; rel=preload" if { path /eh }
    http-request early-hint link "</%%[str(b)].js>; rel=preload" if { path /eh }
    http-request early-hint x-path "%%[path]" if { path_beg /eh2 }
    http-request set-log-level silent if { path /silent }
    http-request set-log-level err if { path /err }
    http-request set-log-level debug if { path /debug }
    http-request set-var(txn.path) path
    http-response set-log-level notice if { var(txn.path) -m str /notice }
    http-response set-log-level silent if { var(txn.path) -m str /rsilent }
    server s %s
`, port, srv)
	}
	type req struct{ path, version string }
	reqs := []req{{"/eh", "1.1"}, {"/eh", "1.0"}, {"/eh2/x", "1.1"}, {"/silent", "1.1"}, {"/err", "1.1"},
		{"/debug", "1.1"}, {"/notice", "1.1"}, {"/rsilent", "1.1"}, {"/plain", "1.1"}}
	send := func(addr string, r req) string {
		b := oneShot(t, addr, "GET "+r.path+" HTTP/"+r.version+"\r\nHost: h\r\nConnection: close\r\n\r\n")
		// Each response's status (the version aside: lb answers an
		// HTTP/1.0 client in HTTP/1.1, haproxy in the server's), its
		// fields with lower-case names, sorted, without Connection, and
		// the body.
		var out []string
		for _, part := range strings.Split(string(b), "\r\n\r\n") {
			lines := strings.Split(part, "\r\n")
			if v, rest, ok := strings.Cut(lines[0], " "); ok && strings.HasPrefix(v, "HTTP/") {
				lines[0] = "HTTP " + rest
			}
			hdrs := lines[1:]
			for i, l := range hdrs {
				if k, v, ok := strings.Cut(l, ": "); ok {
					hdrs[i] = strings.ToLower(k) + ": " + v
				}
			}
			hdrs = slices.DeleteFunc(hdrs, func(l string) bool { return strings.HasPrefix(l, "connection:") })
			slices.Sort(hdrs)
			out = append(out, lines[0]+"|"+strings.Join(hdrs, "|"))
		}
		return strings.Join(out, " || ")
	}
	// A log line as "<PRI> path status".
	lineRe := regexp.MustCompile(`^<(\d+)>.*\]: .* (\d{3}) \d+ .*"GET (\S+) HTTP/1\.[01]"$`)
	run := func(addr string, out func() string) ([]string, []string) {
		var resps []string
		for _, r := range reqs {
			resps = append(resps, r.path+" "+r.version+" "+send(addr, r))
		}
		var lines []string
		require.Eventually(t, func() bool {
			lines = lines[:0]
			for _, l := range strings.Split(out(), "\n") {
				if m := lineRe.FindStringSubmatch(strings.TrimSpace(l)); m != nil {
					lines = append(lines, m[1]+" "+m[3]+" "+m[2])
				}
			}
			return len(lines) == len(reqs)-2
		}, 10*time.Second, 20*time.Millisecond, "log lines in:\n%s", out())
		time.Sleep(100 * time.Millisecond) // a silent line would come by now
		slices.Sort(lines)
		return resps, lines
	}
	hp := freePort(t)
	hpAddr := fmt.Sprintf("127.0.0.1:%d", hp)
	hpOut := startHAProxy(t, cfg(hp), func() bool { return !bindable(hpAddr) })
	wantResp, wantLog := run(hpAddr, hpOut)
	b, logs, mu := startInProcess(t, cfg(0))
	gotResp, gotLog := run(b.Addrs("l")[0].String(), func() string { mu.Lock(); defer mu.Unlock(); return logs.String() })
	require.Equal(t, wantResp, gotResp, "responses: haproxy's, then lb's")
	require.Equal(t, wantLog, gotLog, "log priorities: haproxy's, then lb's")
	require.Contains(t, gotResp[0], "HTTP 103 Early Hints|link: </a.css>; rel=preload || HTTP 103 Early Hints|link: </b.js>; rel=preload || HTTP 200 OK|")
	require.Contains(t, gotLog, "131 /err 200")
}

// TestInteropTCPSetLogLevelMatchesHAProxy: in TCP mode, a content rule's
// set-log-level changes the priority of the connection's log line, or
// leaves the line out, as haproxy does.
func TestInteropTCPSetLogLevelMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	srv := echoServer(t)
	cfg := func(port int) string {
		return fmt.Sprintf(`global
    log stdout format rfc3164 local0 debug
defaults
    mode tcp
    log global
    option tcplog
    timeout connect 1s
    timeout client 5s
    timeout server 5s
listen l
    bind 127.0.0.1:%d
    tcp-request inspect-delay 2s
    tcp-request content set-log-level silent if { req.payload(0,4) -m str QUIE }
    tcp-request content set-log-level err if { req.payload(0,4) -m str LOUD }
    tcp-request content set-log-level debug if { req.payload(0,4) -m str DBUG }
    tcp-request content accept if { req.len ge 4 }
    server s %s
`, port, srv)
	}
	words := []string{"QUIE", "LOUD", "DBUG", "PLAI"}
	lineRe := regexp.MustCompile(`^<(\d+)>.*\]: .* l l/s \S+ (\d+) `)
	run := func(addr string, out func() string) []string {
		for _, w := range words {
			c, err := net.DialTimeout("tcp", addr, 2*time.Second)
			require.NoError(t, err)
			_ = c.SetDeadline(time.Now().Add(5 * time.Second))
			_, err = io.WriteString(c, w)
			require.NoError(t, err)
			buf := make([]byte, 4)
			_, err = io.ReadFull(c, buf)
			require.NoError(t, err)
			require.Equal(t, w, string(buf))
			_ = c.Close()
		}
		var lines []string
		require.Eventually(t, func() bool {
			lines = lines[:0]
			for _, l := range strings.Split(out(), "\n") {
				if m := lineRe.FindStringSubmatch(strings.TrimSpace(l)); m != nil {
					lines = append(lines, m[1]+" "+m[2])
				}
			}
			return len(lines) == len(words)-1
		}, 10*time.Second, 20*time.Millisecond, "log lines in:\n%s", out())
		time.Sleep(100 * time.Millisecond) // a silent line would come by now
		slices.Sort(lines)
		return lines
	}
	hp := freePort(t)
	hpAddr := fmt.Sprintf("127.0.0.1:%d", hp)
	want := run(hpAddr, startHAProxy(t, cfg(hp), func() bool { return !bindable(hpAddr) }))
	b, logs, mu := startInProcess(t, cfg(0))
	got := run(b.Addrs("l")[0].String(), func() string { mu.Lock(); defer mu.Unlock(); return logs.String() })
	require.Equal(t, want, got, "priorities and byte counts: haproxy's, then lb's")
	require.Equal(t, []string{"131 4", "134 4", "135 4"}, got)
}
