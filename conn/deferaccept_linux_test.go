package conn

import (
	"context"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// listenerOpt reads an integer TCP option of a listener's socket.
func listenerOpt(t *testing.T, ln *Listener, opt int) int {
	t.Helper()
	sc, ok := ln.ln.(syscall.Conn)
	require.True(t, ok)
	rc, err := sc.SyscallConn()
	require.NoError(t, err)
	var v int
	var verr error
	require.NoError(t, rc.Control(func(fd uintptr) { v, verr = unix.GetsockoptInt(int(fd), unix.IPPROTO_TCP, opt) }))
	require.NoError(t, verr)
	return v
}

// A DeferAccept listener hands over a connection only once the client
// has sent something: a silent client is not accepted meanwhile.
func TestListenerDeferAccept(t *testing.T) {
	ln, err := ListenConfig{DeferAccept: true}.Listen(context.Background(), "tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	require.NotZero(t, listenerOpt(t, ln, unix.TCP_DEFER_ACCEPT))

	accepted := make(chan *Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			accepted <- c
		}
	}()
	client, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	defer client.Close()
	select {
	case c := <-accepted:
		c.Close()
		t.Fatal("a client that sent nothing was accepted")
	case <-time.After(300 * time.Millisecond):
	}
	_, err = client.Write([]byte("x"))
	require.NoError(t, err)
	select {
	case c := <-accepted:
		buf := make([]byte, 1)
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, err := c.Read(buf)
		require.NoError(t, err)
		require.Equal(t, "x", string(buf[:n]))
		require.NoError(t, c.Close())
	case <-time.After(5 * time.Second):
		t.Fatal("the client's first byte did not bring the accept")
	}

	// Without the option the socket has none.
	plain, err := ListenConfig{}.Listen(context.Background(), "tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer plain.Close()
	require.Zero(t, listenerOpt(t, plain, unix.TCP_DEFER_ACCEPT))
}

// FastOpen sets the listener's TCP Fast Open queue.
func TestListenerFastOpen(t *testing.T) {
	ln, err := ListenConfig{FastOpen: 128}.Listen(context.Background(), "tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	require.Equal(t, 128, listenerOpt(t, ln, unix.TCP_FASTOPEN))
	plain, err := ListenConfig{}.Listen(context.Background(), "tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer plain.Close()
	require.Zero(t, listenerOpt(t, plain, unix.TCP_FASTOPEN))
}
