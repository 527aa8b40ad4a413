package main

import (
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// convTCPCfg uses the converters that act on the stream in TCP rules:
// variables of scopes that do not exist yet in connection and session
// rules, a table the connection tracks in, a capture slot, all logged.
func convTCPCfg(port int, srv string) string {
	return fmt.Sprintf(`global
    log stdout format raw local0
defaults
    mode tcp
    log global
    timeout connect 2s
    timeout client 5s
    timeout server 5s
backend st
    stick-table type ip size 10 expire 30s store conn_cnt
frontend f
    bind 127.0.0.1:%d
    log-format "tcp c=%%[var(sess.c)] d=%%[var(sess.d)] e=%%[var(sess.e)] f=%%[var(sess.f)] g=%%[var(sess.g)] h=%%[var(sess.h)]/%%[var(sess.hh)] u=%%[var(txn.u)] hr=%%hr"
    declare capture request len 8
    tcp-request connection track-sc0 src table st
    tcp-request connection set-var(sess.c) src,set-var(txn.t)
    tcp-request connection set-var(sess.d) src,table_conn_cnt(st)
    tcp-request connection set-var(sess.f) src,unset-var(txn.t)
    tcp-request session set-var(sess.e) src,set-var(req.r),in_table(st)
    tcp-request session set-var(sess.g) src,unset-var(req.t)
    tcp-request session set-var(sess.h) src,set-var(sess.hh),in_table(st)
    tcp-request content capture src,set-var(txn.u),table_conn_cnt(st),capture-req(0) len 8
    tcp-request content reject if { src,table_conn_cnt(st) gt 2 }
    default_backend be
backend be
    server s1 %s
`, port, srv)
}

// TestInteropConvertersTCPMatchHAProxy: in TCP rules the converters set
// and read the same as haproxy's, and give no sample for variables of a
// scope the connection has no stream for yet.
func TestInteropConvertersTCPMatchHAProxy(t *testing.T) {
	haproxyBin(t)
	srv := nameServers(t, 1, false)[0]
	run := func(port int) []string {
		var got []string
		for range 3 {
			c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 5*time.Second)
			require.NoError(t, err)
			_ = c.SetDeadline(time.Now().Add(5 * time.Second))
			b, _ := io.ReadAll(c)
			_ = c.Close()
			got = append(got, string(b))
		}
		return got
	}
	pick := func(l string) (string, bool) { return l, strings.HasPrefix(l, "tcp ") }
	ports := freePorts(t, 2)
	// Ready once bound: a connection to find out would be counted.
	haOut := startHAProxy(t, convTCPCfg(ports[0], srv), func() bool { return !bindable(fmt.Sprintf("127.0.0.1:%d", ports[0])) })
	want := run(ports[0])
	wantLog := sortedLines(t, haOut, 3, pick)
	lbOut := lbLogs(t)(convTCPCfg(ports[1], srv))
	got := run(ports[1])
	gotLog := sortedLines(t, lbOut, 3, pick)
	require.Equal(t, want, got, "haproxy's answers, then lb's")
	require.Equal(t, []string{"s1\n", "s1\n", ""}, got, "the third connection goes over")
	require.Equal(t, wantLog, gotLog, "haproxy's log lines, then lb's")
	require.Contains(t, gotLog, "tcp c=- d=1 e=- f=- g=- h=1/127.0.0.1 u=127.0.0.1 hr={1|1}")
	require.Contains(t, gotLog, "tcp c=- d=3 e=- f=- g=- h=1/127.0.0.1 u=127.0.0.1 hr={3|3}")
}
