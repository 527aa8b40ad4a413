package main

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestInteropSetPathqMatchesHAProxy: set-pathq and replace-pathq rewrite
// the path with its query as haproxy's do, and strict-mode is read.
func TestInteropSetPathqMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	srv := strings.TrimPrefix(handlerServer(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, r.RequestURI)
	}), "http://")
	cfg := func(port int) string {
		return fmt.Sprintf(`defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
listen l
    bind 127.0.0.1:%d
    http-request strict-mode off
    http-request set-pathq /moved%%[path]?from=%%[query] if { path_beg /set }
    http-request replace-pathq ^/re/([^?]*)\?(.*)$ /done/\2/\1 if { path_beg /re }
    http-request replace-pathq ^/nomatch/x$ /never if { path_beg /nomatch }
    http-response strict-mode on
    server s %s
`, port, srv)
	}
	paths := []string{"/set/a?x=1", "/set/b", "/re/p/q?k=v", "/re/p", "/nomatch/y?z"}
	get := func(addr, path string) string {
		b := oneShot(t, addr, "GET "+path+" HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
		status, _, _ := strings.Cut(string(b), "\r\n")
		_, body, _ := strings.Cut(string(b), "\r\n\r\n")
		return path + " " + status + " " + body
	}
	run := func(addr string) []string {
		var out []string
		for _, p := range paths {
			out = append(out, get(addr, p))
		}
		return out
	}
	hp := freePort(t)
	hpAddr := fmt.Sprintf("127.0.0.1:%d", hp)
	runHAProxy(t, cfg(hp), hpAddr)
	want := run(hpAddr)
	lb, _, _ := startInProcess(t, cfg(0))
	got := run(lb.Addrs("l")[0].String())
	require.Equal(t, want, got, "haproxy's answers, then lb's")
	require.Equal(t, "/re/p/q?k=v HTTP/1.1 200 OK /done/k=v/p/q", got[2])
}
