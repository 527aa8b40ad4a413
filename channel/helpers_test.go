package channel

import (
	"context"
	"io"
	"net"
	"os"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/proxyblocks/proxyblocks/buffer"
	"github.com/proxyblocks/proxyblocks/xprt"
)

// plain is a transport over a TCP socket that does not offer the socket,
// as TLS will not, so the channel must copy through a buffer.
type plain struct{ *net.TCPConn }

func (plain) Name() string                    { return "plain" }
func (plain) Handshake(context.Context) error { return nil }
func (plain) Raw() (syscall.RawConn, bool)    { return nil, false }
func (plain) Info() xprt.Info                 { return xprt.Info{} }

// wrap builds the transport under test over c: raw (splice-capable) or
// plain.
func wrap(c *net.TCPConn, raw bool) xprt.Transport {
	if raw {
		return xprt.NewRaw(c)
	}
	return plain{c}
}

// pair returns the two ends of a loopback TCP connection.
func pair(t testing.TB) (*net.TCPConn, *net.TCPConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	a, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	b := <-accepted
	require.NotNil(t, b)
	t.Cleanup(func() { a.Close(); b.Close() })
	return a.(*net.TCPConn), b.(*net.TCPConn)
}

// fixture is client app ↔ front ⇄ tunnel ⇄ back ↔ server app.
type fixture struct {
	client, front, back, server *net.TCPConn
}

func newFixture(t testing.TB) fixture {
	var f fixture
	f.client, f.front = pair(t)
	f.back, f.server = pair(t)
	return f
}

func countFDs(t testing.TB) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	require.NoError(t, err)
	return len(ents)
}

// noLeaks checks, when the test ends, that goroutines and file
// descriptors are back to what they were. Call it first so its cleanup
// runs after the others.
func noLeaks(t *testing.T) {
	t.Helper()
	g0, fd0 := runtime.NumGoroutine(), countFDs(t)
	t.Cleanup(func() {
		var g, fd int
		for i := 0; i < 200; i++ {
			g, fd = runtime.NumGoroutine(), countFDs(t)
			if g <= g0 && fd <= fd0 {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		ents, _ := os.ReadDir("/proc/self/fd")
		kinds := map[string]int{}
		for _, e := range ents {
			l, _ := os.Readlink("/proc/self/fd/" + e.Name())
			if len(l) > 6 {
				l = l[:6]
			}
			kinds[l]++
		}
		t.Logf("fds: %v", kinds)
		buf := make([]byte, 1<<16)
		buf = buf[:runtime.Stack(buf, true)]
		t.Errorf("leak: goroutines %d → %d, fds %d → %d\n%s", g0, g, fd0, fd, buf)
	})
}

func newPools(t testing.TB, maxPipes int) (*buffer.Pool, *buffer.PipePool) {
	t.Helper()
	pool, err := buffer.NewPool(buffer.PoolConfig{})
	require.NoError(t, err)
	pipes, err := buffer.NewPipePool(buffer.PipePoolConfig{Max: maxPipes})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, pipes.Close()) })
	return pool, pipes
}

type tunnelRun struct {
	res Result
	err error
}

// startTunnel runs a tunnel over the fixture's front and back sockets.
func startTunnel(t testing.TB, f fixture, raw bool, cfg TunnelConfig) (*Tunnel, <-chan tunnelRun) {
	t.Helper()
	tun, err := NewTunnel(wrap(f.front, raw), wrap(f.back, raw), cfg)
	require.NoError(t, err)
	done := make(chan tunnelRun, 1)
	go func() {
		r, err := tun.Run(context.Background())
		done <- tunnelRun{r, err}
	}()
	return tun, done
}

func wait(t testing.TB, done <-chan tunnelRun) tunnelRun {
	t.Helper()
	select {
	case r := <-done:
		return r
	case <-time.After(20 * time.Second):
		t.Fatal("tunnel did not end")
	}
	return tunnelRun{}
}

func readAll(t testing.TB, c net.Conn) []byte {
	t.Helper()
	b, err := io.ReadAll(c)
	require.NoError(t, err)
	return b
}
