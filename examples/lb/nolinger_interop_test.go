package main

import (
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/proxyblocks/proxyblocks/internal/testnet"
	"github.com/stretchr/testify/require"
)

// sessionHi opens a session through the proxy at addr: the client sends
// "hi", and the server side is the connection on ln that brings it (those
// haproxy forwards for the probes of its start bring nothing). Both have
// a 20 s deadline and are closed when the test ends.
func sessionHi(t *testing.T, ln net.Listener, addr string) (client, server net.Conn) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	require.NoError(t, c.SetDeadline(time.Now().Add(20*time.Second)))
	_, err = io.WriteString(c, "hi")
	require.NoError(t, err)
	require.NoError(t, ln.(*net.TCPListener).SetDeadline(time.Now().Add(20*time.Second)))
	for {
		s, err := ln.Accept()
		require.NoError(t, err)
		require.NoError(t, s.SetDeadline(time.Now().Add(20*time.Second)))
		hi := make([]byte, 2)
		if _, err := io.ReadFull(s, hi); err == nil && string(hi) == "hi" {
			t.Cleanup(func() { _ = s.Close() })
			return c, s
		}
		_ = s.Close()
	}
}

// halfCloseEnds runs one session through the proxy at addr: the client
// sends "hi"; the side that closes first shuts its write half, the other
// answers "bye" and closes. It returns how each peer's reads ended.
func halfCloseEnds(t *testing.T, ln net.Listener, addr string, clientFirst bool) (client, server string) {
	t.Helper()
	c, s := sessionHi(t, ln, addr)
	first, second := c, s
	if !clientFirst {
		first, second = s, c
	}
	require.NoError(t, first.(*net.TCPConn).CloseWrite())
	secondEnd := testnet.HowEnded(second)
	_, _ = io.WriteString(second, "bye")
	_ = second.Close()
	firstEnd := testnet.HowEnded(first)
	if clientFirst {
		return firstEnd, secondEnd
	}
	return secondEnd, firstEnd
}

// With option nolinger on the frontend, lb ends client connections the
// way haproxy does whichever side closes first: a reset once the server
// has answered a client's half-close, an end of stream when the server
// closed first.
func TestInteropNoLinger(t *testing.T) {
	haproxyBin(t)
	cfg := func(bind string, server net.Addr) string {
		return fmt.Sprintf(`defaults
    mode tcp
    timeout connect 5s
    timeout client 30s
    timeout server 30s
frontend f
    bind %s
    option nolinger
    default_backend b
backend b
    server s %s
`, bind, server)
	}
	hln, lln := testnet.Listen(t), testnet.Listen(t)
	hp := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	runHAProxy(t, cfg(hp, hln.Addr()), hp)
	b, _, _ := startInProcess(t, cfg("127.0.0.1:0", lln.Addr()))
	for _, tc := range []struct {
		clientFirst bool
		want        [2]string // client's end, server's end
	}{
		{true, [2]string{"reset", "eof"}},
		{false, [2]string{"eof", "eof"}},
	} {
		t.Run(fmt.Sprintf("client first=%v", tc.clientFirst), func(t *testing.T) {
			hc, hs := halfCloseEnds(t, hln, hp, tc.clientFirst)
			require.Equal(t, tc.want, [2]string{hc, hs}, "haproxy")
			lc, ls := halfCloseEnds(t, lln, b.Addrs("f")[0].String(), tc.clientFirst)
			require.Equal(t, tc.want, [2]string{lc, ls}, "lb")
		})
	}
}
