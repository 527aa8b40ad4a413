package main

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestInteropTargetCharactersMatchHAProxy sends request-targets with the
// characters RFC 3986 leaves out but clients send unencoded, a fragment
// and bytes outside ASCII, through haproxy and lb: the same ones pass, to
// the server unchanged, and the same ones get 400.
func TestInteropTargetCharactersMatchHAProxy(t *testing.T) {
	haproxyBin(t)
	srv := strings.TrimPrefix(handlerServer(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, r.RequestURI)
	}), "http://")
	targets := []string{`/a"b`, "/a<b>", `/a\b`, "/a^b", "/a`b", "/a{b}", "/a|b", "/q?x=[1]", "/a#b", "/caf\xc3\xa9", "/a\x7fb"}
	cfg := func(port int) string {
		return fmt.Sprintf(`defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
listen l
    bind 127.0.0.1:%d
    server s %s
`, port, srv)
	}
	send := func(addr, target string) string {
		b := oneShot(t, addr, "GET "+target+" HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
		status, rest, _ := strings.Cut(string(b), "\r\n")
		code := strings.Fields(status)[1]
		if code != "200" {
			return code
		}
		_, body, _ := strings.Cut(rest, "\r\n\r\n")
		return code + " " + body
	}
	run := func(addr string) []string {
		var out []string
		for _, tg := range targets {
			out = append(out, fmt.Sprintf("%q %s", tg, send(addr, tg)))
		}
		return out
	}
	hp := freePort(t)
	runHAProxy(t, cfg(hp), fmt.Sprintf("127.0.0.1:%d", hp))
	want := run(fmt.Sprintf("127.0.0.1:%d", hp))
	b, _, _ := startInProcess(t, cfg(0))
	got := run(b.Addrs("l")[0].String())
	require.Equal(t, want, got, "haproxy, then lb")
	require.Contains(t, got, fmt.Sprintf("%q 200 %s", `/a"b`, `/a"b`))
	require.Contains(t, got, fmt.Sprintf("%q 400", "/a#b"))
}
