package freq_test

import (
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/proxyblocks/proxyblocks/freq"
)

// busy reads c until it serves cached dates, and fails the test if a
// million reads in a row do not get it there.
func busy(t *testing.T, c *freq.CachedClock) {
	t.Helper()
	for range 1_000_000 {
		c.NowMs()
		if c.Cached() {
			return
		}
	}
	t.Fatal("a million reads in a row did not start the cache")
}

// checkedRead reads c and checks the date against the system clock read
// just before and just after: never later than the second, and (when
// exact) never earlier than the first.
func checkedRead(t *testing.T, c *freq.CachedClock, exact bool) uint32 {
	t.Helper()
	before := freq.SystemClock.NowMs()
	v := c.NowMs()
	after := freq.SystemClock.NowMs()
	require.GreaterOrEqual(t, int32(after-v), int32(0), "date %d ahead of the system clock %d", v, after)
	if exact {
		require.GreaterOrEqual(t, int32(v-before), int32(0), "date %d behind the system clock %d", v, before)
	}
	return v
}

func TestCachedClockReadsSeldomAreExact(t *testing.T) {
	var c freq.CachedClock // the zero value is ready
	for range 5 {
		time.Sleep(2 * time.Millisecond) // each read in a millisecond of its own
		checkedRead(t, &c, true)
		require.False(t, c.Cached(), "seldom reads started the cache")
	}
	require.NoError(t, c.Close())
}

func TestCachedClockCachesWhileBusyAndStopsWhenIdle(t *testing.T) {
	settleGoroutines(t)
	g0 := runtime.NumGoroutine()
	c := freq.NewCachedClock()
	busy(t, c)
	require.Greater(t, runtime.NumGoroutine(), g0, "the refresher runs")

	// While read, the cached date keeps moving and never goes back.
	first := checkedRead(t, c, false)
	prev := first
	deadline := time.Now().Add(10 * time.Second)
	for prev-first < 5 && time.Now().Before(deadline) {
		v := checkedRead(t, c, false)
		require.GreaterOrEqual(t, int32(v-prev), int32(0), "date went back from %d to %d", prev, v)
		prev = v
	}
	require.GreaterOrEqual(t, prev-first, uint32(5), "the cached date did not move")
	require.True(t, c.Cached(), "the cache stopped while read")

	// Unread, it stops on its own.
	// (A plain loop: Eventually runs its condition in a goroutine.)
	for i := 0; i < 2000 && (c.Cached() || runtime.NumGoroutine() > g0); i++ {
		time.Sleep(5 * time.Millisecond)
	}
	require.False(t, c.Cached(), "the cache outlived its readers")
	require.LessOrEqual(t, runtime.NumGoroutine(), g0, "the refresher outlived its readers")
	checkedRead(t, c, true)

	// And starts again on the next busy spell.
	busy(t, c)
	require.NoError(t, c.Close())
}

func TestCachedClockClose(t *testing.T) {
	settleGoroutines(t)
	fds := openFDs(t)
	c := freq.NewCachedClock()
	busy(t, c)
	require.NoError(t, c.Close())
	require.NoError(t, c.Close(), "second Close")
	require.False(t, c.Cached())
	// A closed clock reads the system clock, however often it is read.
	for range 10_000 {
		checkedRead(t, c, true)
	}
	require.False(t, c.Cached(), "a closed clock started its cache again")
	require.LessOrEqual(t, openFDs(t), fds, "file descriptors left behind")
}

// Readers in bursts with pauses drive the refresher through starts, looks
// and stops while others read; each reader's dates never go back and
// are never ahead of the system clock.
func TestCachedClockConcurrentReaders(t *testing.T) {
	manyProcs(t)
	settleGoroutines(t)
	c := freq.NewCachedClock()
	var wg sync.WaitGroup
	errs := make(chan string, 16)
	for r := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var prev uint32
			for round := range 6 {
				for range 20_000 {
					v := c.NowMs()
					if after := freq.SystemClock.NowMs(); int32(after-v) < 0 {
						errs <- "date ahead of the system clock"
						return
					}
					if prev != 0 && int32(v-prev) < 0 {
						errs <- "date went back"
						return
					}
					prev = v
				}
				time.Sleep(time.Duration((r+round)%4) * 50 * time.Millisecond)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	require.NoError(t, c.Close())
}
