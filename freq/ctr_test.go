package freq_test

import (
	"math"
	"os"
	"runtime"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/require"

	"github.com/proxyblocks/proxyblocks/freq"
)

func TestCtrIsTwelveBytesAndZeroReady(t *testing.T) {
	require.Equal(t, uintptr(12), unsafe.Sizeof(freq.Ctr{}))
	var c freq.Ctr
	require.Zero(t, c.Rate(123456, 1000))
	require.Equal(t, uint32(1), c.Update(123456, 1000, 1))
	tick, curr, prev := c.Snapshot()
	require.Equal(t, [3]uint32{123456, 1, 0}, [3]uint32{tick, curr, prev})
}

func snap(c *freq.Ctr) [3]uint32 {
	tick, curr, prev := c.Snapshot()
	return [3]uint32{tick, curr, prev}
}

func TestCtrUpdateRotation(t *testing.T) {
	type step struct {
		now, inc uint32
		ret      uint32    // Update's return
		state    [3]uint32 // tick, curr, prev afterwards
	}
	tests := []struct {
		name   string
		period uint32
		start  [3]uint32 // Set(now, curr, prev) before the steps
		steps  []step
	}{
		{"within the period adds", 1000, [3]uint32{0, 0, 0}, []step{
			{0, 3, 3, [3]uint32{0, 3, 0}},
			{999, 2, 5, [3]uint32{0, 5, 0}},
		}},
		{"boundary rotates, pending inc starts the new period", 1000, [3]uint32{0, 5, 9}, []step{
			{1000, 2, 2, [3]uint32{1000, 2, 5}},
			{1999, 1, 3, [3]uint32{1000, 3, 5}},
		}},
		{"late in the next period keeps the grid", 1000, [3]uint32{0, 5, 9}, []step{
			{1999, 1, 1, [3]uint32{1000, 1, 5}},
		}},
		{"two periods idle zeroes prev and restarts at now", 1000, [3]uint32{0, 5, 9}, []step{
			{2000, 4, 4, [3]uint32{2000, 4, 0}},
		}},
		{"long idle, odd date rounds down to even", 1000, [3]uint32{0, 5, 9}, []step{
			{123457, 1, 1, [3]uint32{123456, 1, 0}},
			{124455, 1, 2, [3]uint32{123456, 2, 0}},
			{124456, 1, 1, [3]uint32{124456, 1, 2}},
		}},
		{"odd period keeps the start even", 999, [3]uint32{0, 5, 0}, []step{
			{999, 1, 1, [3]uint32{998, 1, 5}},
			{1997, 1, 1, [3]uint32{1996, 1, 1}},
		}},
		{"writer behind a rotation adds without rotating again", 1000, [3]uint32{0, 5, 0}, []step{
			{1000, 1, 1, [3]uint32{1000, 1, 5}},
			{999, 1, 2, [3]uint32{1000, 2, 5}},
			{1, 1, 3, [3]uint32{1000, 3, 5}},
		}},
		{"writer after a skip rotation by a later clock", 1000, [3]uint32{0, 5, 0}, []step{
			{5000, 1, 1, [3]uint32{5000, 1, 0}},
			{4999, 1, 2, [3]uint32{5000, 2, 0}},
		}},
		{"a late date within the window counts, further back is after the wrap", 1000, [3]uint32{100000, 5, 2}, []step{
			{100000 - freq.LateWindow, 1, 6, [3]uint32{100000, 6, 2}},
			{100000 - freq.LateWindow - 1, 1, 1, [3]uint32{100000 - freq.LateWindow - 2, 1, 0}},
		}},
		{"clock wraps around 2^32", 1000, [3]uint32{math.MaxUint32 - 499, 7, 0}, []step{
			{math.MaxUint32, 1, 8, [3]uint32{math.MaxUint32 - 501 + 2, 8, 0}},
			{499, 1, 9, [3]uint32{math.MaxUint32 - 499, 9, 0}},
			{500, 1, 1, [3]uint32{500, 1, 9}},
		}},
		{"period below the minimum is the minimum", 0, [3]uint32{0, 0, 0}, []step{
			{0, 1, 1, [3]uint32{0, 1, 0}},
			{1, 1, 2, [3]uint32{0, 2, 0}},
			{2, 1, 1, [3]uint32{2, 1, 2}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c freq.Ctr
			c.Set(tt.start[0], tt.start[1], tt.start[2])
			for i, s := range tt.steps {
				require.Equal(t, s.ret, c.Update(s.now, tt.period, s.inc), "step %d return", i)
				require.Equal(t, s.state, snap(&c), "step %d state", i)
			}
		})
	}
}

func TestCtrReads(t *testing.T) {
	type read struct {
		now                  uint32
		rate                 uint32
		limit, pend          uint32
		remaining, nextDelay uint32
	}
	tests := []struct {
		name       string
		period     uint32
		tick       uint32
		curr, prev uint32
		reads      []read
	}{
		{"interpolation", 1000, 1000, 200, 600, []read{
			{1000, 800, 1000, 0, 200, 0},
			{1300, 620, 1000, 0, 380, 0},
			{1300, 620, 500, 0, 0, 240},
			{1300, 620, 620, 0, 0, 1},    // exactly at the limit: minimum wait
			{1300, 620, 621, 0, 1, 0},    // one left
			{1300, 620, 621, 1, 0, 1},    // the pending event takes it
			{1999, 200, 201, 0, 1, 0},    // previous period nearly gone
			{2000, 200, 200, 0, 0, 1},    // end of the period: remain 0
			{2300, 140, 1000, 0, 860, 0}, // over but not rotated: curr is the past
			{2999, 0, 1000, 0, 1000, 0},  // 200*1/1000 rounds to 0
			{3000, 0, 10, 0, 10, 0},      // two periods gone
			{3001, 0, 0, 0, 0, 1},        // a limit of 0 allows nothing
			{5000, 0, 1, 3, 0, 2000 * 1}, // pend only: (3-1)*1000/1
		}},
		{"anti-flapping for rates of 0 and 1", 1000, 0, 0, 1, []read{
			{1, 1, 1, 0, 1, 0},   // the rate rule does not apply to limits
			{999, 1, 1, 0, 1, 0}, // 1*1/1000 would read 0
			{1000, 1, 1, 0, 1, 0},
		}},
		{"no flapping rule once the current period has events", 1000, 0, 1, 1, []read{
			{500, 1, 2, 0, 1, 0}, // 1 + 1*500/1000 = 1.5
		}},
		{"reader a millisecond behind the writer's rotation", 1000, 1000, 10, 600, []read{
			{999, 610, 1000, 0, 390, 0}, // as at the start of the period, not 610.6
			{1000, 610, 1000, 0, 390, 0},
		}},
		{"ten-second period", 10000, 0, 3, 0, []read{
			{0, 3, 3, 0, 0, 1},
			{9999, 3, 3, 0, 0, 1},
			{10001, 2, 3, 0, 1, 0}, // 3*9999/10000
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c freq.Ctr
			c.Set(tt.tick, tt.curr, tt.prev)
			for i, r := range tt.reads {
				require.Equal(t, r.rate, c.Rate(r.now, tt.period), "read %d rate", i)
				require.Equal(t, r.remaining, c.Remaining(r.now, tt.period, r.limit, r.pend), "read %d remaining", i)
				require.Equal(t, r.nextDelay, c.NextEventDelay(r.now, tt.period, r.limit, r.pend), "read %d delay", i)
			}
			require.Equal(t, [3]uint32{tt.tick, tt.curr, tt.prev}, snap(&c), "reads changed the state")
		})
	}
}

func TestCtrTotalKeepsPrecision(t *testing.T) {
	var c freq.Ctr
	c.Set(1000, 200, 600)
	require.Equal(t, uint64(600*700+200*1000), c.Total(1300, 1000, 0))
	require.Equal(t, uint64(600*700+201*1000), c.Total(1300, 1000, 1))
}

func TestCtrOvershoot(t *testing.T) {
	tests := []struct {
		name             string
		tick, curr       uint32
		now, limit, want uint32
	}{
		{"empty counter", 0, 0, 500, 10, 0},
		{"ahead of a linear schedule", 1000, 80, 1250, 100, 55},
		{"on schedule", 1000, 25, 1250, 100, 0},
		{"behind schedule", 1000, 10, 1250, 100, 0},
		{"period over", 1000, 80, 2001, 100, 0},
		{"date before the period", 1000, 80, 999, 100, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c freq.Ctr
			c.Set(tt.tick, tt.curr, 0)
			require.Equal(t, tt.want, c.Overshoot(tt.now, 1000, tt.limit))
		})
	}
}

