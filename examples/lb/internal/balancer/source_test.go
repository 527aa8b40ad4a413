package balancer

import (
	"bufio"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/proxyblocks/proxyblocks/internal/testnet"
	"github.com/stretchr/testify/require"
)

// A backend's source (here from defaults) is the address its servers are
// dialed from, unless a server sets its own.
func TestProxySource(t *testing.T) {
	peer, _ := testnet.Peer(t, func(c *net.TCPConn) {
		host, _, _ := net.SplitHostPort(c.RemoteAddr().String())
		_, _ = io.WriteString(c, host+"\n")
		_, _ = io.Copy(io.Discard, c)
	})
	cfg := parseCfg(t, `defaults
    mode tcp
    source 127.0.0.3
    timeout connect 2s
    timeout client 5s
    timeout server 5s
listen px
    bind 127.0.0.1:0
    balance static-rr
    server a %[1]s
    server b %[1]s source 127.0.0.4
`, peer)
	b, _ := startLB(t, cfg)
	addr := feAddr(t, b, "px")
	var got []string
	for range 4 {
		c, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		line, err := bufio.NewReader(c).ReadString('\n')
		require.NoError(t, err)
		got = append(got, strings.TrimSpace(line))
		_ = c.Close()
	}
	require.Equal(t, []string{"127.0.0.3", "127.0.0.4", "127.0.0.3", "127.0.0.4"}, got)
}

// spread-checks moves each interval by up to its percentage either way.
func TestSpreadChecks(t *testing.T) {
	require.Equal(t, 2*time.Second, spread(2*time.Second, 0))
	seen := map[time.Duration]bool{}
	for range 200 {
		d := spread(10*time.Second, 5)
		require.GreaterOrEqual(t, d, 9500*time.Millisecond)
		require.LessOrEqual(t, d, 10500*time.Millisecond)
		seen[d] = true
	}
	require.Greater(t, len(seen), 100, "the interval moves at random")
}
