package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// rewriteCfg exercises the request and response rewrites, the older
// redirect keyword and monitor-uri, in front of an echo of what the
// server received.
func rewriteCfg(port int, echo string) string {
	return fmt.Sprintf(`global
    log stdout format raw local0
defaults
    mode http
    log global
    option httplog
    timeout connect 2s
    timeout client 5s
    timeout server 5s
frontend fe
    bind 127.0.0.1:%d
    monitor-uri /health
    http-request set-header X-Out "%%[base]|%%[query]|%%[req.ver]|%%[hdr_cnt(accept)]|%%[req.cook(lang)]|%%[req.fhdr(accept)]|%%[cook_cnt(lang)]"
    http-request set-header X-Acl dir if { path_dir x }
    http-request add-header X-Acl dom if { hdr_dom(host) -i EXAMPLE.com }
    http-request add-header X-Acl len if { path_len gt 8 } || { cook(lang) -m len 2 }
    http-request replace-header X-Tag ^v(.*)$ tag-\1
    http-request replace-value X-List ^a(.)$ A\1\x21
    http-request replace-path ^/old/(.*) /new/\1
    http-request replace-uri ^/u/(.*)$ /uri/\1
    http-request set-query q=1&%%[src] if { path_beg /q }
    http-request set-query %%[req.hdr(x-none)] if { path_beg /e }
    http-request set-method POST if { path_beg /m }
    http-request set-uri /set%%[path] if { path_beg /s/ }
    http-request redirect location /first if { path /r/both }
    redirect prefix /moved code 301 if { path_beg /r/ }
    http-response replace-header X-Srv ^(.*)$ srv-\1
    http-response set-status 299 reason Fine if { status 200 }
    default_backend be
backend be
    server s1 %s
`, port, echo)
}

// TestInteropRewritesMatchHAProxy: the same requests through haproxy and
// lb on the same configuration reach the server rewritten the same way
// (header values, comma-separated values, path, URI, query, method), come
// back with the same rewritten status and header, are redirected by the
// same rule, and a monitor-uri request is answered by the proxy and not
// logged.
func TestInteropRewritesMatchHAProxy(t *testing.T) {
	haproxyBin(t)
	echo := handlerServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Srv", "echo")
		_, _ = fmt.Fprintf(w, "%s %s\nX-Tag: %s\nX-List: %s\nX-Out: %s\nX-Acl: %s\n", r.Method, r.RequestURI,
			strings.Join(r.Header["X-Tag"], "|"), strings.Join(r.Header["X-List"], "|"), r.Header.Get("X-Out"), strings.Join(r.Header["X-Acl"], "|"))
	})

	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	run := func(port int) []string {
		var got []string
		for _, c := range []struct{ path, tag, list string }{
			{"/plain?a=1", "v1", "a1, b2,a3"},
			{"/old/x/y?k=v", "x1", "a12"},
			{"/u/p?z", "", ""},
			{"/q/a?old=1", "", ""},
			{"/e/a?gone", "", ""},
			{"/e/nothing", "", ""},
			{"/m/x", "vv", ""},
			{"/s/x?y", "", ""},
			{"/r/x?y", "", ""},
			{"/r/both", "", ""},
			{"/health", "", ""},
		} {
			req, err := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d%s", port, c.path), nil)
			require.NoError(t, err)
			if c.tag != "" {
				req.Header.Set("X-Tag", c.tag)
			}
			if c.list != "" {
				req.Header.Set("X-List", c.list)
			}
			req.Host = "www.example.com"
			req.Header["Accept"] = []string{"text/html, */*", "x/y"}
			if strings.Contains(c.path, "x") {
				req.Header.Set("Cookie", "lang=fr; a=1; lang=en")
			}
			resp, err := client.Do(req)
			require.NoError(t, err, c.path)
			body, err := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			require.NoError(t, err)
			if resp.StatusCode >= 300 && resp.StatusCode < 400 || c.path == "/health" {
				body = nil // the proxy's own page: its wording is its own
			}
			got = append(got, fmt.Sprintf("%s -> %d %q %s %s %s", c.path, resp.StatusCode, resp.Status, resp.Header.Get("X-Srv"), resp.Header.Get("Location"), body))
		}
		return got
	}
	ports := freePorts(t, 2)
	haOut := startHAProxy(t, rewriteCfg(ports[0], echo), func() bool { return !bindable(fmt.Sprintf("127.0.0.1:%d", ports[0])) })
	want := run(ports[0])
	lbOut := lbLogs(t)(rewriteCfg(ports[1], echo))
	got := run(ports[1])
	require.Equal(t, want, got, "haproxy's answers, then lb's")
	require.Contains(t, strings.Join(got, "\n"), "GET /new/x/y?k=v", "the rewrites took place")
	// Ten requests logged, the monitor-uri one not, by either.
	for name, out := range map[string]func() string{"haproxy": haOut, "lb": lbOut} {
		ok := assert.Eventually(t, func() bool { return strings.Count(out(), " fe be/") >= 8 }, 5*time.Second, 10*time.Millisecond)
		require.True(t, ok, "%s logged:\n%s", name, out())
		require.NotContains(t, out(), "/health", "%s logs no monitor request", name)
	}
}

