package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestInteropPoolOptionsMatchHAProxy: pool-max-conn bounds how server
// connections are kept for other clients (http-reuse always), and a
// client's Connection: close ends its own connection only: the server
// sees as many connections under lb as under haproxy. max-reuse, which
// haproxy 2.6 enforces on HTTP/2 server connections only, lb enforces on
// HTTP/1 ones too: three requests go on each connection.
func TestInteropPoolOptionsMatchHAProxy(t *testing.T) {
	haproxyBin(t)
	type counted struct {
		addr  string
		conns *atomic.Int32
	}
	server := func() counted {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		n := new(atomic.Int32)
		srv := &http.Server{
			Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") }),
			ConnState: func(_ net.Conn, s http.ConnState) {
				if s == http.StateNew {
					n.Add(1)
				}
			},
		}
		go func() { _ = srv.Serve(ln) }()
		t.Cleanup(func() { _ = srv.Close() })
		return counted{ln.Addr().String(), n}
	}
	run := func(start func(text string)) []int32 {
		s := []counted{server(), server(), server()}
		p := freePorts(t, 4)
		start(fmt.Sprintf(`defaults
    mode http
    http-reuse always
    timeout connect 1s
    timeout client 5s
    timeout server 5s
listen probe
    bind 127.0.0.1:%d
    http-request return status 200
listen reuse2
    bind 127.0.0.1:%d
    server s %s max-reuse 2
listen nokeep
    bind 127.0.0.1:%d
    server s %s pool-max-conn 0 pool-low-conn 2
listen plain
    bind 127.0.0.1:%d
    server s %s pool-max-conn 10 pool-purge-delay 10s
`, p[0], p[1], s[0].addr, p[2], s[1].addr, p[3], s[2].addr))
		client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
		for _, port := range p[1:] {
			for range 6 {
				resp, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d/", port))
				require.NoError(t, err)
				_, _ = io.ReadAll(resp.Body)
				_ = resp.Body.Close()
				require.Equal(t, 200, resp.StatusCode)
				time.Sleep(50 * time.Millisecond) // the connection is back in its pool
			}
		}
		time.Sleep(100 * time.Millisecond)
		return []int32{s[0].conns.Load(), s[1].conns.Load(), s[2].conns.Load()}
	}
	want := run(func(text string) { startHAProxyReady(t, text) })
	got := run(func(text string) { startInProcess(t, text) })
	require.Equal(t, want[1:], got[1:], "server connections under haproxy, then under lb")
	require.Equal(t, []int32{2, 6, 1}, got, "three requests a connection, none kept, all on one")
	require.Equal(t, int32(1), want[0], "haproxy 2.6 reuses an HTTP/1 connection past max-reuse")
}
