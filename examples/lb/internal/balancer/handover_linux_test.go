package balancer

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/proxyblocks/proxyblocks/internal/testnet"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// reloadWith starts the configuration text (a bind line ending in
// "%s" for options, then a server) under lb, then reloads it with opts on
// the bind line, and returns the new Balancer, or Start's error, with the
// bind address and the old Balancer, which is closed at the end of the
// test.
func reloadWith(t *testing.T, global, opts string) (*Balancer, string, *Balancer, error) {
	t.Helper()
	a, b := bannerEcho(t, "A"), bannerEcho(t, "B")
	port := testnet.FreePorts(t, 1)[0]
	text := "global\n%s\ndefaults\n    mode tcp\n    timeout connect 2s\n    timeout client 30s\n    timeout server 30s\nlisten px\n    bind 127.0.0.1:%d%s\n    server s %s\n"
	b1, _ := startLB(t, parseCfg(t, text, "", port, "", a))
	h, err := b1.Handover()
	require.NoError(t, err)
	b2, err := Start(context.Background(), parseCfg(t, text, global, port, opts, b), Options{Stdout: io.Discard, Stderr: io.Discard, Inherit: h})
	require.NoError(t, h.Close())
	if b2 != nil {
		t.Cleanup(func() { _ = b2.Close() })
	}
	return b2, fmt.Sprintf("127.0.0.1:%d", port), b1, err
}

// A bind whose backlog, keepalive or accept options changed takes the old
// socket over and sets the new options on it: the old configuration's
// clients and the new one's share one queue, and no connection is
// refused in between.
func TestHandoverRetunesChangedOptions(t *testing.T) {
	b2, addr, b1, err := reloadWith(t, "", " backlog 10 defer-accept tcp-ut 3s")
	require.NoError(t, err)
	h, err := b2.Handover()
	require.NoError(t, err)
	defer h.Close()
	require.Len(t, h.socks, 1, "one socket, taken over")
	for _, ln := range h.socks {
		rc, err := ln.(*net.TCPListener).SyscallConn()
		require.NoError(t, err)
		require.NoError(t, rc.Control(func(fd uintptr) {
			info, err := unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO)
			require.NoError(t, err)
			require.EqualValues(t, 10, info.Sacked, "a listening socket's TCP_INFO carries its backlog")
			ut, err := unix.GetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_USER_TIMEOUT)
			require.NoError(t, err)
			require.Equal(t, 3000, ut)
			da, err := unix.GetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_DEFER_ACCEPT)
			require.NoError(t, err)
			require.NotZero(t, da)
		}))
	}
	// Both balancers accept on the one socket until the old stops; then
	// the new one alone answers on it.
	require.Contains(t, []string{"A", "B"}, askByte(t, addr))
	require.NoError(t, b1.Close())
	for range 5 {
		require.Equal(t, "B", askByte(t, addr))
	}
}

// askByte sends a byte, which defer-accept waits for, and returns the
// first line of the answer.
func askByte(t *testing.T, addr string) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer c.Close()
	_, _ = io.WriteString(c, "x")
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	line, _ := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSpace(line)
}

// A bind placed differently (here without SO_REUSEPORT, "noreuseport")
// can neither take the old socket over nor open a second one beside it:
// Start says so, and the running Balancer keeps serving.
func TestHandoverChangedPlacement(t *testing.T) {
	_, addr, _, err := reloadWith(t, "    noreuseport", "")
	require.Error(t, err)
	require.Contains(t, err.Error(), fmt.Sprintf("cannot bind %s (test.cfg:9)", addr))
	require.Contains(t, err.Error(), "restart lb to apply them")
	require.Equal(t, "A", ask(t, addr))
}

// A bind placed differently, with SO_REUSEPORT on both, opens its own
// socket beside the old one, as HAProxy does. Bound to the interface the
// clients come through, the new socket takes them all.
func TestHandoverNewSocketBeside(t *testing.T) {
	b2, addr, _, err := reloadWith(t, "", " interface lo")
	if err != nil && strings.Contains(err.Error(), "operation not permitted") {
		t.Skipf("binding to an interface needs CAP_NET_RAW here: %v", err)
	}
	require.NoError(t, err)
	require.NotNil(t, b2)
	// The kernel prefers the socket bound to the clients' interface.
	for range 20 {
		require.Equal(t, "B", ask(t, addr))
	}
}
