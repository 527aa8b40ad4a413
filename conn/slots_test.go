package conn

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/proxyblocks/proxyblocks/internal/testnet"
)

func TestNewSlotsRejectsNonPositive(t *testing.T) {
	for _, n := range []int{0, -1} {
		s, err := NewSlots(n)
		require.Error(t, err, "n=%d", n)
		require.Nil(t, s)
	}
	var none *Slots
	require.Zero(t, none.Cap())
	require.Zero(t, none.InUse())
}

// Two listeners sharing two slots: once both are taken on one listener,
// the other stops accepting too, and a close on the first frees it.
func TestSharedSlotsPauseEveryListener(t *testing.T) {
	testnet.LeakCheck(t)
	slots, err := NewSlots(2)
	require.NoError(t, err)
	require.Equal(t, 2, slots.Cap())
	l1 := listen(t, ListenConfig{Slots: []*Slots{slots}})
	l2 := listen(t, ListenConfig{Slots: []*Slots{slots}, MaxConn: 10})

	dial(t, l1.Addr())
	dial(t, l1.Addr())
	a, err := l1.Accept()
	require.NoError(t, err)
	b, err := l1.Accept()
	require.NoError(t, err)
	require.Equal(t, 2, slots.InUse())

	late := dial(t, l2.Addr())
	pending := acceptAsync(l2)
	eventually(t, func() bool { return l2.Stats().FullWaits == 1 }, "the second listener to wait for a shared slot")
	require.Equal(t, 1, backlog(t, l2), "the client waits in the kernel's backlog")
	select {
	case r := <-pending:
		t.Fatalf("accepted over the shared limit: %v", r.err)
	default:
	}

	require.NoError(t, a.Close())
	r := <-pending
	require.NoError(t, r.err)
	require.Equal(t, late.LocalAddr().String(), r.c.RemoteAddr().String())
	require.Equal(t, 2, slots.InUse())
	require.NoError(t, b.Close())
	require.NoError(t, r.c.Close())
	require.Zero(t, slots.InUse())
	require.Equal(t, int64(0), l1.Stats().Active+l2.Stats().Active)
}

// A listener closed while it waits for a shared slot gives back the slots
// it already took, its own included.
func TestSharedSlotsCloseWhileWaiting(t *testing.T) {
	testnet.LeakCheck(t)
	front, err := NewSlots(5)
	require.NoError(t, err)
	global, err := NewSlots(1)
	require.NoError(t, err)
	l1 := listen(t, ListenConfig{Slots: []*Slots{front, global}})
	l2 := listen(t, ListenConfig{MaxConn: 3, Slots: []*Slots{front, global}})

	dial(t, l1.Addr())
	c, err := l1.Accept()
	require.NoError(t, err)
	require.Equal(t, 1, front.InUse())
	require.Equal(t, 1, global.InUse())

	dial(t, l2.Addr()) // a listener takes slots only for a pending client
	pending := acceptAsync(l2)
	eventually(t, func() bool { return l2.Stats().FullWaits == 1 }, "the listener to wait for the global slot")
	require.Equal(t, 2, front.InUse(), "the waiting listener holds the frontend slot")
	require.NoError(t, l2.Close())
	r := <-pending
	require.ErrorIs(t, r.err, ErrClosed)
	require.Equal(t, 1, front.InUse())
	require.Zero(t, l2.slots.InUse())
	require.NoError(t, c.Close())
	require.Zero(t, front.InUse())
	require.Zero(t, global.InUse())
}

// A frontend with two bind lines and a process-wide cap: every listener
// takes its frontend's slot and the global one.
func ExampleSlots() {
	global, _ := NewSlots(1000) // global maxconn
	front, _ := NewSlots(2)     // the frontend's maxconn, over both binds
	var lns []*Listener
	for range 2 {
		l, err := ListenConfig{Slots: []*Slots{front, global}}.Listen(context.Background(), "tcp", "127.0.0.1:0")
		if err != nil {
			panic(err)
		}
		defer l.Close()
		lns = append(lns, l)
	}
	for _, l := range lns {
		c, _ := net.Dial("tcp", l.Addr().String())
		defer c.Close()
		a, _ := l.Accept()
		defer a.Close()
	}
	fmt.Println(front.InUse(), "of", front.Cap(), "frontend slots;", global.InUse(), "global")
	// Output: 2 of 2 frontend slots; 2 global
}

