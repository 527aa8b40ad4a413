package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestInteropHTTPErrorsMatchHAProxy: an http-errors section's files,
// imported whole or by status with "errorfiles", answer as haproxy's do,
// and an errorfile line after them wins for its status.
func TestInteropHTTPErrorsMatchHAProxy(t *testing.T) {
	haproxyBin(t)
	dir := t.TempDir()
	page := func(name string, status int, reason string) string {
		body := "<p>" + name + "</p>\n"
		p := filepath.Join(dir, name+".http")
		require.NoError(t, os.WriteFile(p, fmt.Appendf(nil, "HTTP/1.1 %d %s\r\nContent-Type: text/html\r\nContent-Length: %d\r\nX-Page: %s\r\n\r\n%s", status, reason, len(body), name, body), 0o644))
		return p
	}
	p503, p403, p503b := page("site-503", 503, "Service Unavailable"), page("site-403", 403, "Forbidden"), page("own-503", 503, "Service Unavailable")
	cfg := func(a, b int) string {
		return fmt.Sprintf(`http-errors site
    errorfile 503 %s
    errorfile 403 %s
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
    errorfiles site 503
listen a
    bind 127.0.0.1:%d
    http-request deny if { path /deny }
listen b
    bind 127.0.0.1:%d
    errorfiles site
    errorfile 503 %s
    http-request deny if { path /deny }
`, p503, p403, a, b, p503b)
	}
	get := func(addr, path string) string {
		b := oneShot(t, addr, "GET "+path+" HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
		head, body, _ := strings.Cut(string(b), "\r\n\r\n")
		lines := strings.Split(head, "\r\n")
		page := ""
		for _, l := range lines[1:] {
			if k, v, ok := strings.Cut(l, ": "); ok && strings.EqualFold(k, "x-page") {
				page = v
			}
		}
		status := lines[0]
		if page == "" {
			body = "(built in)" // haproxy's and lb's own pages differ in wording
		}
		return status + " page=" + page + " " + body
	}
	run := func(a, b string) []string {
		return []string{get(a, "/"), get(a, "/deny"), get(b, "/"), get(b, "/deny")}
	}
	ports := freePorts(t, 2)
	ha, hb := fmt.Sprintf("127.0.0.1:%d", ports[0]), fmt.Sprintf("127.0.0.1:%d", ports[1])
	startHAProxy(t, cfg(ports[0], ports[1]), func() bool { return !bindable(hb) })
	want := run(ha, hb)
	lb, _, _ := startInProcess(t, cfg(0, 0))
	got := run(lb.Addrs("a")[0].String(), lb.Addrs("b")[0].String())
	require.Equal(t, want, got, "haproxy's answers, then lb's")
	require.Equal(t, []string{
		"HTTP/1.1 503 Service Unavailable page=site-503 <p>site-503</p>\n",
		"HTTP/1.1 403 Forbidden page= (built in)",
		"HTTP/1.1 503 Service Unavailable page=own-503 <p>own-503</p>\n",
		"HTTP/1.1 403 Forbidden page=site-403 <p>site-403</p>\n",
	}, got)
}
