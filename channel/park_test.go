//go:build linux

package channel

import (
	"context"
	"errors"
	"io"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/proxyblocks/proxyblocks/internal/idlesweep"
	"github.com/proxyblocks/proxyblocks/internal/testnet"
	"github.com/proxyblocks/proxyblocks/xprt"
)

// waitParked waits until n directions are parked in the shared poller.
func waitParked(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for xprt.Parked() != n {
		if time.Now().After(deadline) {
			t.Fatalf("parked directions: %d, want %d", xprt.Parked(), n)
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

				msg := string([]byte{'a' + byte(round), 'b', 'c'})
				relay(t, f.client, f.server, msg)
				relay(t, f.server, f.client, msg[:2])
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
// and still notices its socket closed underneath it (through the idle
// poller's sweep, made quick here).
func TestParkedDirectionEnds(t *testing.T) {
	t.Cleanup(idlesweep.Set(20 * time.Millisecond))
	tests := []struct {
		name  string
		cfg   TunnelConfig
		act   func(f fixture, cancel context.CancelFunc)
		state string
	}{
		// A timeout half-closes: the other peer reads its end of stream,
		// then closes in turn.
		{"client timeout", TunnelConfig{ClientTimeout: time.Second}, func(f fixture, _ context.CancelFunc) {
			_, _ = io.Copy(io.Discard, f.server)
			_ = f.server.CloseWrite()
		}, "cD"},
		{"server timeout", TunnelConfig{ServerTimeout: time.Second}, func(f fixture, _ context.CancelFunc) {
			_, _ = io.Copy(io.Discard, f.client)
			_ = f.client.CloseWrite()
		}, "sD"},
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

	relay(t, f.client, f.server, "ping")
	require.NoError(t, f.client.CloseWrite())
	require.NoError(t, f.server.CloseWrite())
	r := waitResult(t, survivor)
	require.NoError(t, r.Err)

	cancels.mu.Lock()
	left := len(cancels.groups)
	cancels.mu.Unlock()
	require.Zero(t, left, "cancellation groups left")
}

// Drive runs the request direction on the caller's goroutine: the
// request's analyser runs there, and Drive returns once the direction
// parks, with the tunnel still open. Bytes then flow both ways through
// the woken directions, and done reports the end.
func TestDriveRunsRequestOnCaller(t *testing.T) {
	testnet.LeakCheck(t)
	pool, pipes := newPools(t, 0)
	f := newFixture(t)
	ran := make(chan string, 8)
	seen := func(c *Channel) (Verdict, error) {
		ran <- testnet.GoroutineID()
		c.Forward(Infinite)
		return Done, nil
	}
	tun, err := NewTunnel(wrap(f.front, true), wrap(f.back, true), TunnelConfig{
		Pool: pool, Pipes: pipes, RequestAnalysers: []Analyser{seen},
		ClientTimeout: time.Minute, ServerTimeout: time.Minute,
	})
	require.NoError(t, err)
	_, err = f.client.Write([]byte("hello"))
	require.NoError(t, err)
	done := make(chan Result, 1)
	require.NoError(t, tun.Drive(context.Background(), func(r Result) { done <- r }))
	require.Equal(t, testnet.GoroutineID(), <-ran, "the request analyser ran on Drive's caller")
	expect(t, f.server, "hello")
	select {
	case r := <-done:
		t.Fatalf("the tunnel ended while idle: %+v", r)
	default:
	}
	waitParked(t, 2)
	require.ErrorIs(t, tun.Drive(context.Background(), func(Result) {}), ErrRunning)
	require.ErrorContains(t, new(Tunnel).Drive(context.Background(), nil), "done function")

	relay(t, f.server, f.client, "world")
	relay(t, f.client, f.server, "again")
	require.NoError(t, f.client.CloseWrite())
	require.NoError(t, f.server.CloseWrite())
	r := waitResult(t, done)
	require.NoError(t, r.Err)
	require.Equal(t, "--", r.TermState())
	require.Equal(t, int64(10), r.Request.Out)
	require.Equal(t, int64(5), r.Response.Out)
	waitParked(t, 0)
}

// TunnelConfig.Go starts the directions that do not run on the caller:
// both with Start, the response direction with Drive.
func TestTunnelGo(t *testing.T) {
	for _, drive := range []bool{false, true} {
		t.Run(map[bool]string{false: "Start", true: "Drive"}[drive], func(t *testing.T) {
			testnet.LeakCheck(t)
			pool, pipes := newPools(t, 0)
			f := newFixture(t)
			var spawned atomic.Int32
			tun, err := NewTunnel(wrap(f.front, true), wrap(f.back, true), TunnelConfig{
				Pool: pool, Pipes: pipes,
				Go: func(fn func()) { spawned.Add(1); go fn() },
			})
			require.NoError(t, err)
			done := make(chan Result, 1)
			_, err = f.client.Write([]byte("ping"))
			require.NoError(t, err)
			_, err = f.server.Write([]byte("pong"))
			require.NoError(t, err)
			start := tun.Start
			if drive {
				start = tun.Drive
			}
			require.NoError(t, start(context.Background(), func(r Result) { done <- r }))
			expect(t, f.server, "ping")
			expect(t, f.client, "pong")
			require.NoError(t, f.client.CloseWrite())
			require.NoError(t, f.server.CloseWrite())
			r := waitResult(t, done)
			require.NoError(t, r.Err)
			want := int32(2)
			if drive {
				want = 1
			}
			require.Equal(t, want, spawned.Load())
		})
	}
}