// An accept loop waiting on a quiet listener holds no shared slot: with
// one slot shared by two listeners, each with its own Accept running, a
// client of either is accepted while the other listener stays idle.
func TestSharedSlotsIdleListenerHoldsNone(t *testing.T) {
	testnet.LeakCheck(t)
	slots, err := NewSlots(1)
	require.NoError(t, err)
	busy := listen(t, ListenConfig{Slots: []*Slots{slots}})
	idle := listen(t, ListenConfig{Slots: []*Slots{slots}})

	idleAccept := acceptAsync(idle)
	// Give the idle loop time to reach its wait before the busy side runs.
	eventually(t, func() bool { return slots.InUse() == 0 }, "the idle listener to wait")
	for i := range 3 {
		client := dial(t, busy.Addr())
		var r acceptResult
		select {
		case r = <-acceptAsync(busy):
		case <-time.After(5 * time.Second):
			require.NoError(t, busy.Close())
			require.NoError(t, idle.Close())
			t.Fatalf("client %d of the busy listener not accepted: the idle one holds the shared slot", i)
		}
		require.NoError(t, r.err, "client %d", i)
		require.Equal(t, client.LocalAddr().String(), r.c.RemoteAddr().String())
		require.Equal(t, 1, slots.InUse())
		require.NoError(t, r.c.Close())
		require.Zero(t, slots.InUse())
	}

	// The idle listener still accepts its own client once one comes.
	client := dial(t, idle.Addr())
	r := <-idleAccept
	require.NoError(t, r.err)
	require.Equal(t, client.LocalAddr().String(), r.c.RemoteAddr().String())
	require.NoError(t, r.c.Close())

	// Pause wakes a waiting Accept, which then waits for Resume.
	paused := acceptAsync(idle)
	require.NoError(t, idle.Pause())
	late := dial(t, idle.Addr())
	select {
	case r := <-paused:
		t.Fatalf("accepted while paused: %v", r.err)
	case <-time.After(50 * time.Millisecond):
	}
	require.NoError(t, idle.Resume())
	r = <-paused
	require.NoError(t, r.err)
	require.Equal(t, late.LocalAddr().String(), r.c.RemoteAddr().String())
	require.NoError(t, r.c.Close())

	// Close wakes it too.
	closed := acceptAsync(idle)
	require.NoError(t, idle.Close())
	require.ErrorIs(t, (<-closed).err, ErrClosed)
}

// A listener alone on its shared slots accepts without waiting for a
// client first, so its Accept sits in accept(2) with the slot taken.
// When a second listener joins, that accept is woken and gives the slot
// back: the newcomer's client gets the only slot while the first listener
// stays idle, as in TestSharedSlotsIdleListenerHoldsNone.
func TestSharedSlotsJoinWakesLoneListener(t *testing.T) {
	testnet.LeakCheck(t)
	slots, err := NewSlots(1)
	require.NoError(t, err)
	first := listen(t, ListenConfig{Slots: []*Slots{slots}})
	firstAccept := acceptAsync(first)
	eventually(t, func() bool { return slots.InUse() == 1 }, "the lone listener to take its slot")

	second := listen(t, ListenConfig{Slots: []*Slots{slots}})
	eventually(t, func() bool { return slots.InUse() == 0 }, "the first listener to give its slot back")
	client := dial(t, second.Addr())
	select {
	case r := <-acceptAsync(second):
		require.NoError(t, r.err)
		require.Equal(t, client.LocalAddr().String(), r.c.RemoteAddr().String())
		require.NoError(t, r.c.Close())
	case <-time.After(5 * time.Second):
		require.NoError(t, first.Close())
		require.NoError(t, second.Close())
		t.Fatal("the second listener's client was not accepted: the first still holds the slot")
	}

	// The first listener accepts its own client, now after waiting for it.
	c1 := dial(t, first.Addr())
	r := <-firstAccept
	require.NoError(t, r.err)
	require.Equal(t, c1.LocalAddr().String(), r.c.RemoteAddr().String())
	require.NoError(t, r.c.Close())

	// Once the second has left, the first is alone again and takes its
	// slot before a client comes.
	require.NoError(t, second.Close())
	again := acceptAsync(first)
	eventually(t, func() bool { return slots.InUse() == 1 }, "the lone listener to take its slot again")
	c2 := dial(t, first.Addr())
	r = <-again
	require.NoError(t, r.err)
	require.Equal(t, c2.LocalAddr().String(), r.c.RemoteAddr().String())
	require.NoError(t, r.c.Close())
	require.NoError(t, first.Close())
}

