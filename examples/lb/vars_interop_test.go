package main

import (
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// varsCfg sets and reads variables of every scope, in request and
// response rules.
func varsCfg(port int, echo string) string {
	return fmt.Sprintf(httpDefaults+`frontend fe
    bind 127.0.0.1:%d
    http-request set-var(txn.host) req.hdr(host),lower
    http-request set-var-fmt(req.tag) "t-%%[path]"
    http-request set-header X-Before "%%[var(proc.last)]|%%[var(sess.first)]"
    http-request set-var(proc.last) path
    http-request set-var(sess.first) path if !{ var(sess.first) -m found }
    http-request set-var(txn.none) req.hdr(x-absent)
    http-request unset-var(txn.host) if { path_beg /unset }
    http-request set-header X-Vars "%%[var(txn.host)]|%%[var(req.tag)]|%%[var(proc.last)]|%%[var(sess.first)]|%%[var(txn.none)]"
    http-request set-header X-Len "%%[var(req.tag),length]" if { var(req.tag) -m beg t-/ }
    http-response set-var(res.st) status
    http-response set-header X-St "%%[var(res.st)]|%%[var(txn.host)]|%%[var(req.tag)]"
    default_backend be
backend be
    server s1 %s
`, port, echo)
}

// TestInteropVarsMatchHAProxy: variables of each scope hold the same
// values under haproxy and lb, over requests on one connection and on
// another.
func TestInteropVarsMatchHAProxy(t *testing.T) {
	haproxyBin(t)
	echo := handlerServer(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = fmt.Fprintf(w, "before=%q vars=%q len=%q", r.Header.Get("X-Before"), r.Header.Get("X-Vars"), r.Header.Get("X-Len"))
	})
	run := func(port int) []string {
		var got []string
		for _, conn := range [][]string{{"/a", "/b", "/unset/c"}, {"/d"}} {
			client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{}}
			for _, p := range conn {
				req, err := http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d%s", port, p), nil)
				require.NoError(t, err)
				req.Host = "WWW.Example.COM"
				resp, err := client.Do(req)
				require.NoError(t, err)
				body, _ := io.ReadAll(resp.Body)
				_ = resp.Body.Close()
				got = append(got, fmt.Sprintf("%s: %s st=%q", p, body, resp.Header.Get("X-St")))
			}
			client.CloseIdleConnections()
		}
		return got
	}
	ports := freePorts(t, 2)
	startHAProxy(t, varsCfg(ports[0], echo), func() bool { return !bindable(fmt.Sprintf("127.0.0.1:%d", ports[0])) })
	want := run(ports[0])
	startInProcess(t, varsCfg(ports[1], echo))
	got := run(ports[1])
	require.Equal(t, want, got, "haproxy's values, then lb's")
	require.Contains(t, got[1], `before="/a|/a"`, "proc and sess variables outlive the request")
}
