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

// captureActionCfg mixes header captures, the slots "http-request
// capture ... len" and "declare capture" reserve, rules filling slots by
// id (in the frontend, in the backend and after the response), logged in
// httplog format by web and through log-format by lf, which has fewer
// slots than the backend's rules name.
func captureActionCfg(port, port2 int, echo string) string {
	return fmt.Sprintf(`global
    log stdout format raw local0
%s
frontend web
    bind 127.0.0.1:%d
    capture request header Host len 15
    http-request capture req.hdr(x-id) len 6
    declare capture request len 8
    capture request header X-Id len 40
    http-request capture path,upper id 2
    http-request capture req.hdr(x-over) id 0 if { req.hdr(x-over) -m found }
    http-request capture req.hdr_cnt(x-id) len 3
    http-request capture url_param(miss) len 5
    capture response header X-Srv len 3
    declare capture response len 4
    declare capture response len 12
    http-response capture res.hdr(x-srv),lower id 1
    http-after-response capture str(after),upper id 2
    http-request deny if { path /deny }
    default_backend be
frontend lf
    bind 127.0.0.1:%d
    log-format "lf %%hr %%hrl %%hs %%hsl %%{+Q}hrl %%ST"
    declare capture request len 4
    http-request capture req.hdr(x-id) len 3
    declare capture response len 5
    http-response capture status id 0
    default_backend be
backend be
    http-request capture req.hdr(x-be) id 3
    http-response capture res.hdr(x-srv) id 0
    server s1 %s
`, httpLogDefaults, port, port2, echo)
}

// TestInteropHTTPCaptureActionMatchesHAProxy: http-request capture (len
// and id), http-response capture and http-after-response capture, with
// declare capture slots among the header captures, fill the httplog
// lines' brace blocks and %hr, %hrl, %hs, %hsl the same in haproxy and
// lb: in declaration order, cut to the slot's length, special bytes
// encoded, absent values empty (or '-' in the lists), a backend's rule
// ignored where the frontend lacks the slot it names.
func TestInteropHTTPCaptureActionMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	echo := handlerServer(t, func(w http.ResponseWriter, r *http.Request) {
		if v := r.URL.Query().Get("srv"); v != "" {
			w.Header().Set("X-Srv", v)
		}
		_, _ = io.WriteString(w, "ok")
	})
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	cases := []struct {
		path, host string
		hdr        map[string][]string
	}{
		{"/a/b?srv=HeLLoWorld", "www.example.com:8080", map[string][]string{"X-Id": {"first", "second{|}\"#"}, "X-Be": {"from-backend"}}},
		{"/", "h", nil},
		{"/x?srv=%C3%A9t%C3%A9", "x", map[string][]string{"X-Id": {"a\tb"}, "X-Over": {"over|ride"}}},
		{"/deny", "d", map[string][]string{"X-Id": {"no"}}},
	}
	run := func(port, port2 int) {
		for _, p := range []int{port, port2} {
			for _, c := range cases {
				req, err := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d%s", p, c.path), nil)
				require.NoError(t, err)
				req.Host = c.host
				for k, v := range c.hdr {
					req.Header[k] = v
				}
				resp, err := client.Do(req)
				require.NoError(t, err)
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
			}
		}
	}
	// The lines, without what differs from run to run (address, date,
	// timers, byte count, counters).
	pick := func(l string) (string, bool) {
		if strings.HasPrefix(l, "lf ") {
			return l, true
		}
		f := strings.Fields(l)
		if len(f) < 13 || f[2] != "web" {
			return "", false
		}
		return strings.Join(append([]string{f[2], f[3], f[5], f[7], f[8], f[9]}, f[12:]...), " "), true
	}
	n := 2 * len(cases)
	ports := freePorts(t, 4)
	haOut := startHAProxyReady(t, captureActionCfg(ports[0], ports[1], echo))
	run(ports[0], ports[1])
	want := sortedLines(t, haOut, n, pick)
	lbOut := lbLogs(t)(captureActionCfg(ports[2], ports[3], echo))
	run(ports[2], ports[3])
	got := sortedLines(t, lbOut, n, pick)
	require.Equal(t, want, got, "haproxy's lines, then lb's")
	all := strings.Join(got, "\n")
	t.Logf("lines:\n%s", all)
	// Slot order: Host (overridden by X-Over), the len 6 capture of
	// X-Id, the declared slot the path fills, X-Id's header capture
	// (which the backend's id 3 rule overwrites), the count, the absent
	// parameter.
	require.Contains(t, all, `{www.example.com|second|/A/B|from-backend|2|}`)
	require.Contains(t, all, `{over#7Cride|a#09b|/X|a#09b|1|}`)
}