// forwardCfg: option forwardfor with its except, header and if-none
// options in the frontend, plain forwardfor and originalto in the
// backend.
func forwardCfg(port, port2 int, echo string) string {
	return fmt.Sprintf(httpDefaults+`frontend fe
    bind 127.0.0.1:%d
    option forwardfor except 127.0.0.2 header X-Client if-none
    default_backend be
backend be
    option originalto except 127.0.0.0/255.255.255.252
    server s1 %s
backend other
    option forwardfor
    option originalto header X-Dest
    server s1 %s
frontend fe2
    bind 127.0.0.1:%d
    default_backend other
`, port, echo, echo, port2)
}

// TestInteropForwardForMatchesHAProxy: the fields option forwardfor and
// option originalto add, under haproxy and lb, for clients inside and
// outside the except networks and requests with and without the field.
func TestInteropForwardForMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	echo := handlerServer(t, func(w http.ResponseWriter, r *http.Request) {
		for _, h := range []string{"X-Client", "X-Forwarded-For", "X-Original-To", "X-Dest"} {
			_, _ = fmt.Fprintf(w, "%s=%q ", h, r.Header.Values(h))
		}
	})
	run := func(port, port2 int) []string {
		var got []string
		for _, c := range []struct {
			src, client string
			fe2         bool
		}{{"127.0.0.1", "", false}, {"127.0.0.2", "", false}, {"127.0.0.1", "1.2.3.4", false}, {"127.0.0.5", "", true}} {
			d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(c.src)}}
			client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true, DialContext: d.DialContext}}
			p := port
			if c.fe2 {
				p = port2
			}
			req, err := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d/", p), nil)
			require.NoError(t, err)
			if c.client != "" {
				req.Header.Set("X-Client", c.client)
			}
			resp, err := client.Do(req)
			require.NoError(t, err)
			body, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			got = append(got, fmt.Sprintf("%+v: %s", c, body))
		}
		return got
	}
	ports := freePorts(t, 4)
	startHAProxy(t, forwardCfg(ports[0], ports[1], echo), func() bool { return !bindable(fmt.Sprintf("127.0.0.1:%d", ports[1])) })
	want := run(ports[0], ports[1])
	startInProcess(t, forwardCfg(ports[2], ports[3], echo))
	got := run(ports[2], ports[3])
	require.Equal(t, want, got, "haproxy's fields, then lb's")
	require.Contains(t, got[0], `X-Client=["127.0.0.1"]`, "the frontend names its own field")
	require.Contains(t, got[1], `X-Client=[]`, "a client in the except network gets none")
	require.Contains(t, got[2], `X-Client=["1.2.3.4"]`, "if-none keeps the client's own")
	require.Contains(t, got[3], `X-Dest=["127.0.0.1"]`, "originalto names its own field")
}
