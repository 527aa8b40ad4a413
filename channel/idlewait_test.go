//go:build linux

package channel

import (
	"net"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/proxyblocks/proxyblocks/internal/testnet"
)

func rawConn(t *testing.T, c net.Conn) syscall.RawConn {
	t.Helper()
	rc, err := c.(*net.TCPConn).SyscallConn()
	require.NoError(t, err)
	return rc
}

// An IdleWait holds no goroutine while its socket is silent, and its
// callback runs once on a new goroutine when a byte comes (left unread),
// when the deadline passes, when Wake is called, or when the socket is
// closed underneath it; the same IdleWait serves wait after wait, and
// nothing is left in the poller afterwards.
func TestIdleWait(t *testing.T) {
	testnet.LeakCheck(t)
	old := sweepEvery
	sweepEvery = 20 * time.Millisecond
	t.Cleanup(func() { sweepEvery = old })

	c, s := testnet.Pair(t)
	rc := rawConn(t, s)
	var w IdleWait
	woken := make(chan struct{}, 1)
	fn := func() { woken <- struct{}{} }
	expectWake := func(what string) {
		t.Helper()
		testnet.Signalled(t, woken, "wake by "+what)
		require.Zero(t, Parked(), "unregistered once woken by %s", what)
	}
	expectQuiet := func(what string) {
		t.Helper()
		testnet.Silent(t, woken, 50*time.Millisecond, what)
	}

	// A byte.
	g := runtime.NumGoroutine()
	require.NoError(t, w.Wait(rc, time.Time{}, fn))
	require.Equal(t, 1, Parked())
	require.LessOrEqual(t, runtime.NumGoroutine(), g+1, "at most the poller's goroutine")
	expectQuiet("a byte came")
	_, err := c.Write([]byte("x"))
	require.NoError(t, err)
	expectWake("a byte")
	b := make([]byte, 2)
	require.NoError(t, s.SetReadDeadline(time.Now().Add(5*time.Second)))
	n, err := s.Read(b)
	require.NoError(t, err)
	require.Equal(t, "x", string(b[:n]), "the byte was left for the reader")

	// The deadline.
	require.NoError(t, w.Wait(rc, time.Now().Add(100*time.Millisecond), fn))
	expectQuiet("the deadline")
	expectWake("the deadline")
	// A deadline already passed.
	require.NoError(t, w.Wait(rc, time.Now().Add(-time.Second), fn))
	expectWake("a past deadline")

	// Wake, twice.
	require.NoError(t, w.Wait(rc, time.Time{}, fn))
	w.Wake()
	w.Wake()
	expectWake("Wake")
	expectQuiet("a second callback")

	// The peer's end.
	require.NoError(t, w.Wait(rc, time.Time{}, fn))
	require.NoError(t, c.Close())
	expectWake("the peer's close")

	// The socket closed underneath.
	c2, s2 := testnet.Pair(t)
	defer c2.Close()
	require.NoError(t, w.Wait(rawConn(t, s2), time.Time{}, fn))
	require.NoError(t, s2.Close())
	expectWake("closing the socket")
}
