package conn

import (
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// listenInfo returns TCP_INFO of l's listening socket, where Linux puts
// the accept queue's length (unacked) and its size (sacked).
func listenInfo(t *testing.T, l *Listener) *unix.TCPInfo {
	rc, err := l.ln.(*net.TCPListener).SyscallConn()
	require.NoError(t, err)
	var info *unix.TCPInfo
	require.NoError(t, rc.Control(func(fd uintptr) {
		info, err = unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO)
	}))
	require.NoError(t, err)
	return info
}

// backlog returns the number of connections waiting in the kernel's accept
// queue.
func backlog(t *testing.T, l *Listener) int { return int(listenInfo(t, l).Unacked) }

// backlogSize returns the size of the listening socket's accept queue.
func backlogSize(t *testing.T, l *Listener) int { return int(listenInfo(t, l).Sacked) }

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
