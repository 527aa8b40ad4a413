package conn

import (
	"context"
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// segmentsIn is how many TCP segments the socket of c has received.
func segmentsIn(t *testing.T, c net.Conn) uint32 {
	t.Helper()
	var n uint32
	var err error
	require.True(t, rawControl(c, func(fd int) {
		var ti *unix.TCPInfo
		if ti, err = unix.GetsockoptTCPInfo(fd, unix.IPPROTO_TCP, unix.TCP_INFO); err == nil {
			n = ti.Segs_in
		}
	}))
	require.NoError(t, err)
	return n
}

// With DelayAck the handshake's last ACK leaves with the first bytes
// written: the server receives the SYN and one segment carrying both
// (two), where without it the bare ACK comes first (three).
func TestDialerDelayAck(t *testing.T) {
	for _, delay := range []bool{false, true} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		d := Dialer{DelayAck: delay, DisableKeepAlive: true}
		c, err := d.Dial(context.Background(), "tcp", ln.Addr().String(), nil)
		require.NoError(t, err)
		_, err = c.Write([]byte("GET / HTTP/1.1\r\n\r\n"))
		require.NoError(t, err)
		s, err := ln.Accept()
		require.NoError(t, err)
		_ = s.SetReadDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, 64)
		n, err := s.Read(buf)
		require.NoError(t, err)
		require.Equal(t, 18, n)
		want := uint32(3)
		if delay {
			want = 2
		}
		assert.Equal(t, want, segmentsIn(t, s), "DelayAck %v", delay)
		_ = c.Close()
		_ = s.Close()
		_ = ln.Close()
	}
}

// With DelayAck on the listener, an accepted socket holds back the ACK
// of the client's request and sends it with the answer: the client
// receives the SYN-ACK and the answer (two segments), where without it a
// bare ACK comes between (three).
func TestListenerDelayAck(t *testing.T) {
	for _, delay := range []bool{false, true} {
		ln, err := ListenConfig{DelayAck: delay}.Listen(context.Background(), "tcp", "127.0.0.1:0")
		require.NoError(t, err)
		c, err := net.Dial("tcp", ln.Addr().String())
		require.NoError(t, err)
		_, err = c.Write([]byte("ping"))
		require.NoError(t, err)
		s, err := ln.Accept()
		require.NoError(t, err)
		b := make([]byte, 4)
		_, err = io.ReadFull(s, b)
		require.NoError(t, err)
		_, err = s.Write([]byte("pong"))
		require.NoError(t, err)
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err = io.ReadFull(c, b)
		require.NoError(t, err)
		require.Equal(t, "pong", string(b))
		want := uint32(3)
		if delay {
			want = 2
		}
		assert.Equal(t, want, segmentsIn(t, c), "DelayAck %v", delay)
		_ = c.Close()
		_ = s.Close()
		_ = ln.Close()
	}
}

// Listeners are plain TCP sockets unless MultipathTCP asks, though Go's
// net.Listen opens Multipath TCP ones where the kernel has it.
func TestListenerMultipathTCP(t *testing.T) {
	protocol := func(ln *Listener) int {
		sc, ok := ln.ln.(syscall.Conn)
		require.True(t, ok)
		rc, err := sc.SyscallConn()
		require.NoError(t, err)
		var p int
		var perr error
		require.NoError(t, rc.Control(func(fd uintptr) { p, perr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_PROTOCOL) }))
		require.NoError(t, perr)
		return p
	}
	ln, err := ListenConfig{}.Listen(context.Background(), "tcp", "127.0.0.1:0")
	require.NoError(t, err)
	assert.Equal(t, unix.IPPROTO_TCP, protocol(ln))
	require.NoError(t, ln.Close())
	if b, err := os.ReadFile("/proc/sys/net/mptcp/enabled"); err != nil || strings.TrimSpace(string(b)) != "1" {
		t.Log("Multipath TCP is not enabled in this kernel: the MultipathTCP case is not checked")
		return
	}
	ln, err = ListenConfig{MultipathTCP: true}.Listen(context.Background(), "tcp", "127.0.0.1:0")
	require.NoError(t, err)
	assert.Equal(t, unix.IPPROTO_MPTCP, protocol(ln))
	require.NoError(t, ln.Close())
}