func TestCtrBadInputDoesNotPanic(t *testing.T) {
	periods := []uint32{0, 1, 2, 3, freq.MaxPeriod, freq.MaxPeriod + 1, math.MaxUint32}
	values := []uint32{0, 1, 1000, math.MaxUint32}
	for _, p := range periods {
		for _, v := range values {
			var c freq.Ctr
			c.Set(0, v, v)
			require.NotPanics(t, func() {
				for _, now := range values {
					c.Rate(now, p)
					c.Remaining(now, p, v, v)
					c.NextEventDelay(now, p, v, v)
					c.Overshoot(now, p, v)
					c.Total(now, p, v)
					c.Update(now, p, v)
				}
			}, "period %d value %d", p, v)
		}
	}
	// Saturation rather than wrapping on huge counts.
	var c freq.Ctr
	c.Set(0, math.MaxUint32, math.MaxUint32)
	require.Equal(t, uint32(math.MaxUint32), c.Rate(0, 1000))
	require.Zero(t, c.Remaining(0, 1000, 5, math.MaxUint32))
	require.Equal(t, uint32(math.MaxUint32), c.NextEventDelay(0, 1000, 1, math.MaxUint32))
}

func TestSetRestores(t *testing.T) {
	var c freq.Ctr
	c.Update(10, 1000, 5)
	c.Set(20001, 7, 3) // odd date rounds down
	require.Equal(t, [3]uint32{20000, 7, 3}, snap(&c))
	require.Equal(t, uint32(8), c.Update(20999, 1000, 1))
}

