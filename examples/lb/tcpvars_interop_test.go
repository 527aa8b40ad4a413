package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestInteropTCPRuleVariablesMatchHAProxy: set-var, set-var-fmt and
// unset-var in tcp-request connection, session and content rules, in
// mode http and mode tcp. As in haproxy, before the stream exists only
// sess and proc variables are kept (txn and req ones are dropped), and
// what the connection and session rules set is read by the content
// rules, the http-request rules and the log line.
func TestInteropTCPRuleVariablesMatchHAProxy(t *testing.T) {
	haproxyBin(t)
	echo := echoServer(t)
	const rules = `
    tcp-request connection set-var(sess.c) str(conn)
    tcp-request connection set-var(txn.c) str(conntxn)
    tcp-request connection set-var(req.c) str(connreq)
    tcp-request connection set-var(proc.c) str(connproc)
    tcp-request connection set-var-fmt(sess.cf) "%[src]-%[var(sess.c)]"
    tcp-request connection set-var(sess.u) str(tobeunset)
    tcp-request session set-var(sess.s) str(sess)
    tcp-request session set-var(txn.s) str(sesstxn)
    tcp-request session set-var(proc.s) src
    tcp-request session unset-var(sess.u)
    tcp-request content reject unless { var(sess.c) -m str conn }
    tcp-request content set-var-fmt(txn.k) "k-%[var(sess.s)]"`
	const vars = `c=%[var(sess.c)] ct=%[var(txn.c)] cr=%[var(req.c)] cp=%[var(proc.c)] cf=%[var(sess.cf)] s=%[var(sess.s)] st=%[var(txn.s)] ps=%[var(proc.s)] u=%[var(sess.u)] k=%[var(txn.k)]`
	run := func(start func(text string) func() string) (string, string) {
		p := freePorts(t, 2)
		out := start(fmt.Sprintf(`global
    log stdout format raw local0
defaults
    log global
    option dontlognull
    timeout connect 1s
    timeout client 5s
    timeout server 5s
listen web
    mode http
    bind 127.0.0.1:%d%s
    http-request return status 200 content-type text/plain lf-string "%s"
listen tcp
    mode tcp
    bind 127.0.0.1:%d%s
    log-format "tcp %s"
    server echo %s
`, p[0], rules, vars, p[1], rules, vars, echo))
		client := &http.Client{Timeout: 5 * time.Second}
		resp, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d/", p[0]))
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", p[1]))
		require.NoError(t, err)
		roundTrip(t, c, "hello")
		require.NoError(t, c.Close())
		var line string
		require.Eventually(t, func() bool {
			for _, l := range strings.Split(out(), "\n") {
				if strings.HasPrefix(l, "tcp ") {
					line = l
					return true
				}
			}
			return false
		}, 10*time.Second, 10*time.Millisecond, "the TCP session's line")
		return string(body), line
	}
	wantBody, wantLine := run(func(text string) func() string { return startHAProxyReady(t, text) })
	gotBody, gotLine := run(func(text string) func() string {
		_, logs, mu := startInProcess(t, text)
		return func() string { mu.Lock(); defer mu.Unlock(); return logs.String() }
	})
	require.Equal(t, wantBody, gotBody, "haproxy's answer, then lb's")
	require.Equal(t, wantLine, gotLine, "haproxy's line, then lb's")
	require.Equal(t, "c=conn ct= cr= cp=connproc cf=127.0.0.1-conn s=sess st= ps=127.0.0.1 u= k=k-sess", gotBody)
	require.Equal(t, "tcp c=conn ct=- cr=- cp=connproc cf=127.0.0.1-conn s=sess st=- ps=127.0.0.1 u=- k=k-sess", gotLine)
}
