package main

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestInteropRedirectOptionsMatchHAProxy compares the redirects haproxy
// and lb build with drop-query, append-slash, set-cookie, clear-cookie
// and ignore-empty, in http-request rules and the older redirect lines.
func TestInteropRedirectOptionsMatchHAProxy(t *testing.T) {
	haproxyBin(t)
	cfg := func(port int) string {
		return fmt.Sprintf(`defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend f
    bind 127.0.0.1:%d
    http-request redirect prefix /new drop-query if { path_beg /dq }
    http-request redirect prefix /new append-slash code 301 if { path_beg /as }
    http-request redirect prefix /new/ drop-query append-slash if { path_beg /both }
    http-request redirect scheme https drop-query append-slash if { path_beg /sch }
    http-request redirect location /loc set-cookie SEEN=1 code 303 if { path_beg /sc }
    http-request redirect location /loc clear-cookie SEEN= code 307 if { path_beg /cc }
    http-request redirect location %%[req.hdr(x-to)] ignore-empty if { path_beg /ie }
    http-request return status 200 content-type text/plain string fallthrough if { path_beg /ie }
    redirect prefix / drop-query if { path_beg /old }
    redirect location /elsewhere append-slash code 308 if { path_beg /lit }
    redirect location /as-written%%[path] if { path_beg /raw }
    http-request return status 404 content-type text/plain string none unless { path_beg /old } || { path_beg /lit } || { path_beg /raw }
`, port)
	}
	reqs := [][2]string{{"/dq/a?x=1", ""}, {"/as/a?x=1", ""}, {"/as/b/", ""}, {"/both/a?y=2", ""},
		{"/sch/p?q=1", ""}, {"/sc/x", ""}, {"/cc/x", ""}, {"/ie/x", ""}, {"/ie/y", "x-to: /there"},
		{"/old/z?k=v", ""}, {"/lit", ""}, {"/raw", ""}}
	get := func(addr, path, field string) string {
		if field != "" {
			field += "\r\n"
		}
		b := oneShot(t, addr, "GET "+path+" HTTP/1.1\r\nHost: h.test\r\n"+field+"Connection: close\r\n\r\n")
		head, body, _ := strings.Cut(string(b), "\r\n\r\n")
		lines := strings.Split(head, "\r\n")
		var hs []string
		for _, l := range lines[1:] {
			k, v, _ := strings.Cut(l, ": ")
			switch k = strings.ToLower(k); k {
			case "location", "set-cookie", "cache-control":
				hs = append(hs, k+"="+v)
			}
		}
		slices.Sort(hs)
		return path + " " + lines[0] + " " + strings.Join(hs, " ") + " " + body
	}
	run := func(addr string) []string {
		var out []string
		for _, r := range reqs {
			out = append(out, get(addr, r[0], r[1]))
		}
		return out
	}
	hp := freePort(t)
	hpAddr := fmt.Sprintf("127.0.0.1:%d", hp)
	startHAProxy(t, cfg(hp), func() bool { return !bindable(hpAddr) })
	want := run(hpAddr)
	lb, _, _ := startInProcess(t, cfg(0))
	got := run(lb.Addrs("f")[0].String())
	for i := range want {
		require.Equal(t, want[i], got[i], "haproxy's answer, then lb's")
	}
	require.Contains(t, got[len(got)-1], "location=/as-written%[path]", "an older redirect line is taken as written")
	require.Equal(t, "/old/z?k=v HTTP/1.1 302 Found cache-control=no-cache location=/old/z ", got[len(got)-3], "an older 'redirect prefix /' adds nothing")
	require.Equal(t, "/lit HTTP/1.1 308 Permanent Redirect location=/elsewhere ", got[len(got)-2])
}