func TestCounterAndPeriod(t *testing.T) {
	clock := freq.NewFakeClock(1 << 20)
	c := freq.NewCounter(clock)
	p := freq.NewPeriod(clock, 60_000)
	require.Equal(t, uint32(60_000), p.PeriodMs())
	require.Equal(t, uint32(freq.MinPeriod), freq.NewPeriod(clock, 0).PeriodMs())
	require.Equal(t, uint32(freq.MaxPeriod), freq.NewPeriod(clock, math.MaxUint32).PeriodMs())

	for range 10 {
		c.Add(1)
		p.Add(1)
	}
	require.Equal(t, uint32(10), c.Rate())
	require.Equal(t, uint32(10), p.Rate())
	require.Equal(t, uint32(5), c.Remaining(15))
	require.Equal(t, uint32(5), p.Remaining(15))
	require.Zero(t, c.NextEventDelay(11))
	// (10-5)*1000/5 ms over the limit.
	require.Equal(t, time.Second, c.NextEventDelay(5))
	require.Equal(t, 60*time.Second, p.NextEventDelay(5))

	clock.Advance(1500) // half of the first second still weighs
	require.Equal(t, uint32(5), c.Rate())
	require.Equal(t, uint32(10), p.Rate())
	clock.Advance(500)
	require.Zero(t, c.Rate())

	require.True(t, c.Allow(1))
	require.False(t, c.Allow(1))
	require.Equal(t, uint32(1), c.Ctr().Rate(clock.NowMs(), 1000))
	require.Equal(t, uint32(10), p.Ctr().Rate(clock.NowMs(), 60_000))
}

func TestNilClockIsSystemClock(t *testing.T) {
	c := freq.NewCounter(nil)
	p := freq.NewPeriod(nil, 1000)
	require.Equal(t, uint32(3), c.Add(3))
	require.Equal(t, uint32(3), p.Add(3))
	// The system clock does not leap a second between two lines.
	require.Equal(t, uint32(3), c.Rate())
	require.Equal(t, uint32(3), p.Rate())
}

