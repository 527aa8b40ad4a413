package main

import (
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// convStateCfg names backends and servers in samples, for the nbsrv and
// srv_queue converters, from a frontend, a backend and a listen.
func convStateCfg(front, listen int) string {
	return fmt.Sprintf(httpDefaults+`backend be
    server s1 127.0.0.1:1 disabled
    server s2 127.0.0.1:2
    server s3 127.0.0.1:3
    http-request return status 200 content-type text/plain lf-string "fe: %%[req.hdr(x-fe)]\nbe: %%[str(s2),srv_queue]/%%[str(be/s2),srv_queue]/%%[str(nope),srv_queue]/%%[str(),nbsrv]/%%[str(be2),nbsrv]/%%[req.hdr(x-be),nbsrv]\n"
backend be2
    server x 127.0.0.1:1
backend down
    server x 127.0.0.1:1 disabled
listen li
    bind 127.0.0.1:%d
    server s1 127.0.0.1:1
    http-request return status 200 content-type text/plain lf-string "li: %%[str(s1),srv_queue]/%%[str(li),nbsrv]/%%[str(li/s1),srv_queue]\n"
frontend f
    bind 127.0.0.1:%d
    http-request set-header X-Fe "%%[str(be),nbsrv]/%%[str(nope),nbsrv]/%%[str(),nbsrv]/%%[str(f),nbsrv]/%%[str(li),nbsrv]/%%[str(be/s2),srv_queue]/%%[str(s2),srv_queue]/%%[str(be/nope),srv_queue]/%%[str(x/s2),srv_queue]/%%[int(1),nbsrv]/%%[str(be/),srv_queue]/%%[str(/s2),srv_queue]"
    http-request deny deny_status 503 if { req.hdr(x-be),nbsrv lt 1 }
    default_backend be
`, listen, front)
}

// TestInteropStateConvertersMatchHAProxy: nbsrv and srv_queue find the
// same backends and servers as haproxy's, and none for the same names.
func TestInteropStateConvertersMatchHAProxy(t *testing.T) {
	haproxyBin(t)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	get := func(port int, be string) string {
		req, err := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d/", port), nil)
		require.NoError(t, err)
		req.Header.Set("X-Be", be)
		resp, err := client.Do(req)
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		return fmt.Sprintf("%d %s", resp.StatusCode, body)
	}
	run := func(front, listen int) []string {
		return []string{get(front, "be2"), get(front, "li"), get(front, "nope"), get(listen, ""), get(front, "down")}
	}
	ports := freePorts(t, 4)
	startHAProxyReady(t, convStateCfg(ports[0], ports[1]))
	want := run(ports[0], ports[1])
	startInProcess(t, convStateCfg(ports[2], ports[3]))
	got := run(ports[2], ports[3])
	require.Equal(t, want, got, "haproxy's answers, then lb's")
	require.Equal(t, "200 fe: 2////1/0//////\nbe: 0/0///1/1\n", got[0], "s1 is disabled; a frontend has no servers")
	require.Equal(t, "200 ", got[2][:4], "no backend named so: no sample, the ACL does not match")
	require.Equal(t, "503 ", got[4][:4], "no usable server: denied")
	require.Equal(t, "200 li: 0/1/0\n", got[3])
}
