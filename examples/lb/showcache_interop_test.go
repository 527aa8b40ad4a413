package main

import (
	"fmt"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestInteropShowCacheMatchesHAProxy stores three responses in one of
// two caches under haproxy and lb and compares "show cache": the
// sections with their blocks, and the entries in haproxy's order, by
// the hash of their URL's key, which lb computes as haproxy does.
// Addresses, sizes (each stores a response its own way) and the
// seconds left are left out.
func TestInteropShowCacheMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	srv := handlerServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		_, _ = w.Write([]byte(strings.Repeat("x", 100+len(r.URL.Path)*500)))
	})
	dir := t.TempDir()
	text := func(port int, sock string) string {
		return fmt.Sprintf(`global
    stats socket %s level admin
defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
cache c1
    total-max-size 4
    max-age 60
cache c2
    total-max-size 1
frontend f
    bind 127.0.0.1:%d
    http-request cache-use c1
    http-response cache-store c1
    default_backend b
backend b
    server s %s
`, sock, port, srv)
	}
	norm := regexp.MustCompile(`0x[0-9a-f]{6,}|size:\d+ \(\d+ blocks\)|expire:\d+`)
	run := func(port int, sock string) string {
		for _, p := range []string{"/small", "/bigger/path", "/bigger/path?x=1", "/small"} {
			oneShot(t, fmt.Sprintf("127.0.0.1:%d", port), "GET "+p+" HTTP/1.1\r\nhost: h\r\nconnection: close\r\n\r\n")
		}
		var out string
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			if out = cliCommand(t, sock, "show cache"); strings.Count(out, "hash:") == 3 {
				break
			}
		}
		require.Equal(t, 3, strings.Count(out, "hash:"), "three entries: %s", out)
		return norm.ReplaceAllString(out, "X")
	}
	ports := freePorts(t, 2)
	haSock, lbSock := filepath.Join(dir, "ha.sock"), filepath.Join(dir, "lb.sock")
	startHAProxySocket(t, text(ports[0], haSock), haSock)
	want := run(ports[0], haSock)
	startInProcess(t, text(ports[1], lbSock))
	got := run(ports[1], lbSock)
	assert.Equal(t, want, got, "haproxy's show cache, then lb's")
	assert.Contains(t, want, "X: c1 (shctx:X, available blocks:4096)")
}