func TestClocks(t *testing.T) {
	fc := freq.NewFakeClock(math.MaxUint32 - 1)
	fc.Advance(3)
	require.Equal(t, uint32(1), fc.NowMs())
	fc.Set(42)
	require.Equal(t, uint32(42), fc.NowMs())

	a := freq.SystemClock.NowMs()
	time.Sleep(20 * time.Millisecond)
	b := freq.SystemClock.NowMs()
	require.GreaterOrEqual(t, b-a, uint32(20), "system clock must move with time")
	require.Less(t, b-a, uint32(1<<31), "system clock must not go backwards")
}

func TestHotPathsDoNotAllocate(t *testing.T) {
	clock := freq.NewFakeClock(0)
	c := freq.NewCounter(clock)
	s := freq.NewCounter(nil)
	p := freq.NewPeriod(clock, 250)
	a := freq.NewSlidingAvg(512)
	var r freq.Ctr
	now := uint32(0)
	allocs := testing.AllocsPerRun(1000, func() {
		now += 7
		clock.Advance(7)
		r.Update(now, 1000, 1)
		r.Rate(now, 1000)
		r.Remaining(now, 1000, 10, 0)
		r.NextEventDelay(now, 1000, 10, 0)
		r.Snapshot()
		c.Add(1)
		c.Rate()
		c.Remaining(10)
		c.NextEventDelay(10)
		c.Allow(10)
		s.Add(1)
		s.Rate()
		p.Add(1)
		p.Rate()
		p.Allow(10)
		a.Add(uint64(now))
		a.Avg()
	})
	require.Zero(t, allocs)
}

func openFDs(t *testing.T) int {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("cannot count open files: %v", err)
	}
	return len(entries)
}

func TestCoarseClock(t *testing.T) {
	before := runtime.NumGoroutine()
	fdsBefore := openFDs(t)
	c := freq.NewCoarseClock(0) // raised to 1 ms
	a := c.NowMs()
	require.InDelta(t, float64(freq.SystemClock.NowMs()), float64(a), 5, "starts at the system date")
	require.Eventually(t, func() bool { return c.NowMs()-a >= 5 }, 5*time.Second, time.Millisecond, "refreshes")
	ctr := freq.NewCounter(c)
	require.Equal(t, uint32(2), ctr.Add(2))
	require.NoError(t, c.Close())
	require.NoError(t, c.Close(), "second Close")
	stopped := c.NowMs()
	time.Sleep(5 * time.Millisecond)
	require.Equal(t, stopped, c.NowMs(), "a closed clock stays put")
	n := runtime.NumGoroutine()
	for i := 0; i < 100 && n > before; i++ {
		time.Sleep(10 * time.Millisecond)
		n = runtime.NumGoroutine()
	}
	require.LessOrEqual(t, n, before, "refresh goroutine left behind")
	require.LessOrEqual(t, openFDs(t), fdsBefore, "file descriptors left behind")
}

func TestRateFloat(t *testing.T) {
	var c freq.Ctr
	c.Set(1000, 200, 601)
	require.InDelta(t, 200+601*0.7, c.RateFloat(1300, 1000), 1e-9)
	require.Equal(t, uint32(620), c.Rate(1300, 1000))
	c.Set(1000, 0, 1)
	require.Equal(t, 1.0, c.RateFloat(1900, 1000), "anti-flapping as Rate")
}

func TestZeroValuesCountOnSystemClock(t *testing.T) {
	var c freq.Counter
	var p freq.Period
	require.Equal(t, uint32(2), c.Add(2))
	require.Equal(t, uint32(freq.MinPeriod), p.PeriodMs())
	require.NotPanics(t, func() {
		p.Add(1)
		p.Rate()
		p.Remaining(1)
		p.NextEventDelay(1)
		p.Allow(1)
	})
	require.Equal(t, uint32(2), c.Rate())
}
