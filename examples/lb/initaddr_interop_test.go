package main

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// initAddrCfg: s1's name resolves to nothing, and init-addr none leaves
// it disabled; s2 is named localhost; s3's name resolves to nothing
// either, and init-addr falls back to 127.0.0.1, on a port that refuses.
func initAddrCfg(port int, s2Port, refused string) string {
	return fmt.Sprintf(`global
    log stdout format raw local0
defaults
    mode tcp
    log global
    option tcplog
    timeout connect 1s
    timeout client 5s
    timeout server 5s
listen a
    bind 127.0.0.1:%d
    balance roundrobin
    server s1 nosuchhost.invalid:80 init-addr last,libc,none check inter 100ms
    server s2 localhost:%s check inter 100ms
    server s3 nosuchhost.invalid:%s init-addr 127.0.0.1 check inter 100ms fall 1
`, port, s2Port, refused)
}

// TestInteropInitAddrMatchesHAProxy resolves the servers' names at start
// under haproxy and lb alike: the same state line for s3 (down on the
// fallback address, with one active server left, since s1 is disabled),
// and every connection to s2, reached by its name.
func TestInteropInitAddrMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	s2 := nameServers(t, 2, false)[1] // answers "s2"
	_, s2Port, err := net.SplitHostPort(s2)
	require.NoError(t, err)
	refused := fmt.Sprint(freePorts(t, 1)[0])
	run := func(start func(text string) func() string) ([]string, []string) {
		port := freePorts(t, 1)[0]
		out := start(initAddrCfg(port, s2Port, refused))
		var down []string
		ok := assert.Eventually(t, func() bool {
			down = down[:0]
			for _, l := range strings.Split(out(), "\n") {
				if strings.HasPrefix(l, "Server a/") {
					down = append(down, durationRe.ReplaceAllString(strings.TrimSpace(l), "check duration: N"))
				}
			}
			return len(down) >= 1
		}, 10*time.Second, 20*time.Millisecond)
		if !ok {
			t.Fatalf("no state line:\n%s", out())
		}
		var served []string
		for range 3 {
			c := dialFrom(t, "127.0.0.1", fmt.Sprintf("127.0.0.1:%d", port))
			line, err := bufio.NewReader(c).ReadString('\n')
			require.NoError(t, err)
			served = append(served, strings.TrimSpace(line))
			_ = c.Close()
		}
		return down, served
	}
	hdown, hserved := run(haproxyLogs(t))
	ldown, lserved := run(lbLogs(t))
	require.Equal(t, hdown, ldown, "haproxy's state lines, then lb's")
	require.Equal(t, hserved, lserved)
	require.Equal(t, []string{`Server a/s3 is DOWN, reason: Layer4 connection problem, info: "Connection refused", check duration: N. 1 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue.`}, ldown)
	require.Equal(t, []string{"s2", "s2", "s2"}, lserved)
}
