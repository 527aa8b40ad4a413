package main

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestInteropSetSrcMatchesHAProxy: "http-request set-src" gives the
// request the client address a header carries, which src, the
// forwarded-for header, balance source and the log then see, under haproxy
// and lb alike; the connection's next request starts again from the
// connection's own address (haproxy 2.6 sets the stream's address).
func TestInteropSetSrcMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	echo := func(name string) string {
		return strings.TrimPrefix(handlerServer(t, func(w http.ResponseWriter, r *http.Request) {
			_, _ = fmt.Fprintf(w, "%s src=%s xff=%s", name, r.Header.Get("X-Src"), r.Header.Get("X-Forwarded-For"))
		}), "http://")
	}
	one, two := echo("one"), echo("two")
	run := func(start func(text string)) []string {
		p := freePorts(t, 2)
		start(fmt.Sprintf(`defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
listen probe
    bind 127.0.0.1:%d
    http-request return status 200
frontend fe
    bind 127.0.0.1:%d
    option forwardfor
    http-request set-src hdr(x-real-ip) if { req.hdr(x-real-ip) -m found }
    http-request set-header X-Src %%[src]
    default_backend be
backend be
    balance source
    hash-type consistent
    server one %s
    server two %s
`, p[0], p[1], one, two))
		var got []string
		// One connection per client, to see what lasts from one request
		// to the next.
		for _, seq := range [][]string{
			{"10.1.2.3", "", "not-an-address"},
			{"2001:db8::7", ""},
			{"", "192.0.2.200"},
		} {
			client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxConnsPerHost: 1}}
			for _, realIP := range seq {
				req, err := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d/", p[1]), nil)
				require.NoError(t, err)
				if realIP != "" {
					req.Header.Set("X-Real-IP", realIP)
				}
				resp, err := client.Do(req)
				require.NoError(t, err)
				body, _ := io.ReadAll(resp.Body)
				_ = resp.Body.Close()
				got = append(got, realIP+" -> "+string(body))
			}
			client.CloseIdleConnections()
		}
		return got
	}
	want := run(func(text string) { startHAProxyReady(t, text) })
	got := run(func(text string) { startInProcess(t, text) })
	require.Equal(t, want, got, "what haproxy's servers saw, then lb's")
	require.Contains(t, got[0], "src=10.1.2.3 xff=10.1.2.3")
	require.Contains(t, got[1], "src=127.0.0.1 xff=127.0.0.1", "the next request starts from the connection's address")
	require.Contains(t, got[2], "src=127.0.0.1 xff=127.0.0.1", "an address that does not read changes nothing")
	require.Contains(t, got[3], "src=2001:db8::7 xff=2001:db8::7")
}
