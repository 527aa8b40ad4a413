package conn

import (
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/proxyblocks/proxyblocks/internal/testnet"
)

// Suspend stops the socket listening: a client is refused while it
// lasts, and after Resume one connects and is accepted on the same port.
func TestListenerSuspendRefuses(t *testing.T) {
	testnet.LeakCheck(t)
	port := testnet.FreePorts(t, 1)[0]
	l, err := ListenConfig{}.Listen(context.Background(), "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	require.NoError(t, err)
	defer l.Close()
	pending := acceptAsync(l)

	refusing, err := l.Suspend()
	require.NoError(t, err)
	require.True(t, refusing)
	require.True(t, l.Paused())
	_, err = net.DialTimeout("tcp", l.Addr().String(), time.Second)
	require.True(t, errors.Is(err, syscall.ECONNREFUSED), "refused while suspended: %v", err)
	again, err := l.Suspend()
	require.NoError(t, err)
	require.True(t, again, "a second Suspend changes nothing")

	require.NoError(t, l.Resume())
	c := dial(t, l.Addr())
	r := <-pending
	require.NoError(t, r.err)
	require.Equal(t, c.LocalAddr().String(), r.c.RemoteAddr().String(), "accepted on the same port")
	_, _ = io.WriteString(c, "x")
	require.NoError(t, r.c.Close())
}

// A listener on a port the system chose only pauses: the port could be
// lost while the socket does not listen.
func TestListenerSuspendChosenPortPauses(t *testing.T) {
	testnet.LeakCheck(t)
	l := listen(t, ListenConfig{})
	refusing, err := l.Suspend()
	require.NoError(t, err)
	require.False(t, refusing)
	c := dial(t, l.Addr())
	eventually(t, func() bool { return backlog(t, l) == 1 }, "the client to wait in the backlog")
	pending := acceptAsync(l)
	require.NoError(t, l.Resume())
	r := <-pending
	require.NoError(t, r.err)
	require.Equal(t, c.LocalAddr().String(), r.c.RemoteAddr().String())
	require.NoError(t, r.c.Close())
}
