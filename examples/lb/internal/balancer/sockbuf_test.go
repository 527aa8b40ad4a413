package balancer

import (
	"net"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

func sockOpt(t *testing.T, c net.Conn, opt int) int {
	t.Helper()
	rc, err := c.(*net.TCPConn).SyscallConn()
	require.NoError(t, err)
	var v int
	var serr error
	require.NoError(t, rc.Control(func(fd uintptr) { v, serr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, opt) }))
	require.NoError(t, serr)
	return v
}

func TestSetSockBufs(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	defer c.Close()

	rcv0, snd0 := sockOpt(t, c, unix.SO_RCVBUF), sockOpt(t, c, unix.SO_SNDBUF)
	setSockBufs(c, 0, 0)
	require.Equal(t, rcv0, sockOpt(t, c, unix.SO_RCVBUF), "0 leaves the size alone")
	require.Equal(t, snd0, sockOpt(t, c, unix.SO_SNDBUF), "0 leaves the size alone")

	// Linux doubles the size asked for, to leave room for its bookkeeping.
	setSockBufs(c, 40000, 30000)
	require.Equal(t, 80000, sockOpt(t, c, unix.SO_RCVBUF))
	require.Equal(t, 60000, sockOpt(t, c, unix.SO_SNDBUF))

	// A connection that is not TCP is left alone, without a panic.
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	setSockBufs(a, 40000, 30000)
}
