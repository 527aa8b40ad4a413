//go:build linux

package channel

import (
	"context"
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/proxyblocks/proxyblocks/internal/testnet"
)

// waitParked waits until n directions are parked in the shared poller.
func waitParked(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for Parked() != n {
		if time.Now().After(deadline) {
			t.Fatalf("parked directions: %d, want %d", Parked(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// settleGoroutines waits up to a second for the goroutine count to fall
// to most (exiting goroutines need a moment) and returns the last count.
func settleGoroutines(most int) int {
	var g int
	for range 200 {
		if g = runtime.NumGoroutine(); g <= most {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	return g
}

// startAsync starts a tunnel with Start and returns its result channel.
func startAsync(t *testing.T, ctx context.Context, f fixture, cfg TunnelConfig) <-chan Result {
	t.Helper()
	tun, err := NewTunnel(wrap(f.front, true), wrap(f.back, true), cfg)
	require.NoError(t, err)
	done := make(chan Result, 1)
	require.NoError(t, tun.Start(ctx, func(r Result) { done <- r }))
	require.ErrorIs(t, tun.Start(ctx, func(Result) {}), ErrRunning)
	return done
}

func waitResult(t *testing.T, done <-chan Result) Result {
	t.Helper()
	select {
	case r := <-done:
		return r
	case <-time.After(20 * time.Second):
		t.Fatal("tunnel did not end")
	}
	return Result{}
}

// An idle tunnel started with Start holds no goroutine: both directions
// wait in the shared poller, and bytes arriving on either side wake the
// direction that reads them, on the buffer and the splice paths.
func TestIdleTunnelParks(t *testing.T) {
	for _, mode := range []SpliceMode{SpliceNever, SpliceAlways} {
		t.Run(map[SpliceMode]string{SpliceNever: "buffer", SpliceAlways: "splice"}[mode], func(t *testing.T) {
			testnet.LeakCheck(t)
			pool, pipes := newPools(t, 0)
			f := newFixture(t)
			g0 := runtime.NumGoroutine()
			done := startAsync(t, context.Background(), f, TunnelConfig{
				Pool: pool, Pipes: pipes, SpliceRequest: mode, SpliceResponse: mode,
				ClientTimeout: time.Minute, ServerTimeout: time.Minute,
			})
			for round := range 3 {
				waitParked(t, 2)
				// Only the poller's goroutine is left, whatever the number of
				// parked tunnels.
				g := settleGoroutines(g0 + 1)
				require.LessOrEqual(t, g, g0+1, "round %d: goroutines while parked", round)
				require.Zero(t, pool.Stats().InUse)
				require.Zero(t, pipes.Stats().InUse)

				msg := []byte{'a' + byte(round), 'b', 'c'}
				_, err := f.client.Write(msg)
				require.NoError(t, err)
				got := make([]byte, len(msg))
				_, err = io.ReadFull(f.server, got)
				require.NoError(t, err)
				require.Equal(t, msg, got)
				_, err = f.server.Write(msg[:2])
				require.NoError(t, err)
				_, err = io.ReadFull(f.client, got[:2])
				require.NoError(t, err)
				require.Equal(t, msg[:2], got[:2])
			}
			require.NoError(t, f.client.CloseWrite())
			require.NoError(t, f.server.CloseWrite())
			r := waitResult(t, done)
			require.NoError(t, r.Err)
			require.Equal(t, "--", r.TermState())
			require.Equal(t, int64(9), r.Request.Out)
			require.Equal(t, int64(6), r.Response.Out)
			waitParked(t, 0)
		})
	}
}

// A parked direction still times out, is still canceled by its context,
// and still notices its socket closed underneath it.
func TestParkedDirectionEnds(t *testing.T) {
	old := sweepEvery
	sweepEvery = 20 * time.Millisecond
	t.Cleanup(func() { sweepEvery = old })
	tests := []struct {
		name  string
		cfg   TunnelConfig
		act   func(f fixture, cancel context.CancelFunc)
		state string
	}{
		{"client timeout", TunnelConfig{ClientTimeout: time.Second}, func(fixture, context.CancelFunc) {}, "cD"},
		{"server timeout", TunnelConfig{ServerTimeout: time.Second}, func(fixture, context.CancelFunc) {}, "sD"},
		{"canceled", TunnelConfig{}, func(_ fixture, cancel context.CancelFunc) { cancel() }, "KD"},
		{"closed underneath", TunnelConfig{}, func(f fixture, _ context.CancelFunc) { _ = f.front.Close() }, "CD"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			testnet.LeakCheck(t)
			f := newFixture(t)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := startAsync(t, ctx, f, tt.cfg)
			waitParked(t, 2)
			tt.act(f, cancel)
			r := waitResult(t, done)
			require.Error(t, r.Err)
			require.Equal(t, tt.state, r.TermState(), "%v", r.Err)
			waitParked(t, 0)
		})
	}
}

// Run parks the same way: only its own goroutine waits.
func TestRunParks(t *testing.T) {
	testnet.LeakCheck(t)
	f := newFixture(t)
	g0 := runtime.NumGoroutine()
	_, done := startTunnel(t, f, true, TunnelConfig{})
	waitParked(t, 2)
	g := settleGoroutines(g0 + 2)
	require.LessOrEqual(t, g, g0+2, "Run's goroutine and the poller's")
	require.NoError(t, f.client.CloseWrite())
	require.NoError(t, f.server.CloseWrite())
	r := wait(t, done)
	require.NoError(t, r.err)
}

// The poller's deadline heap hands directions back in the order their
// timeouts fall due, whatever was taken out of it meanwhile, and keeps
// each direction's index in step so that it can be taken out.
func TestParkDeadlineHeap(t *testing.T) {
	p := &poller{sweepAt: math.MaxInt64}
	rnd := rand.New(rand.NewPCG(1, 2))
	chans := make([]*Channel, 500)
	when := make(map[*Channel]int64)
	for i := range chans {
		chans[i] = &Channel{}
		when[chans[i]] = rnd.Int64N(1000)
		p.push(parkDue{when: when[chans[i]], c: chans[i]})
	}
	check := func() {
		for i, d := range p.due {
			require.Equal(t, int32(i+1), *d.c.heapIdx(), "index of entry %d", i)
			if i > 0 {
				require.LessOrEqual(t, p.due[(i-1)/2].when, d.when, "heap order at %d", i)
			}
		}
	}
	check()
	removed := 0
	for i, c := range chans {
		if i%3 == 0 {
			p.remove(int(*c.heapIdx()) - 1)
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
		c := pc.(*Channel)
		require.Zero(t, c.pidx)
		require.NotEqual(t, 0, slices.Index(chans, c)%3, "a removed direction came back")
		if i > 0 {
			require.LessOrEqual(t, when[all[i-1].(*Channel)], when[c], "order at %d", i)
		}
		require.Equal(t, i < len(due), when[c] <= 499, "due at 499: %d", when[c])
	}
	// Deadlines come back in order.
	p2 := &poller{sweepAt: math.MaxInt64}
	for i := range 200 {
		p2.push(parkDue{when: int64(200 - i), c: &Channel{}})
	}
	for now := int64(1); now <= 200; now++ {
		got, _ := p2.expired(now, nil)
		require.Len(t, got, 1, "at %d", now)
	}
}

// Tunnels sharing a context share one cancellation watch: canceling it
// ends every one of them with its cause, a tunnel started on it after it
// was canceled ends at once, a tunnel on another context lives on, and
// no group is left behind once the tunnels ended.
func TestSharedContextCancel(t *testing.T) {
	testnet.LeakCheck(t)
	base, cancel := context.WithCancelCause(context.Background())
	other, cancelOther := context.WithCancel(context.Background())
	defer cancelOther()
	type key struct{}
	cause := errors.New("shutting down")
	var dones []<-chan Result
	for i := range 4 {
		ctx := base
		if i%2 == 1 {
			ctx = context.WithValue(base, key{}, i) // same Done channel
		}
		dones = append(dones, startAsync(t, ctx, newFixture(t), TunnelConfig{}))
	}
	f := newFixture(t)
	survivor := startAsync(t, other, f, TunnelConfig{})
	cancel(cause)
	for _, done := range dones {
		r := waitResult(t, done)
		require.Equal(t, "KD", r.TermState())
		require.ErrorIs(t, r.Err, cause)
	}
	late := waitResult(t, startAsync(t, base, newFixture(t), TunnelConfig{}))
	require.Equal(t, "KD", late.TermState())
	require.ErrorIs(t, late.Err, cause)

	_, err := f.client.Write([]byte("ping"))
	require.NoError(t, err)
	got := make([]byte, 4)
	_, err = io.ReadFull(f.server, got)
	require.NoError(t, err)
	require.Equal(t, "ping", string(got))
	require.NoError(t, f.client.CloseWrite())
	require.NoError(t, f.server.CloseWrite())
	r := waitResult(t, survivor)
	require.NoError(t, r.Err)

	cancels.mu.Lock()
	left := len(cancels.groups)
	cancels.mu.Unlock()
	require.Zero(t, left, "cancellation groups left")
}

// A token names one registration: once its channel left, an event still
// carrying it wakes neither that channel nor the one now in its slot.
func TestParkTokenNamesOneRegistration(t *testing.T) {
	testnet.LeakCheck(t)
	c1, c2 := &Channel{}, &Channel{}
	_, tok1, err := register(c1, 0)
	require.NoError(t, err)
	parkers.mu.Lock()
	require.Same(t, c1, lookup(tok1))
	parkers.mu.Unlock()
	_, tok2, err := register(c2, 0)
	require.NoError(t, err)
	unregister(c1, tok1)
	c3 := &Channel{}
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