// With more slots free than listeners share them, a listener takes its
// slot before a client comes and sits on it in accept(2). Once the slots
// run out, a listener that needs one wakes it: three slots shared by an
// idle listener and a busy one still let the busy one hold all three
// connections.
func TestSharedSlotsHolderWokenWhenFull(t *testing.T) {
	testnet.LeakCheck(t)
	slots, err := NewSlots(3)
	require.NoError(t, err)
	idle := listen(t, ListenConfig{Slots: []*Slots{slots}})
	busy := listen(t, ListenConfig{Slots: []*Slots{slots}})
	idleAccept := acceptAsync(idle)
	eventually(t, func() bool { return slots.InUse() == 1 }, "the idle listener to take a slot")

	var conns []*Conn
	for i := range 3 {
		client := dial(t, busy.Addr())
		select {
		case r := <-acceptAsync(busy):
			require.NoError(t, r.err, "client %d", i)
			require.Equal(t, client.LocalAddr().String(), r.c.RemoteAddr().String())
			conns = append(conns, r.c)
		case <-time.After(5 * time.Second):
			require.NoError(t, busy.Close())
			require.NoError(t, idle.Close())
			t.Fatalf("client %d of the busy listener not accepted: the idle one sits on a slot", i)
		}
	}
	require.Equal(t, 3, slots.InUse())

	// The idle listener waits for its own client, and a slot.
	c := dial(t, idle.Addr())
	require.NoError(t, conns[0].Close())
	r := <-idleAccept
	require.NoError(t, r.err)
	require.Equal(t, c.LocalAddr().String(), r.c.RemoteAddr().String())
	require.NoError(t, r.c.Close())
	for _, c := range conns[1:] {
		require.NoError(t, c.Close())
	}
	require.Zero(t, slots.InUse())
}

// SetCap changes the limit at run time: a larger one lets the listener
// waiting for a slot accept at once, a smaller one closes nothing and
// holds accepting until the connections alive fall below it.
func TestSlotsSetCap(t *testing.T) {
	testnet.LeakCheck(t)
	slots, err := NewSlots(1)
	require.NoError(t, err)
	require.Error(t, slots.SetCap(-1))
	require.Equal(t, 1, slots.Cap(), "a refused limit changes nothing")
	require.NoError(t, slots.SetCap(0))
	require.Zero(t, slots.Cap())
	require.NoError(t, slots.SetCap(1))
	l := listen(t, ListenConfig{Slots: []*Slots{slots}})
	dial(t, l.Addr())
	a, err := l.Accept()
	require.NoError(t, err)
	dial(t, l.Addr())
	pending := acceptAsync(l)
	eventually(t, func() bool { return l.Stats().FullWaits == 1 }, "the listener to wait for a slot")

	require.NoError(t, slots.SetCap(2))
	r := <-pending
	require.NoError(t, r.err, "accepted once the limit grew")
	require.Equal(t, 2, slots.InUse())

	require.NoError(t, slots.SetCap(1))
	require.Equal(t, 2, slots.InUse(), "a smaller limit closes nothing")
	dial(t, l.Addr())
	pending = acceptAsync(l)
	eventually(t, func() bool { return l.Stats().FullWaits == 2 }, "the listener to wait below the smaller limit")
	require.NoError(t, a.Close())
	select {
	case r := <-pending:
		t.Fatalf("accepted at the limit: %v", r.err)
	case <-time.After(50 * time.Millisecond):
	}
	require.NoError(t, r.c.Close())
	r = <-pending
	require.NoError(t, r.err, "accepted once below the limit")
	require.NoError(t, r.c.Close())
	require.Zero(t, slots.InUse())
}
