package main

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestInteropExpectProxyMatchesHAProxy asks for a PROXY header from one
// client address only ("tcp-request connection expect-proxy layer4 if
// ..."), under haproxy and lb: that client's header is read and its
// address logged, another client's bytes pass as they are, and the first
// client without a header is closed before any byte reaches the server,
// with no line.
func TestInteropExpectProxyMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	echo := echoServer(t)
	cfg := func(port int) string {
		return fmt.Sprintf(`global
    log stdout format raw local0
defaults
    mode tcp
    log global
    option dontlognull
    timeout connect 2s
    timeout client 5s
    timeout server 5s
listen l
    bind 127.0.0.1:%d
    tcp-request connection expect-proxy layer4 if { src 127.0.0.2 }
    log-format "line %%ci %%b/%%s %%ts %%B"
    server e %s
`, port, echo)
	}
	run := func(start func(text string) func() string) []string {
		port := freePorts(t, 1)[0]
		out := start(cfg(port))
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		for _, tc := range []struct{ src, send, echo string }{
			{"127.0.0.2", "PROXY TCP4 192.0.2.7 198.51.100.1 4000 80\r\nhello", "hello"},
			{"127.0.0.1", "PROXY TCP4 192.0.2.8 198.51.100.1 4000 80\r\n", "PROXY TCP4 192.0.2.8 198.51.100.1 4000 80\r\n"},
			{"127.0.0.2", "GET / HTTP/1.0\r\n\r\n", ""},
		} {
			c := dialFrom(t, tc.src, addr)
			_, err := io.WriteString(c, tc.send)
			require.NoError(t, err)
			got := make([]byte, len(tc.echo))
			_, err = io.ReadFull(c, got)
			if tc.echo == "" {
				n, _ := c.Read(make([]byte, 1))
				require.Zero(t, n, "no byte reaches the server without the header")
			} else {
				require.NoError(t, err)
				require.Equal(t, tc.echo, string(got))
			}
			_ = c.Close()
		}
		var lines []string
		require.Eventually(t, func() bool {
			lines = lines[:0]
			for _, l := range strings.Split(out(), "\n") {
				if strings.HasPrefix(l, "line ") {
					lines = append(lines, l)
				}
			}
			return len(lines) == 2
		}, 10*time.Second, 10*time.Millisecond, "two traffic lines")
		time.Sleep(200 * time.Millisecond)
		lines = lines[:0]
		for _, l := range strings.Split(out(), "\n") {
			if strings.HasPrefix(l, "line ") {
				lines = append(lines, l)
			}
		}
		sort.Strings(lines)
		return lines
	}
	want := run(func(text string) func() string { return startHAProxyReady(t, text) })
	got := run(func(text string) func() string {
		_, logs, mu := startInProcess(t, text)
		return func() string { mu.Lock(); defer mu.Unlock(); return logs.String() }
	})
	require.Equal(t, want, got, "haproxy's lines, then lb's")
	require.Equal(t, []string{"line 127.0.0.1 l/e -- 43", "line 192.0.2.7 l/e -- 5"}, got)
}
