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

// TestInteropPersistRulesMatchHAProxy sends requests with persistence
// cookies through force-persist and ignore-persist rules, under haproxy
// and lb: a forced request reaches its cookie's server (or a use-server
// rule's) in maintenance, an ignored one goes to the algorithm and gets
// no cookie. The servers reached, in order, and the cookies set must be
// the same.
func TestInteropPersistRulesMatchHAProxy(t *testing.T) {
	haproxyBin(t)
	web := nameServers(t, 3, true)
	cfg := func(port int) string {
		return fmt.Sprintf(`defaults
    mode http
    timeout connect 2s
    timeout client 5s
    timeout server 5s
listen p
    bind 127.0.0.1:%d
    balance roundrobin
    cookie SRV insert indirect nocache
    force-persist if { path_beg /force }
    ignore-persist if { path_beg /static }
    use-server s2 if { path_beg /force/us }
    server s1 %s cookie c1
    server s2 %s cookie c2 disabled
    server s3 %s cookie c3
`, port, web[0], web[1], web[2])
	}
	run := func(start func(text string)) []string {
		port := freePorts(t, 1)[0]
		start(cfg(port))
		client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
		var got []string
		for _, r := range []struct{ path, cookie string }{
			{"/static", "SRV=c1"}, {"/", "SRV=c1"}, {"/force", "SRV=c2"}, {"/", "SRV=c2"},
			{"/force", "SRV=c1"}, {"/force/us", ""}, {"/static", ""}, {"/", ""},
		} {
			req, err := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d%s", port, r.path), nil)
			require.NoError(t, err)
			if r.cookie != "" {
				req.Header.Set("Cookie", r.cookie)
			}
			resp, err := client.Do(req)
			require.NoError(t, err)
			body, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			got = append(got, fmt.Sprintf("%s %s -> %s set-cookie=%q", r.path, r.cookie, strings.TrimSpace(string(body)), resp.Header.Get("Set-Cookie")))
		}
		return got
	}
	want := run(func(text string) { startHAProxyReady(t, text) })
	got := run(func(text string) { startInProcess(t, text) })
	require.Equal(t, want, got, "haproxy's servers, then lb's")
	require.Contains(t, got, `/force SRV=c2 -> s2 set-cookie=""`)
	require.Contains(t, got, `/force/us  -> s2 set-cookie=""`)
}
