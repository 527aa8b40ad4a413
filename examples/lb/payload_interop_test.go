package main

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestInteropPayloadRoutingMatchesHAProxy routes TCP clients on their
// first bytes with req.payload, matched as hexadecimal (-m bin) and as
// text (-m str, -m sub), and req.payload_lv blocks, the rules waiting for
// bytes still to come, under
// haproxy and lb: each client must reach the same server.
func TestInteropPayloadRoutingMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	srv := nameServers(t, 4, false)
	cfg := func(port int) string {
		return fmt.Sprintf(`defaults
    mode tcp
    timeout connect 2s
    timeout client 5s
    timeout server 5s
frontend f
    bind 127.0.0.1:%d
    tcp-request inspect-delay 300ms
    tcp-request content reject if { req.payload(0,0) -m sub EVIL }
    tcp-request content accept if { req.payload(0,3) -m bin 474554 } || { req.payload(0,7) -m str SSH-2.0 } || { req.payload_lv(0,1) -m found }
    use_backend lv if { req.payload_lv(0,1) -m str abc } || { req.payload_lv(0,1,+1) -m str hi }
    use_backend web if { req.payload(0,3) -m bin 474554 }
    use_backend ssh if { req.payload(0,7) -m str SSH-2.0 }
    default_backend other
backend web
    server s1 %s
backend ssh
    server s2 %s
backend other
    server s3 %s
backend lv
    server s4 %s
`, port, srv[0], srv[1], srv[2], srv[3])
	}
	run := func(start func(text string)) []string {
		port := freePorts(t, 1)[0]
		start(cfg(port))
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		var got []string
		for _, parts := range [][]string{
			{"GET / HTTP/1.0\r\n\r\n"}, {"SSH-2.0-test\r\n"}, {"SS", "H-2.0-later\r\n"}, {"xyz"}, {"GE", "T /"}, {"an EVIL one"},
			{"\x03abcdef"}, {"\x03a", "bc"}, {"\x02-hi!"},
		} {
			c := dialFrom(t, "127.0.0.1", addr)
			for i, p := range parts {
				if i > 0 {
					time.Sleep(100 * time.Millisecond)
				}
				_, err := io.WriteString(c, p)
				require.NoError(t, err)
			}
			line, err := bufio.NewReader(c).ReadString('\n')
			if err != nil {
				line = "closed"
			}
			got = append(got, strings.Join(parts, "")+" -> "+strings.TrimSpace(line))
			_ = c.Close()
		}
		return got
	}
	want := run(func(text string) { startHAProxyReady(t, text) })
	got := run(func(text string) { startInProcess(t, text) })
	require.Equal(t, want, got, "haproxy's servers, then lb's")
	require.Equal(t, "SSH-2.0-later\r\n -> s2", got[2])
	require.Equal(t, "an EVIL one -> closed", got[5])
	require.Equal(t, "\x03abc -> s4", got[7])
}
