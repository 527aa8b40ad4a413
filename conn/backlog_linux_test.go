package conn

import (
	"net"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// backlog returns the number of connections waiting in the kernel's accept
// queue: for a listening socket, TCP_INFO's unacked field holds it.
func backlog(t *testing.T, l *Listener) int {
	rc, err := l.ln.(*net.TCPListener).SyscallConn()
	require.NoError(t, err)
	var n int
	require.NoError(t, rc.Control(func(fd uintptr) {
		info, err := unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO)
		require.NoError(t, err)
		n = int(info.Unacked)
	}))
	return n
}
