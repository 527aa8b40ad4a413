package main

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestInteropAllowMatchesHAProxy: "allow" ends the rules of its kind in
// its own section, as haproxy's does: a frontend's http-request allow
// leaves the backend's rules and the redirect rules to run, a backend's
// http-response allow leaves the frontend's response rules.
func TestInteropAllowMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	srv := strings.TrimPrefix(handlerServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Date"] = nil
		fmt.Fprintf(w, "%s,%s,%s,%s", r.Header.Get("x-f1"), r.Header.Get("x-f2"), r.Header.Get("x-b1"), r.Header.Get("x-b2"))
	}), "http://")
	cfg := func(port int) string {
		return fmt.Sprintf(`defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend f
    bind 127.0.0.1:%d
    http-request set-header x-f1 1
    http-request allow if { path_beg /allow }
    http-request set-header x-f2 1
    http-request deny if { path /deny }
    redirect location /moved if { path /allow/redir }
    http-response set-header x-rf 1
    http-after-response set-header x-af1 1
    http-after-response allow if { status 403 }
    http-after-response set-header x-af2 1
    default_backend b
backend b
    http-request set-header x-b1 1
    http-request allow if { path /allow/both }
    http-request set-header x-b2 1
    http-response set-header x-rb1 1
    http-response allow if { status 200 }
    http-response set-header x-rb2 1
    server s %s
`, port, srv)
	}
	get := func(addr, path string) string {
		b := oneShot(t, addr, "GET "+path+" HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
		head, body, _ := strings.Cut(string(b), "\r\n\r\n")
		lines := strings.Split(head, "\r\n")
		var xs []string
		for _, l := range lines[1:] {
			if k, v, ok := strings.Cut(l, ": "); ok && strings.HasPrefix(strings.ToLower(k), "x-") {
				xs = append(xs, strings.ToLower(k)+"="+v)
			}
		}
		slices.Sort(xs)
		if !strings.HasPrefix(lines[0], "HTTP/1.1 200") {
			body = ""
		}
		return path + " " + lines[0] + " " + strings.Join(xs, " ") + " " + body
	}
	paths := []string{"/x", "/allow", "/allow/both", "/deny", "/allow/redir"}
	run := func(addr string) []string {
		var out []string
		for _, p := range paths {
			out = append(out, get(addr, p))
		}
		return out
	}
	hp := freePort(t)
	hpAddr := fmt.Sprintf("127.0.0.1:%d", hp)
	startHAProxy(t, cfg(hp), func() bool { return !bindable(hpAddr) })
	want := run(hpAddr)
	lb, _, _ := startInProcess(t, cfg(0))
	got := run(lb.Addrs("f")[0].String())
	require.Equal(t, want, got, "haproxy's answers, then lb's")
	require.Equal(t, "/allow/both HTTP/1.1 200 OK x-af1=1 x-af2=1 x-rb1=1 x-rf=1 1,,1,", got[2])
}
