package testnet

import (
	"fmt"
	"io"
	"net"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestServeEchoesAndStopsItsHandlers(t *testing.T) {
	LeakCheck(t)
	addr := Serve(t, Echo)
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer c.Close()
	_, err = c.Write([]byte("ping"))
	require.NoError(t, err)
	buf := make([]byte, 4)
	_, err = io.ReadFull(c, buf)
	require.NoError(t, err)
	require.Equal(t, "ping", string(buf))
	// Echo shuts its write side once the client's ends.
	require.NoError(t, c.(*net.TCPConn).CloseWrite())
	rest, err := io.ReadAll(c)
	require.NoError(t, err)
	require.Empty(t, rest)
}

func TestDiscardReadsToTheEndAndCloses(t *testing.T) {
	LeakCheck(t)
	got := make(chan int64, 1)
	addr := Serve(t, func(c net.Conn) {
		n, _ := io.Copy(io.Discard, io.LimitReader(c, 3))
		got <- n
		Discard(c)
	})
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer c.Close()
	_, err = c.Write([]byte("abcdefgh"))
	require.NoError(t, err)
	require.NoError(t, c.(*net.TCPConn).CloseWrite())
	require.Equal(t, int64(3), <-got)
	// Discard closed the connection after the rest: the client sees EOF.
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := c.Read(make([]byte, 1))
	require.Equal(t, 0, n)
	require.ErrorIs(t, err, io.EOF)
}

func TestPairIsConnected(t *testing.T) {
	LeakCheck(t)
	a, b := Pair(t)
	_, err := a.Write([]byte("x"))
	require.NoError(t, err)
	buf := make([]byte, 1)
	_, err = io.ReadFull(b, buf)
	require.NoError(t, err)
	require.Equal(t, byte('x'), buf[0])
	require.Equal(t, a.LocalAddr().String(), b.RemoteAddr().String())
}

// recorder is a testing.TB that records failures instead of failing.
type recorder struct {
	testing.TB
	failed bool
}

func (r *recorder) Helper()                   {}
func (r *recorder) Errorf(string, ...any)     { r.failed = true }
func (r *recorder) Skipf(f string, a ...any)  { r.TB.Skipf(f, a...) }
func (r *recorder) Cleanup(f func())          { r.TB.Cleanup(f) }
func (r *recorder) Fatalf(f string, a ...any) { r.TB.Fatalf(f, a...) }

func TestSnapshotReportsALeakedSocket(t *testing.T) {
	r := &recorder{TB: t}
	check := Snapshot(r)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	start := time.Now()
	check()
	require.True(t, r.failed, "an open listener is a leaked descriptor")
	require.GreaterOrEqual(t, time.Since(start), time.Second, "the check waits before it reports")
	require.NoError(t, ln.Close())

	r.failed = false
	Snapshot(r)()
	require.False(t, r.failed, "nothing opened, nothing reported")
}

func TestAcceptStopIsIdempotent(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	stop := Accept(ln, func(c net.Conn) { c.Close() })
	stop()
	stop()
	_, err = net.DialTimeout("tcp", ln.Addr().String(), time.Second)
	require.Error(t, err, "a stopped server refuses connections")
}

func TestCheckEcho(t *testing.T) {
	LeakCheck(t)
	since := func() time.Duration { return 0 }
	data := []byte("the bytes that go round")
	good := Serve(t, Echo)
	c, err := net.Dial("tcp", good)
	require.NoError(t, err)
	require.NoError(t, CheckEcho(c, data, nil, "good", since))
	require.NoError(t, c.Close())

	// A server that changes one byte, and one that stops short.
	flip := Serve(t, func(c net.Conn) {
		b, _ := io.ReadAll(c)
		b[0] ^= 1
		_, _ = c.Write(b)
	})
	c, err = net.Dial("tcp", flip)
	require.NoError(t, err)
	err = CheckEcho(c, data, nil, "flip", since)
	require.ErrorContains(t, err, "flip: wrote 23 of 23 bytes")
	require.ErrorContains(t, err, "sha256 match false")
	require.NoError(t, c.Close())

	short := Serve(t, func(c net.Conn) {
		b, _ := io.ReadAll(c)
		_, _ = c.Write(b[:3])
	})
	c, err = net.Dial("tcp", short)
	require.NoError(t, err)
	require.ErrorContains(t, CheckEcho(c, data, nil, "short", since), "read 3")
	require.NoError(t, c.Close())
}

// MemAfterGC sees memory kept live, and not memory let go.
func TestMemAfterGC(t *testing.T) {
	h0, _ := MemAfterGC()
	kept := make([]byte, 4<<20)
	h1, _ := MemAfterGC()
	require.GreaterOrEqual(t, h1, h0+uint64(len(kept)), "a live 4 MiB slice")
	runtime.KeepAlive(kept)
	kept = nil
	h2, _ := MemAfterGC()
	require.Less(t, h2, h1-uint64(2<<20), "the slice let go")
	_ = kept
}

func TestFreePortsAndRefusedAddr(t *testing.T) {
	ports := FreePorts(t, 3)
	require.Len(t, ports, 3)
	seen := map[int]bool{}
	for _, p := range ports {
		require.False(t, seen[p], "distinct ports")
		seen[p] = true
		if low := ephemeralLow(); low > 12000 {
			require.Less(t, p, low, "below the ephemeral range")
		}
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		require.NoError(t, err, "the port is free")
		require.NoError(t, ln.Close())
	}
	_, err := net.Dial("tcp", RefusedAddr(t))
	require.ErrorIs(t, err, syscall.ECONNREFUSED)
	for range 200 {
		for _, p := range FreePorts(t, 5) {
			require.False(t, seen[p], "port %d given twice", p)
			seen[p] = true
		}
	}
}
