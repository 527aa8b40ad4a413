//go:build linux

package channel

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"io"
	"net"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/proxyblocks/proxyblocks/buffer"
	"github.com/proxyblocks/proxyblocks/internal/testcert"
	"github.com/proxyblocks/proxyblocks/internal/testnet"
	"github.com/proxyblocks/proxyblocks/xprt"
	_ "github.com/proxyblocks/proxyblocks/xprt/tls" // registers the "tls" transport
)

// tlsFixture is a fixture whose client speaks TLS to the tunnel's front
// transport, which terminates it; the back side is raw.
func tlsFixture(t *testing.T) (f fixture, client *tls.Conn, front xprt.Transport) {
	t.Helper()
	f = newFixture(t)
	scfg, ccfg := testcert.Configs(t, "tunnel.test")
	front, err := xprt.New("tls", f.front, scfg, false)
	require.NoError(t, err)
	client = tls.Client(f.client, ccfg)
	testcert.Handshake(t, client, front)
	return f, client, front
}

// waitInUse waits until the pool has lent out n buffers.
func waitInUse(t *testing.T, pool *buffer.Pool, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for pool.Stats().InUse != n {
		if time.Now().After(deadline) {
			t.Fatalf("buffers in use: %d, want %d", pool.Stats().InUse, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A tunnel whose client side is TLS holds no buffer once the client has
// been silent for longer than the park delay, though the TLS layer is
// read through a plain Read; the byte it waits on is forwarded first,
// then the rest, intact and in order, and so are later bursts.
func TestIdleTLSTunnelHoldsNoBuffer(t *testing.T) {
	testnet.LeakCheck(t)
	pool, err := buffer.NewPool(buffer.PoolConfig{})
	require.NoError(t, err)
	f, client, front := tlsFixture(t)
	tun, err := NewTunnel(front, xprt.NewRaw(f.back), TunnelConfig{Pool: pool, ClientTimeout: time.Minute, ServerTimeout: time.Minute})
	require.NoError(t, err)
	done := make(chan Result, 1)
	require.NoError(t, tun.Start(context.Background(), func(r Result) { done <- r }))

	echo := func(msg []byte) {
		t.Helper()
		_, err := client.Write(msg)
		require.NoError(t, err)
		got := make([]byte, len(msg))
		_, err = io.ReadFull(f.server, got)
		require.NoError(t, err)
		require.True(t, bytes.Equal(msg, got), "request bytes changed on the way")
		_, err = f.server.Write(msg)
		require.NoError(t, err)
		_, err = io.ReadFull(client, got)
		require.NoError(t, err)
		require.True(t, bytes.Equal(msg, got), "response bytes changed on the way")
	}
	echo([]byte("hello"))

	// Idle: the TLS direction gives its buffer back, and both park.
	time.Sleep(2 * parkAfter)
	waitInUse(t, pool, 0)
	if xprt.IdleWaitSupported {
		waitParked(t, 2)
	}

	// One-byte records, each the first byte after idle or not.
	for i := range 3 {
		echo([]byte{byte('a' + i)})
	}
	// Several records in a row, the first one's first byte taken alone.
	big := make([]byte, 300<<10)
	_, _ = rand.Read(big)
	echo(big)
	time.Sleep(2 * parkAfter)
	waitInUse(t, pool, 0)
	echo(big[:70000])

	require.NoError(t, client.CloseWrite())
	require.NoError(t, f.client.CloseWrite())
	_, err = io.Copy(io.Discard, f.server)
	require.NoError(t, err)
	require.NoError(t, f.server.CloseWrite())
	r := waitResult(t, done)
	require.NoError(t, r.Err)
	want := int64(5 + 3 + len(big) + 70000)
	require.Equal(t, want, r.Request.In)
	require.Equal(t, want, r.Request.Out)
	require.Equal(t, want, r.Response.Out)
	require.Zero(t, pool.Stats().InUse)
}

// Bytes written in many small TLS records while the channel switches
// between its scratch byte and its buffer arrive whole and in order.
func TestTLSSourceOrder(t *testing.T) {
	testnet.LeakCheck(t)
	pool, err := buffer.NewPool(buffer.PoolConfig{})
	require.NoError(t, err)
	f, client, front := tlsFixture(t)
	tun, err := NewTunnel(front, xprt.NewRaw(f.back), TunnelConfig{Pool: pool})
	require.NoError(t, err)
	done := make(chan Result, 1)
	require.NoError(t, tun.Start(context.Background(), func(r Result) { done <- r }))

	var want bytes.Buffer
	msgs := make([][]byte, 2000)
	for i := range msgs {
		msgs[i] = bytes.Repeat([]byte{byte(i)}, 1+i%37)
		want.Write(msgs[i])
	}
	go func() {
		for i, msg := range msgs {
			if _, err := client.Write(msg); err != nil {
				return
			}
			if i%500 == 499 {
				time.Sleep(parkAfter + parkAfter/2)
			}
		}
		_ = client.CloseWrite()
		_ = f.client.CloseWrite()
	}()
	got, err := io.ReadAll(f.server)
	require.NoError(t, err)
	require.True(t, bytes.Equal(want.Bytes(), got), "got %d bytes, want %d, or not in order", len(got), want.Len())
	require.NoError(t, f.server.CloseWrite())
	r := waitResult(t, done)
	require.NoError(t, r.Err)
	require.Zero(t, pool.Stats().InUse)
}

// splitConn writes each TLS record it is given in two parts with a pause
// between them while split is set, so a parked reader wakes on half a
// record.
type splitConn struct {
	net.Conn
	split atomic.Bool
	pause time.Duration
}

func (s *splitConn) Write(p []byte) (int, error) {
	if !s.split.Load() || len(p) < 4 {
		return s.Conn.Write(p)
	}
	n, err := s.Conn.Write(p[:3])
	if err != nil {
		return n, err
	}
	time.Sleep(s.pause)
	m, err := s.Conn.Write(p[3:])
	return n + m, err
}

// An idle TLS direction parks in the shared poller like a raw one and
// holds no goroutine: the TLS layer has decoded everything it read. A
// record that arrives in two parts, with a pause longer than the park
// delay between them, wakes the direction, which waits for the rest and
// parks again if it must; the bytes arrive whole, and the tunnel still
// ends on the client timeout while parked.
func TestIdleTLSDirectionParks(t *testing.T) {
	if !xprt.IdleWaitSupported {
		t.Skip("no shared poller on this system")
	}
	testnet.LeakCheck(t)
	pool, err := buffer.NewPool(buffer.PoolConfig{})
	require.NoError(t, err)
	f := newFixture(t)
	scfg, ccfg := testcert.Configs(t, "tunnel.test")
	front, err := xprt.New("tls", f.front, scfg, false)
	require.NoError(t, err)
	sc := &splitConn{Conn: f.client, pause: 3 * parkAfter}
	client := tls.Client(sc, ccfg)
	testcert.Handshake(t, client, front)

	g0 := runtime.NumGoroutine()
	const timeout = 3 * time.Second
	tun, err := NewTunnel(front, xprt.NewRaw(f.back), TunnelConfig{Pool: pool, ClientTimeout: timeout, ServerTimeout: time.Minute})
	require.NoError(t, err)
	done := make(chan Result, 1)
	require.NoError(t, tun.Start(context.Background(), func(r Result) { done <- r }))

	parkedClean := func(round int) {
		t.Helper()
		waitParked(t, 2)
		g := settleGoroutines(g0 + 1)
		require.LessOrEqual(t, g, g0+1, "round %d: goroutines while parked (the poller's only)", round)
		require.Zero(t, pool.Stats().InUse)
	}
	got := make([]byte, 64)
	for round, msg := range []string{"whole", "split in two"} {
		parkedClean(round)
		sc.split.Store(round == 1)
		_, err := client.Write([]byte(msg))
		require.NoError(t, err)
		_, err = io.ReadFull(f.server, got[:len(msg)])
		require.NoError(t, err)
		require.Equal(t, msg, string(got[:len(msg)]))
		_, err = f.server.Write([]byte(msg))
		require.NoError(t, err)
		_, err = io.ReadFull(client, got[:len(msg)])
		require.NoError(t, err)
		require.Equal(t, msg, string(got[:len(msg)]))
	}
	parkedClean(2)
	// The server timeout is a minute, past waitResult's patience: only the
	// parked TLS direction's own timer can half-close towards the server
	// in time, which the server sees before it closes in turn.
	_, err = io.Copy(io.Discard, f.server)
	require.NoError(t, err)
	require.NoError(t, f.server.CloseWrite())
	r := waitResult(t, done)
	require.Error(t, r.Err)
	require.Equal(t, "cD", r.TermState(), "%v", r.Err)
	require.Equal(t, int64(len("whole")+len("split in two")), r.Request.Out)
	waitParked(t, 0)
	_ = client.Close()
}
