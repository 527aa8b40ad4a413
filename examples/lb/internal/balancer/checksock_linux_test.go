package balancer

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/proxyblocks/proxyblocks/internal/testnet"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// A bare connect check (no PROXY header, no TLS, no HTTP) passes without
// the server's application ever accepting a connection, as with
// HAProxy's checks: lb holds back the handshake's last ACK and resets the
// connection once it is up, so the server's kernel never completes it.
func TestHealthCheckNotAccepted(t *testing.T) {
	testnet.LeakCheck(t)
	ln := testnet.Listen(t)
	text := globalLog + `frontend f
    bind 127.0.0.1:0
    default_backend b
backend b
    server s %s check inter 20ms rise 3 fall 1
`
	checkedByHAProxy(t, strings.Replace(text, "%s", ln.Addr().String(), 1))
	b, logs := startLB(t, parseCfg(t, text, ln.Addr().String()))
	s := b.Backend("b").Server("s")
	require.Eventually(t, func() bool { return s.CheckStatus() == "L4OK" }, 10*time.Second, 5*time.Millisecond)
	require.True(t, s.Up())
	// Every check so far is done, its reset delivered: nothing waits to
	// be accepted. One accept4(2) on the listening socket, which is
	// non-blocking.
	rc, err := ln.(*net.TCPListener).SyscallConn()
	require.NoError(t, err)
	var aerr error
	require.NoError(t, rc.Control(func(fd uintptr) {
		var nfd int
		nfd, _, aerr = unix.Accept4(int(fd), unix.SOCK_CLOEXEC)
		if aerr == nil {
			unix.Close(nfd)
		}
	}))
	require.ErrorIs(t, aerr, unix.EAGAIN, "a check's connection reached accept")
	for _, l := range logs.lines() {
		require.NotContains(t, l, "is DOWN", l)
	}
	require.NoError(t, b.Close())
}
