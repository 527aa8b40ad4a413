//go:build linux

package xprt

import (
	"math"
	"math/rand/v2"
	"net"
	"runtime"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/proxyblocks/proxyblocks/internal/idlesweep"
	"github.com/proxyblocks/proxyblocks/internal/testnet"
)

func socketOf(t *testing.T, c net.Conn) syscall.RawConn {
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
	t.Cleanup(idlesweep.Set(20 * time.Millisecond))

	c, s := testnet.Pair(t)
	rc := socketOf(t, s)
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
	// A deadline already passed: the caller goes on itself.
	require.ErrorIs(t, w.Wait(rc, time.Now().Add(-time.Second), fn), ErrWoken)
	require.Zero(t, Parked())
	expectQuiet("a callback for a past deadline")
	// Nothing to wait on, or nothing to call.
	require.Error(t, w.Wait(nil, time.Time{}, fn))
	require.Error(t, w.Wait(rc, time.Time{}, nil))
	require.Zero(t, Parked())

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
	require.NoError(t, w.Wait(socketOf(t, s2), time.Time{}, fn))
	require.NoError(t, s2.Close())
	expectWake("closing the socket")
}

// The poller's deadline heap hands waits back in the order their
// timeouts fall due, whatever was taken out of it meanwhile, and keeps
// each wait's index in step so that it can be taken out.
func TestParkDeadlineHeap(t *testing.T) {
	p := &poller{sweepAt: math.MaxInt64}
	rnd := rand.New(rand.NewPCG(1, 2))
	chans := make([]*IdleWait, 500)
	when := make(map[*IdleWait]int64)
	for i := range chans {
		chans[i] = &IdleWait{}
		when[chans[i]] = rnd.Int64N(1000)
		p.push(parkDue{when: when[chans[i]], c: chans[i]})
	}
	check := func() {
		for i, d := range p.due {
			require.Equal(t, int32(i+1), d.c.pidx, "index of entry %d", i)
			if i > 0 {
				require.LessOrEqual(t, p.due[(i-1)/2].when, d.when, "heap order at %d", i)
			}
		}
	}
	check()
	removed := 0
	for i, c := range chans {
		if i%3 == 0 {
			p.remove(int(c.pidx) - 1)
			require.Zero(t, c.pidx)
			removed++
		}
	}
	check()
	due, sweep := p.expired(499, nil)
	require.False(t, sweep)
	rest, _ := p.expired(math.MaxInt64-1, nil)
	all := append(due, rest...)
	require.Len(t, all, len(chans)-removed)
	require.Empty(t, p.due)
	for i, pc := range all {
		c := pc
		require.Zero(t, c.pidx)
		require.NotEqual(t, 0, slices.Index(chans, c)%3, "a removed wait came back")
		if i > 0 {
			require.LessOrEqual(t, when[all[i-1]], when[c], "order at %d", i)
		}
		require.Equal(t, i < len(due), when[c] <= 499, "due at 499: %d", when[c])
	}
	// Deadlines come back in order.
	p2 := &poller{sweepAt: math.MaxInt64}
	for i := range 200 {
		p2.push(parkDue{when: int64(200 - i), c: &IdleWait{}})
	}
	for now := int64(1); now <= 200; now++ {
		got, _ := p2.expired(now, nil)
		require.Len(t, got, 1, "at %d", now)
	}
}

// A token names one registration: once its wait left, an event still
// carrying it wakes neither that wait nor the one now in its slot.
func TestParkTokenNamesOneRegistration(t *testing.T) {
	testnet.LeakCheck(t)
	c1, c2 := &IdleWait{}, &IdleWait{}
	_, tok1, err := register(c1, 0)
	require.NoError(t, err)
	parkers.mu.Lock()
	require.Same(t, c1, lookup(tok1))
	parkers.mu.Unlock()
	_, tok2, err := register(c2, 0)
	require.NoError(t, err)
	unregister(c1, tok1)
	c3 := &IdleWait{}
	_, tok3, err := register(c3, 0)
	require.NoError(t, err)
	require.Equal(t, uint32(tok1), uint32(tok3), "the freed slot is reused")
	parkers.mu.Lock()
	require.Nil(t, lookup(tok1))
	require.Same(t, c2, lookup(tok2))
	require.Same(t, c3, lookup(tok3))
	parkers.mu.Unlock()
	require.Equal(t, 2, Parked())
	unregister(c1, tok1) // again: nothing
	require.Equal(t, 2, Parked())
	unregister(c2, tok2)
	unregister(c3, tok3)
	require.Zero(t, Parked())
}
