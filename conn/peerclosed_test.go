package conn

import (
	"io"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// PeerClosed tells a peer that closed its side (behind bytes not read
// yet, on Linux) from one that is quiet or sent bytes, and takes nothing
// from the socket.
func TestPeerClosed(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	defer client.Close()
	s, err := ln.Accept()
	require.NoError(t, err)
	c := &Conn{sock: s}
	c.tr, err = RawTransport(s)
	require.NoError(t, err)
	defer c.Close()

	state := func() [2]bool { closed, unread := c.PeerClosed(); return [2]bool{closed, unread} }
	assert.Equal(t, [2]bool{false, false}, state(), "quiet")
	_, err = client.Write([]byte("GET"))
	require.NoError(t, err)
	require.Eventually(t, func() bool { return state() == [2]bool{false, true} }, time.Second, time.Millisecond, "bytes to read")
	require.NoError(t, client.(*net.TCPConn).CloseWrite())
	// Linux sees the FIN behind the bytes; elsewhere only once they are read.
	require.Eventually(t, func() bool { return state() == [2]bool{runtime.GOOS == "linux", true} }, time.Second, time.Millisecond)
	b := make([]byte, 3)
	_, err = io.ReadFull(c, b)
	require.NoError(t, err)
	assert.Equal(t, "GET", string(b), "the peeks took nothing")
	assert.Eventually(t, func() bool { return state() == [2]bool{true, false} }, time.Second, time.Millisecond, "closed")
}
