package freq_test

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/proxyblocks/proxyblocks/freq"
)

// manyProcs raises GOMAXPROCS far above the core count for the test, so
// that goroutines are preempted in the middle of rotations and reads.
func manyProcs(t *testing.T) {
	t.Helper()
	old := runtime.GOMAXPROCS(32)
	t.Cleanup(func() { runtime.GOMAXPROCS(old) })
}

// settleGoroutines fails the test if goroutines started by it outlive it.
func settleGoroutines(t *testing.T) {
	t.Helper()
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		n := runtime.NumGoroutine()
		for i := 0; i < 100 && n > before; i++ {
			time.Sleep(10 * time.Millisecond)
			n = runtime.NumGoroutine()
		}
		require.LessOrEqual(t, n, before, "goroutines left behind")
	})
}

// TestConcurrentAddsInOnePeriodSumExactly: N goroutines times M adds.
func TestConcurrentAddsInOnePeriodSumExactly(t *testing.T) {
	manyProcs(t)
	settleGoroutines(t)
	const n, m = 64, 2000
	clock := freq.NewFakeClock(1000)
	c := freq.NewCounter(clock)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			for range m {
				c.Add(1)
			}
		})
	}
	wg.Wait()
	require.Equal(t, uint32(n*m), c.Rate())
	_, curr, prev := c.Ctr().Snapshot()
	require.Equal(t, [2]uint32{n * m, 0}, [2]uint32{curr, prev})
}

// TestConcurrentAddsAcrossRotationsLoseNothing moves the clock one period
// at a time while writers add and readers read, and checks that every
// event lands in exactly one period: the sum of each finished period's
// count and the last period's count is N times M, whichever goroutine
// rotated and however late the writers' dates were.
func TestConcurrentAddsAcrossRotationsLoseNothing(t *testing.T) {
	manyProcs(t)
	settleGoroutines(t)
	const n, m, period = 32, 3000, 100
	clock := freq.NewFakeClock(0)
	var c freq.Ctr

	var writers, readers sync.WaitGroup
	var stop atomic.Bool
	for range n {
		writers.Go(func() {
			for i := range m {
				now := clock.NowMs()
				if i%3 == 0 {
					runtime.Gosched() // make some dates stale
				}
				c.Update(now, period, 1)
			}
		})
	}
	var badRead atomic.Uint32
	for range 4 {
		readers.Go(func() {
			for !stop.Load() {
				if r := c.Rate(clock.NowMs(), period); r > n*m {
					badRead.Store(r)
				}
				tick, _, _ := c.Snapshot()
				if tick&1 != 0 {
					badRead.Store(tick)
				}
			}
		})
	}

	// The clock moves 300 periods at most: 30 s, well inside LateWindow,
	// so a writer holding a stale date is always late, never wrapped.
	var finished uint64
	done := make(chan struct{})
	go func() { writers.Wait(); close(done) }()
	rotate := func() {
		clock.Advance(period)
		// Returns once this period's rotation, by whoever did it, is over.
		c.Update(clock.NowMs(), period, 0)
		tick, _, prev := c.Snapshot()
		require.Equal(t, clock.NowMs(), tick, "one rotation per period, none skipped")
		finished += uint64(prev)
	}
	for i := 0; i < 300; i++ {
		select {
		case <-done:
			i = 300
		default:
			rotate()
			runtime.Gosched()
		}
	}
	<-done
	rotate()
	stop.Store(true)
	readers.Wait()

	_, curr, _ := c.Snapshot()
	require.Zero(t, badRead.Load(), "a reader saw an impossible value")
	require.Equal(t, uint64(n*m), finished+uint64(curr))
}

func TestConcurrentSetAndReads(t *testing.T) {
	manyProcs(t)
	settleGoroutines(t)
	var c freq.Ctr
	var readers, setters sync.WaitGroup
	var stop atomic.Bool
	var torn atomic.Uint64
	// Every state written has an even tick and curr == prev == tick/2: a
	// reader seeing anything else saw a rotation in flight or a mix of two
	// states.
	for range 4 {
		readers.Go(func() {
			for range 50000 {
				tick, curr, prev := c.Snapshot()
				if tick&1 != 0 || curr != prev || curr != tick/2 {
					torn.Add(1)
				}
			}
		})
	}
	for s := range uint32(2) {
		setters.Go(func() {
			for i := s; !stop.Load(); i += 2 {
				c.Set(2*i, i, i)
			}
		})
	}
	readers.Wait()
	stop.Store(true)
	setters.Wait()
	require.Zero(t, torn.Load(), "snapshots mixed two states")
}

func TestConcurrentSlidingAvg(t *testing.T) {
	manyProcs(t)
	settleGoroutines(t)
	const n, m = 32, 1000
	// While the window is not full the sum is exact.
	a := freq.NewSlidingAvg(1 << 20)
	// With a constant sample the average never moves, full window or not.
	b := freq.NewSlidingAvg(64)
	var wg sync.WaitGroup
	for g := range n {
		wg.Go(func() {
			for i := range m {
				a.Add(uint64(g*m + i))
				b.Add(77)
				b.AddScaled(77, 3)
			}
		})
	}
	wg.Wait()
	total := uint64(n*m) * uint64(n*m-1) / 2
	require.Equal(t, total, a.Sum())
	require.Equal(t, (total+uint64(n*m)-1)/uint64(n*m), a.Avg())
	require.Equal(t, uint64(77), b.Avg())
	require.Equal(t, uint64(64*77), b.Sum())
}
