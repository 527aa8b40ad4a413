package balancer

import (
	"runtime"
	"sync"
	"testing"
	"time"
	"weak"

	"github.com/stretchr/testify/require"

	"github.com/proxyblocks/proxyblocks/internal/testnet"
)

// A goroutine that finished its work runs the next, and after a burst at
// most maxIdleWorkers goroutines stay; Close ends them.
func TestWorkersReuseAndBound(t *testing.T) {
	check := testnet.Snapshot(t)
	b, _ := startLB(t, parseCfg(t, `
listen px
    mode tcp
    bind 127.0.0.1:0
    server s 127.0.0.1:1
`))
	idleWorkers := func() int32 { return b.workers.idle.Load() }
	// Functions spawned one after the other, each once the last has
	// returned, run on the goroutines of those before them: a handful at
	// most (a spawn can come while a finished worker is not yet waiting),
	// where a goroutine each would make them all distinct.
	const serial = 20
	ran := make(chan string)
	ids := map[string]bool{}
	for range serial {
		b.spawn(func() { ran <- testnet.GoroutineID() })
		ids[<-ran] = true
		require.Eventually(t, func() bool { return idleWorkers() >= 1 }, 10*time.Second, time.Millisecond)
	}
	require.Less(t, len(ids), serial/2, "goroutines for %d functions run one after the other", serial)

	// A burst of blocked functions takes a goroutine each; once they
	// return, only maxIdleWorkers of them wait for more.
	const burst = 3 * maxIdleWorkers
	g0 := runtime.NumGoroutine()
	var started sync.WaitGroup
	release := make(chan struct{})
	// On a failure below, the blocked functions must still return, or
	// Close would wait for them.
	free := sync.OnceFunc(func() { close(release) })
	t.Cleanup(free)
	started.Add(burst)
	for range burst {
		b.spawn(func() { started.Done(); <-release })
	}
	// All of them run at once, each on a goroutine of its own.
	started.Wait()
	free()
	require.Eventually(t, func() bool { return idleWorkers() == maxIdleWorkers }, 10*time.Second, time.Millisecond)
	// g0 counted the first worker; Eventually runs the condition on a
	// goroutine of its own. Had every worker stayed, burst-1 more would.
	require.Eventually(t, func() bool { return runtime.NumGoroutine() <= g0-1+maxIdleWorkers+1 }, 10*time.Second, time.Millisecond)

	require.NoError(t, b.Close())
	require.Zero(t, idleWorkers())
	check()
}

// A worker waiting for its next function keeps nothing of the last one:
// what that function held can be collected.
func TestWorkerKeepsNothing(t *testing.T) {
	b, _ := startLB(t, parseCfg(t, `
listen px
    mode tcp
    bind 127.0.0.1:0
    server s 127.0.0.1:1
`))
	held := new([1024]byte)
	wp := weak.Make(held)
	ran := make(chan struct{})
	b.spawn(func() { held[0] = 1; close(ran) })
	<-ran
	held = nil
	require.Eventually(t, func() bool { return b.workers.idle.Load() == 1 }, 10*time.Second, time.Millisecond)
	require.Eventually(t, func() bool { runtime.GC(); return wp.Value() == nil }, 10*time.Second, 10*time.Millisecond,
		"what the last function held is still reachable from the idle worker")
}

// Stream workers wait for the rest of a burst of HTTP/2 streams, more of
// them than session workers, and the trimmer sends those beyond
// streamWorkersKeep away once its period passed; Close ends the rest.
func TestStreamWorkersKeptThenDismissed(t *testing.T) {
	check := testnet.Snapshot(t)
	defer func(d time.Duration) { trimEvery = d }(trimEvery)
	trimEvery = 50 * time.Millisecond
	b, _ := startLB(t, parseCfg(t, `
listen px
    mode tcp
    bind 127.0.0.1:0
    server s 127.0.0.1:1
`))
	idle := func() int32 { return b.streamWorkers.idle.Load() }
	const burst = 5 * streamWorkersKeep
	var started sync.WaitGroup
	release := make(chan struct{})
	free := sync.OnceFunc(func() { close(release) })
	t.Cleanup(free)
	started.Add(burst)
	for range burst {
		b.spawnStream(func() { started.Done(); <-release })
	}
	started.Wait()
	free()
	// Each finished worker waits, or leaves at once when the trimmer has
	// just passed: the count climbs above the session workers' bound,
	// then comes down to what the trimmer keeps.
	require.Eventually(t, func() bool { return idle() > maxIdleWorkers }, 10*time.Second, time.Millisecond)
	require.Eventually(t, func() bool { return idle() == streamWorkersKeep }, 10*time.Second, time.Millisecond)
	require.Zero(t, b.workers.idle.Load(), "session workers are apart")

	require.NoError(t, b.Close())
	require.Zero(t, idle())
	check()
}
