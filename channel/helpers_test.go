package channel

import (
	"context"
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/proxyblocks/proxyblocks/buffer"
	"github.com/proxyblocks/proxyblocks/internal/testnet"
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
	a, b := testnet.Pair(t)
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

// relay writes msg on from and requires to to read exactly msg.
func relay(t testing.TB, from, to net.Conn, msg string) {
	t.Helper()
	_, err := io.WriteString(from, msg)
	require.NoError(t, err)
	expect(t, to, msg)
}

// expect requires c to read exactly msg next.
func expect(t testing.TB, c net.Conn, msg string) {
	t.Helper()
	got := make([]byte, len(msg))
	_, err := io.ReadFull(c, got)
	require.NoError(t, err)
	require.Equal(t, msg, string(got))
}

func readAll(t testing.TB, c net.Conn) []byte {
	t.Helper()
	b, err := io.ReadAll(c)
	require.NoError(t, err)
	return b
}
