package main

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestInteropHTTPStickMatchesHAProxy sends requests through HTTP
// backends that stick on a cookie (a string table), on the source
// address, and on a session cookie the server sets (store-response),
// under haproxy and lb: the servers reached, in order, must be the same,
// requests without a known key going to the algorithm.
func TestInteropHTTPStickMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	web := nameServers(t, 3, true)
	// Servers that open a session on /login with a cookie of their own.
	var app []string
	for i := 1; i <= 3; i++ {
		name := fmt.Sprintf("s%d", i)
		app = append(app, strings.TrimPrefix(handlerServer(t, func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/login" {
				w.Header().Add("Set-Cookie", "SESSIONID=sess-"+name+"; path=/")
			}
			_, _ = io.WriteString(w, name+"\n")
		}), "http://"))
	}
	cfg := func(p1, p2, p3 int) string {
		return fmt.Sprintf(`defaults
    mode http
    timeout connect 2s
    timeout client 5s
    timeout server 5s
listen ck
    bind 127.0.0.1:%d
    balance roundrobin
    stick-table type string len 32 size 1k expire 1m
    stick on req.cook(SID)
    server s1 %s
    server s2 %s
    server s3 %s
listen ip
    bind 127.0.0.1:%d
    balance roundrobin
    stick-table type ip size 1k expire 1m
    stick match src
    stick store-request src if { path_beg /store }
    server s1 %s
    server s2 %s
    server s3 %s
listen app
    bind 127.0.0.1:%d
    balance roundrobin
    stick-table type string len 32 size 1k expire 1m
    stick match req.cook(SESSIONID)
    stick store-response res.cook(SESSIONID)
    server s1 %s
    server s2 %s
    server s3 %s
`, p1, web[0], web[1], web[2], p2, web[0], web[1], web[2], p3, app[0], app[1], app[2])
	}
	run := func(start func(text string)) []string {
		ports := freePorts(t, 3)
		start(cfg(ports[0], ports[1], ports[2]))
		client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
		get := func(port int, path, cookie string) string {
			req, err := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d%s", port, path), nil)
			require.NoError(t, err)
			if cookie != "" {
				req.Header.Set("Cookie", cookie)
			}
			resp, err := client.Do(req)
			require.NoError(t, err)
			body, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			return strings.TrimSpace(string(body))
		}
		var got []string
		for _, c := range []string{"SID=a", "SID=b", "SID=a", "", "SID=b", "SID=c", "SID=a", ""} {
			got = append(got, "ck "+c+" "+get(ports[0], "/", c))
		}
		for _, p := range []string{"/", "/", "/store", "/", "/", "/"} {
			got = append(got, "ip "+p+" "+get(ports[1], p, ""))
		}
		for _, r := range []struct{ path, cookie string }{
			{"/login", ""}, {"/", "SESSIONID=sess-s1"}, {"/", ""}, {"/", "SESSIONID=sess-s1"},
			{"/login", ""}, {"/", "SESSIONID=sess-s3"}, {"/", "SESSIONID=nosuch"}, {"/", "SESSIONID=sess-s3"},
		} {
			got = append(got, "app "+r.path+" "+r.cookie+" "+get(ports[2], r.path, r.cookie))
		}
		return got
	}
	want := run(func(text string) { startHAProxyReady(t, text) })
	got := run(func(text string) { startInProcess(t, text) })
	require.Equal(t, want, got, "haproxy's servers, then lb's")
	require.Equal(t, []string{"ck SID=a s1", "ck SID=b s2", "ck SID=a s1", "ck  s3", "ck SID=b s2", "ck SID=c s1", "ck SID=a s1", "ck  s2"}, got[:8])
	require.Equal(t, []string{"app /login  s1", "app / SESSIONID=sess-s1 s1", "app /  s2", "app / SESSIONID=sess-s1 s1",
		"app /login  s3", "app / SESSIONID=sess-s3 s3", "app / SESSIONID=nosuch s1", "app / SESSIONID=sess-s3 s3"}, got[14:])
}
