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

// TestInteropSetDstMatchesHAProxy: "http-request set-dst",
// "set-dst-port" and "set-src-port" change the addresses the request's
// rules and the original-to header see, under haproxy and lb alike.
func TestInteropSetDstMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	echo := strings.TrimPrefix(handlerServer(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = fmt.Fprintf(w, "dst=%s srcport=%s xot=%s", r.Header.Get("X-Dst"), r.Header.Get("X-Src-Port"), r.Header.Get("X-Original-To"))
	}), "http://")
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
    option originalto
    http-request set-dst hdr(x-to) if { req.hdr(x-to) -m found }
    http-request set-dst-port hdr(x-to-port) if { req.hdr(x-to-port) -m found }
    http-request set-src-port int(5555) if { req.hdr(x-sp) -m found }
    http-request set-header X-Dst %%[dst]:%%[dst_port]
    http-request set-header X-Src-Port %%[src_port] if { req.hdr(x-sp) -m found }
    default_backend be
backend be
    server one %s
`, p[0], p[1], echo))
		var got []string
		for _, h := range []map[string]string{
			{"X-To": "10.9.8.7"},
			{"X-To": "10.9.8.7", "X-To-Port": "4444"},
			{"X-To-Port": "81", "X-Sp": "1"},
			{"X-To": "2001:db8::1", "X-To-Port": "not-a-port"},
			{"X-To": "nonsense"},
		} {
			req, err := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d/", p[1]), nil)
			require.NoError(t, err)
			for k, v := range h {
				req.Header.Set(k, v)
			}
			client := &http.Client{Timeout: 5 * time.Second}
			resp, err := client.Do(req)
			require.NoError(t, err)
			body, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			got = append(got, strings.ReplaceAll(string(body), fmt.Sprint(p[1]), "FEPORT"))
		}
		return got
	}
	want := run(func(text string) { startHAProxyReady(t, text) })
	got := run(func(text string) { startInProcess(t, text) })
	require.Equal(t, want, got, "what haproxy's server saw, then lb's")
	require.Equal(t, "dst=10.9.8.7:4444 srcport= xot=10.9.8.7", got[1])
}

// TestInteropSetAddrLogMatchesHAProxy: the log line shows the addresses
// the request's rules set (%ci:%cp, %fi:%fp), under haproxy and lb.
func TestInteropSetAddrLogMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	run := func(start func(text string) func() string) string {
		p := freePorts(t, 2)
		logs := start(fmt.Sprintf(`global
    log stdout format raw local0
defaults
    mode http
    log global
    timeout connect 1s
    timeout client 5s
    timeout server 5s
listen probe
    bind 127.0.0.1:%d
    http-request return status 200
frontend fe
    bind 127.0.0.1:%d
    log-format "ci=%%ci:%%cp fi=%%fi:%%fp st=%%ST"
    http-request set-src ipv4(192.0.2.10)
    http-request set-src-port int(5555)
    http-request set-dst ipv4(10.9.8.7)
    http-request set-dst-port int(4444)
    http-request return status 204
`, p[0], p[1]))
		resp, err := (&http.Client{Timeout: 5 * time.Second}).Get(fmt.Sprintf("http://127.0.0.1:%d/", p[1]))
		require.NoError(t, err)
		_ = resp.Body.Close()
		var line string
		require.Eventually(t, func() bool {
			for _, l := range strings.Split(logs(), "\n") {
				if strings.Contains(l, "st=204") {
					line = l[strings.Index(l, "ci="):]
					return true
				}
			}
			return false
		}, 5*time.Second, 10*time.Millisecond)
		return line
	}
	want := run(func(text string) func() string { return startHAProxyReady(t, text) })
	got := run(func(text string) func() string {
		_, logs, mu := startInProcess(t, text)
		return func() string { mu.Lock(); defer mu.Unlock(); return logs.String() }
	})
	require.Equal(t, want, got, "haproxy's line, then lb's")
	require.Equal(t, "ci=192.0.2.10:5555 fi=10.9.8.7:4444 st=204", got)
}
