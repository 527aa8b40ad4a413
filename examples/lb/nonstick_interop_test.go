package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestInteropNonStickMatchesHAProxy: a "non-stick" server is never stored
// in the stick table, so a client it served goes on to the next server,
// which stores it; "tfo" and "tcp-ut" servers carry the traffic as the
// others do. The servers reached are the same under haproxy and lb.
func TestInteropNonStickMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	name := func(n string) string {
		return checkPeer(t, func(c *net.TCPConn) { _, _ = io.WriteString(c, n+"\n") })
	}
	a, b := name("a"), name("b")
	run := func(start func(text string)) []string {
		p := freePorts(t, 3)
		// haproxy's readiness probe goes to the first bind line: not to
		// the sections under test, whose turns it would take.
		start(fmt.Sprintf(`defaults
    mode tcp
    timeout connect 1s
    timeout client 5s
    timeout server 5s
listen probe
    bind 127.0.0.1:%d
    server a %s
listen ns
    bind 127.0.0.1:%d
    stick-table type ip size 10
    stick on src
    server a %s non-stick
    server b %s tfo tcp-ut 5s
listen st
    bind 127.0.0.1:%d
    stick-table type ip size 10
    stick on src
    server a %s non-stick stick
    server b %s
`, p[2], a, p[0], a, b, p[1], a, b))
		var got []string
		for _, port := range p[:2] {
			var seen []string
			for range 4 {
				c := dialFrom(t, "127.0.0.3", fmt.Sprintf("127.0.0.1:%d", port))
				_ = c.SetDeadline(time.Now().Add(5 * time.Second))
				l, err := bufio.NewReader(c).ReadString('\n')
				require.NoError(t, err)
				_ = c.Close()
				seen = append(seen, strings.TrimSpace(l))
			}
			got = append(got, strings.Join(seen, ""))
		}
		return got
	}
	want := run(func(text string) { startHAProxyReady(t, text) })
	got := run(func(text string) { startInProcess(t, text) })
	require.Equal(t, want, got, "the servers under haproxy, then under lb")
	require.Equal(t, []string{"abbb", "aaaa"}, got, "a served once without being stored, then b stuck; without non-stick a stuck")
}
