package main

import (
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestInteropResponseConditionsMatchHAProxy: in http-response rules,
// a condition on a fetch that reads the request's headers, line or
// cookies never matches in haproxy (it warns so at start), a negated one
// always does; the method and what the response carries are there. lb
// evaluates the same conditions the same way.
func TestInteropResponseConditionsMatchHAProxy(t *testing.T) {
	haproxyBin(t)
	srv := strings.TrimPrefix(handlerServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header()["Date"] = nil
		w.Header().Set("X-Out", "o")
		_, _ = io.WriteString(w, "ok")
	}), "http://")
	conds := []string{"path -m found", "!{ path -m found }", "url -m found", "query -m found", "url_param(a) -m found",
		"req.hdr(x-in) -m found", "hdr(x-in) -m found", "hdr(x-out) -m found", "method GET", "req.ver -m found",
		"base -m found", "req.cook(c) -m found", "cook(c) -m found", "hdr_cnt(x-in) gt 0", "res.hdr(x-out) -m found",
		"status 200", "src -m found", "url_param(a) -m found || status 200"}
	cfg := func(port int) string {
		var b strings.Builder
		fmt.Fprintf(&b, "defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\nlisten l\n    bind 127.0.0.1:%d\n", port)
		for i, c := range conds {
			if !strings.HasPrefix(c, "!") {
				c = "{ " + strings.ReplaceAll(c, " || ", " } || { ") + " }"
			}
			fmt.Fprintf(&b, "    http-response set-header x-c%d 1 if %s\n", i, c)
		}
		fmt.Fprintf(&b, "    server s %s\n", srv)
		return b.String()
	}
	send := func(addr string) []string {
		b := oneShot(t, addr, "GET /p?a=1 HTTP/1.1\r\nHost: h\r\nX-In: v\r\nCookie: c=1\r\nConnection: close\r\n\r\n")
		var matched []string
		for _, l := range strings.Split(string(b), "\r\n") {
			if k, _, ok := strings.Cut(strings.ToLower(l), ": "); ok && strings.HasPrefix(k, "x-c") {
				var i int
				_, _ = fmt.Sscanf(k, "x-c%d", &i)
				matched = append(matched, conds[i])
			}
		}
		slices.Sort(matched)
		return matched
	}
	hp := freePort(t)
	hpAddr := fmt.Sprintf("127.0.0.1:%d", hp)
	startHAProxy(t, cfg(hp), func() bool { return !bindable(hpAddr) })
	want := send(hpAddr)
	b, _, _ := startInProcess(t, cfg(0))
	got := send(b.Addrs("l")[0].String())
	require.Equal(t, want, got, "the conditions that held: haproxy's, then lb's")
	require.Contains(t, got, "!{ path -m found }")
}
