package main

import (
	"bufio"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestInteropBareBalanceIsRoundRobin: a "balance" line without an
// algorithm means roundrobin, overriding the one the defaults set, under
// haproxy and lb (real-world configurations carry the bare keyword).
func TestInteropBareBalanceIsRoundRobin(t *testing.T) {
	haproxyBin(t)
	srv := nameServers(t, 3, false)
	run := func(start func(text string)) []string {
		p := freePorts(t, 2)
		start(fmt.Sprintf(`defaults
    mode tcp
    balance source
    timeout connect 1s
    timeout client 5s
    timeout server 5s
listen probe
    mode http
    bind 127.0.0.1:%d
    http-request return status 200
listen bare
    bind 127.0.0.1:%d
    balance
    server s1 %s
    server s2 %s
    server s3 %s
`, p[0], p[1], srv[0], srv[1], srv[2]))
		var got []string
		for range 6 {
			c := dialFrom(t, "127.0.0.1", fmt.Sprintf("127.0.0.1:%d", p[1]))
			line, err := bufio.NewReader(c).ReadString('\n')
			require.NoError(t, err)
			_ = c.Close()
			got = append(got, strings.TrimSpace(line))
		}
		return got
	}
	want := run(func(text string) { startHAProxyReady(t, text) })
	got := run(func(text string) { startInProcess(t, text) })
	require.Equal(t, want, got, "the servers haproxy chose, then lb's")
	require.Equal(t, []string{"s1", "s2", "s3", "s1", "s2", "s3"}, got)
}
