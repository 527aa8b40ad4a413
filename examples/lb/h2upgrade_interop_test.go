package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/net/http2"
)

// TestInteropH2UpgradeMatchesHAProxy: a client speaking HTTP/2 with prior
// knowledge to an HTTP/1 listener is served over HTTP/2, several streams
// on one connection, as haproxy serves it; under option
// disable-h2-upgrade it is refused by both, and an HTTP/1 client is
// served as before.
func TestInteropH2UpgradeMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	web := strings.TrimPrefix(handlerServer(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "path "+r.URL.Path)
	}), "http://")
	h2c := &http.Client{Timeout: 5 * time.Second, Transport: &http2.Transport{
		AllowHTTP: true,
		DialTLSContext: func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		},
	}}
	h1c := &http.Client{Timeout: 5 * time.Second}
	run := func(start func(text string)) []string {
		p := freePorts(t, 2)
		start(fmt.Sprintf(`defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
listen up
    bind 127.0.0.1:%d
    server w %s
listen noup
    bind 127.0.0.1:%d
    option disable-h2-upgrade
    server w %s
`, p[0], web, p[1], web))
		var got []string
		get := func(c *http.Client, port int, path string) string {
			resp, err := c.Get(fmt.Sprintf("http://127.0.0.1:%d%s", port, path))
			if err != nil {
				return "error"
			}
			body, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			return fmt.Sprintf("%s %d %s", resp.Proto, resp.StatusCode, body)
		}
		for i := range 3 {
			got = append(got, "h2c up: "+get(h2c, p[0], fmt.Sprintf("/%d", i)))
		}
		got = append(got, "h1 up: "+get(h1c, p[0], "/h1"))
		got = append(got, "h2c noup: "+get(h2c, p[1], "/x"))
		got = append(got, "h1 noup: "+get(h1c, p[1], "/h1"))
		return got
	}
	want := run(func(text string) { startHAProxyReady(t, text) })
	got := run(func(text string) { startInProcess(t, text) })
	require.Equal(t, want, got, "what the clients got from haproxy, then from lb")
	require.Equal(t, []string{"h2c up: HTTP/2.0 200 path /0", "h2c up: HTTP/2.0 200 path /1", "h2c up: HTTP/2.0 200 path /2",
		"h1 up: HTTP/1.1 200 path /h1", "h2c noup: error", "h1 noup: HTTP/1.1 200 path /h1"}, got)
}
