package main

import (
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// TestInteropDeferAcceptMatchesHAProxy opens a silent connection to a
// "defer-accept" bind line in mode tcp, under haproxy and lb: neither
// hands it to a server while the client says nothing, and both do once
// it speaks. lb's listening socket also carries the "tfo" queue.
func TestInteropDeferAcceptMatchesHAProxy(t *testing.T) {
	haproxyBin(t)
	var dialed atomic.Int32
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			dialed.Add(1)
			go func() { _, _ = io.Copy(c, c); _ = c.Close() }()
		}
	}()
	cfg := func(port int) string {
		return fmt.Sprintf(`defaults
    mode tcp
    timeout connect 2s
    timeout client 5s
    timeout server 5s
listen l
    bind 127.0.0.1:%d defer-accept tfo backlog 64
    server e %s
`, port, ln.Addr().String())
	}
	run := func(name string, start func(text string), port int) {
		start(cfg(port))
		// Readiness probes may have reached the server: count from here.
		time.Sleep(200 * time.Millisecond)
		before := dialed.Load()
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		require.NoError(t, err)
		defer c.Close()
		time.Sleep(400 * time.Millisecond)
		require.Equal(t, before, dialed.Load(), "%s dialed the server for a client that said nothing", name)
		_, err = io.WriteString(c, "hi")
		require.NoError(t, err)
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, 2)
		_, err = io.ReadFull(c, buf)
		require.NoError(t, err, name)
		require.Equal(t, "hi", string(buf))
		require.Equal(t, before+1, dialed.Load(), name)
	}
	ports := freePorts(t, 2)
	run("haproxy", func(text string) { runHAProxyNoProbe(t, text) }, ports[0])
	run("lb", func(text string) { startInProcess(t, text) }, ports[1])
	require.Equal(t, 64, listenerTCPOption(t, ports[1], unix.TCP_FASTOPEN), "tfo's queue is the backlog")
	require.NotZero(t, listenerTCPOption(t, ports[1], unix.TCP_DEFER_ACCEPT))
}

// runHAProxyNoProbe runs haproxy on text until the test ends, waiting
// for it to start without connecting to it: a probe would be a client of
// its own.
func runHAProxyNoProbe(t *testing.T, text string) {
	t.Helper()
	startHAProxy(t, text, func() bool { return true })
	time.Sleep(500 * time.Millisecond)
}

// listenerTCPOption reads a TCP option of this process's socket listening
// on 127.0.0.1:port.
func listenerTCPOption(t *testing.T, port, opt int) int {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	require.NoError(t, err)
	for _, e := range fds {
		fd, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if acc, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ACCEPTCONN); err != nil || acc == 0 {
			continue
		}
		sa, err := unix.Getsockname(fd)
		if err != nil {
			continue
		}
		if in, ok := sa.(*unix.SockaddrInet4); ok && in.Port == port {
			v, err := unix.GetsockoptInt(fd, unix.IPPROTO_TCP, opt)
			require.NoError(t, err)
			return v
		}
	}
	t.Fatalf("no socket of this process listens on port %d", port)
	return 0
}
