package balancer

import (
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/proxyblocks/proxyblocks/internal/testnet"
)

// A goroutine that finished its work runs the next: spawned one after
// the other, two functions run on the same goroutine. After a burst, at
// most maxIdleWorkers goroutines stay, and Close ends them.
func TestWorkersReuseAndBound(t *testing.T) {
	check := testnet.Snapshot(t)
	b, _ := startLB(t, parseCfg(t, `
listen px
    mode tcp
    bind 127.0.0.1:0
    server s 127.0.0.1:1
`))
	idleWorkers := func() int32 { return b.workers.idle.Load() }
	ran := make(chan string)
	b.spawn(func() { ran <- testnet.GoroutineID() })
	first := <-ran
	require.Eventually(t, func() bool { return idleWorkers() == 1 }, 10*time.Second, time.Millisecond)
	b.spawn(func() { ran <- testnet.GoroutineID() })
	require.Equal(t, first, <-ran, "the second function ran on the first one's goroutine")

	// A burst of blocked functions takes a goroutine each; once they
	// return, only maxIdleWorkers of them wait for more.
	const burst = 3 * maxIdleWorkers
	g0 := runtime.NumGoroutine()
	var started, release sync.WaitGroup
	release.Add(1)
	started.Add(burst)
	for range burst {
		b.spawn(func() { started.Done(); release.Wait() })
	}
	started.Wait()
	require.GreaterOrEqual(t, runtime.NumGoroutine(), g0+burst-1)
	release.Done()
	require.Eventually(t, func() bool { return idleWorkers() == maxIdleWorkers }, 10*time.Second, time.Millisecond)
	// g0 counted the first worker; Eventually runs the condition on a
	// goroutine of its own. Had every worker stayed, burst-1 more would.
	require.Eventually(t, func() bool { return runtime.NumGoroutine() <= g0-1+maxIdleWorkers+1 }, 10*time.Second, time.Millisecond)

	require.NoError(t, b.Close())
	require.Zero(t, idleWorkers())
	check()
}
