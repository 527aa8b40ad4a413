package main

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestInteropMonitorFailAndNbsrvMatchHAProxy: "monitor fail" turns the
// monitor-uri's 200 into 503 while its condition holds, and nbsrv counts
// a backend's usable servers (the backups, one of them alone, when no
// active one is) for it and for use_backend, as haproxy does.
func TestInteropMonitorFailAndNbsrvMatchHAProxy(t *testing.T) {
	haproxyBin(t)
	srv := strings.TrimPrefix(handlerServer(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "served")
	}), "http://")
	cfg := func(p []int) string {
		return fmt.Sprintf(`defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend down
    bind 127.0.0.1:%d
    monitor-uri /up
    monitor fail if { nbsrv(dead) lt 1 }
    http-response set-header x-n "%%[nbsrv(dead)],%%[nbsrv(bck)],%%[nbsrv(allbck)],%%[nbsrv(live)]"
    use_backend live if { nbsrv(dead) lt 1 }
    default_backend dead
frontend up
    bind 127.0.0.1:%d
    monitor-uri /up
    monitor fail unless { nbsrv(live) ge 1 }
    monitor fail if { nbsrv(bck) gt 5 }
    default_backend live
backend dead
    server s1 %s disabled
    server s2 %s disabled
backend bck
    server s1 %s disabled
    server b1 %s backup
    server b2 %s backup
backend allbck
    option allbackups
    server s1 %s disabled
    server b1 %s backup
    server b2 %s backup
backend live
    server s1 %s
    server s2 %s
    server s3 %s disabled
`, p[0], p[1], srv, srv, srv, srv, srv, srv, srv, srv, srv, srv, srv)
	}
	get := func(addr, path string) string {
		b := oneShot(t, addr, "GET "+path+" HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
		head, body, _ := strings.Cut(string(b), "\r\n\r\n")
		lines := strings.Split(head, "\r\n")
		n := ""
		for _, l := range lines[1:] {
			if k, v, ok := strings.Cut(l, ": "); ok && strings.EqualFold(k, "x-n") {
				n = " n=" + v
			}
		}
		return path + " " + lines[0] + n + " " + body
	}
	run := func(down, up string) []string {
		return []string{get(down, "/up"), get(down, "/x"), get(up, "/up")}
	}
	ports := freePorts(t, 2)
	hd, hu := fmt.Sprintf("127.0.0.1:%d", ports[0]), fmt.Sprintf("127.0.0.1:%d", ports[1])
	startHAProxy(t, cfg(ports), func() bool { return !bindable(hu) })
	want := run(hd, hu)
	lb, _, _ := startInProcess(t, cfg([]int{0, 0}))
	got := run(lb.Addrs("down")[0].String(), lb.Addrs("up")[0].String())
	require.Equal(t, want, got, "haproxy's answers, then lb's")
	require.Equal(t, "/x HTTP/1.1 200 OK n=0,1,2,2 served", got[1], "use_backend live, as dead has none")
	require.True(t, strings.HasPrefix(got[0], "/up HTTP/1.1 503 "), got[0])
}
