package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestInteropEmptyConditionMatchesHAProxy: a rule ending with a bare
// "if" never applies and one with a bare "unless" always does, for
// tcp-request and http-request rules and use_backend alike, as haproxy
// 2.6 runs them (it takes them without a warning).
func TestInteropEmptyConditionMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	cfg := func(port int) string {
		return fmt.Sprintf(`defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
frontend f
    bind 127.0.0.1:%d
    tcp-request content set-var(txn.t) str(t) unless
    tcp-request content set-var(txn.u) str(u) if
    http-request set-header x-a 1 if
    http-request set-header x-b 1 unless
    http-request return status 200 content-type text/plain lf-string "a=%%[req.hdr(x-a)] b=%%[req.hdr(x-b)] t=%%[var(txn.t)] u=%%[var(txn.u)]" if { path /h }
    use_backend b1 if
    use_backend b2 unless
backend b1
    http-request return status 200 content-type text/plain string b1
backend b2
    http-request return status 200 content-type text/plain string b2
`, port)
	}
	checkParity(t, cfg(18001))
	run := func(addr string) []string {
		var out []string
		for _, path := range []string{"/h", "/"} {
			b := string(oneShot(t, addr, "GET "+path+" HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"))
			status, _, _ := strings.Cut(b, "\r\n")
			_, body, _ := strings.Cut(b, "\r\n\r\n")
			out = append(out, status, body)
		}
		return out
	}
	want, got := haproxyThenLB(t, cfg, run)
	require.Equal(t, want, got, "haproxy's answers, then lb's")
	require.Equal(t, "a= b=1 t=t u=", got[1])
	require.Equal(t, "b2", got[3])
}
