package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestInteropTCPRuleCountersMatchHAProxy runs the stick counter actions
// of the tcp-request rules (sc-inc-gpc0 and sc-inc-gpc1 at the
// connection, session and content stages, sc-set-gpt0 with an integer
// and an expression) under haproxy and lb, in a TCP listen and an HTTP
// frontend, and compares the tables.
func TestInteropTCPRuleCountersMatchHAProxy(t *testing.T) {
	haproxyBin(t)
	echo := echoServer(t)
	web := handlerServer(t, func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") })
	dir := t.TempDir()
	text := func(p1, p2 int, sock string) string {
		return fmt.Sprintf(`global
    stats socket %s level admin
defaults
    timeout connect 1s
    timeout client 5s
    timeout server 5s
listen tcp
    mode tcp
    bind 127.0.0.1:%d
    stick-table type ip size 10 store gpc0,gpc1,gpt0,conn_cnt
    tcp-request connection track-sc0 src
    tcp-request connection sc-inc-gpc0(0)
    tcp-request session sc-set-gpt0(0) 42
    tcp-request content sc-inc-gpc1
    server s %s
frontend web
    mode http
    bind 127.0.0.1:%d
    tcp-request content track-sc1 src table tcp
    tcp-request content sc-inc-gpc0(1) if { path /x }
    tcp-request content sc-set-gpt0(1) src_port,mul(0) if { path /zero }
    default_backend b
backend b
    mode http
    server s %s
`, sock, p1, echo, p2, web)
	}
	run := func(p1, p2 int, sock string) string {
		for range 3 {
			c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", p1))
			require.NoError(t, err)
			_, _ = io.WriteString(c, "hi")
			_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
			_, _ = io.ReadFull(c, make([]byte, 2))
			_ = c.Close()
		}
		for _, p := range []string{"/x", "/y", "/x", "/zero"} {
			oneShot(t, fmt.Sprintf("127.0.0.1:%d", p2), "GET "+p+" HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
		}
		var st string
		require.Eventually(t, func() bool {
			st = cliCommand(t, sock, "show table tcp")
			return regexp.MustCompile(`use=0`).MatchString(st)
		}, 5*time.Second, 10*time.Millisecond)
		return regexp.MustCompile(`(?m)^0x[0-9a-f]+: `).ReplaceAllString(st, "")
	}
	ports := freePorts(t, 4)
	haSock, lbSock := filepath.Join(dir, "ha.sock"), filepath.Join(dir, "lb.sock")
	startHAProxySocket(t, text(ports[0], ports[1], haSock), haSock)
	want := run(ports[0], ports[1], haSock)
	startInProcess(t, text(ports[2], ports[3], lbSock))
	got := run(ports[2], ports[3], lbSock)
	assert.Equal(t, want, got, "haproxy's table, then lb's")
	assert.Contains(t, want, "gpc0=5")
}
