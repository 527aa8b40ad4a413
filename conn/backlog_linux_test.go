package conn

import (
	"net"
	"testing"
	"time"

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

// backlogSize returns the size of the listening socket's accept queue:
// TCP_INFO's sacked field for a listener.
func backlogSize(t *testing.T, l *Listener) int {
	rc, err := l.ln.(*net.TCPListener).SyscallConn()
	require.NoError(t, err)
	var n int
	require.NoError(t, rc.Control(func(fd uintptr) {
		info, err := unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO)
		require.NoError(t, err)
		n = int(info.Sacked)
	}))
	return n
}

// ListenConfig.Backlog sizes the accept queue: connections beyond it
// wait in SYN retries instead of completing.
func TestListenBacklog(t *testing.T) {
	l, err := ListenConfig{Backlog: 3}.Listen(t.Context(), "tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	require.Equal(t, 3, backlogSize(t, l))

	def, err := ListenConfig{}.Listen(t.Context(), "tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer def.Close()
	require.Greater(t, backlogSize(t, def), 3, "Go's own backlog without the setting")

	// Nothing accepts: the queue fills at backlog+1, as Linux counts it.
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			_ = c.Close()
		}
	}()
	for range 4 {
		c, err := net.Dial("tcp", l.Addr().String())
		require.NoError(t, err)
		conns = append(conns, c)
	}
	require.Eventually(t, func() bool { return backlog(t, l) == 4 }, 5*time.Second, 5*time.Millisecond)
}
