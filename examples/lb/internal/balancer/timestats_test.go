package balancer

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestTimeStatsAverage checks the time averages' arithmetic: exact
// (rounded up) while fewer samples than the window exist, then a decay
// by a 1/512 share per sample, so that a change of level shows 1-1/e of
// its size after 512 samples; the maximums keep the largest sample.
func TestTimeStatsAverage(t *testing.T) {
	var ts timeStats
	ms := time.Millisecond
	n := uint64(0)
	add := func(q, c, d, tt time.Duration) {
		n++
		ts.add(n, [4]time.Duration{q, c, d, tt})
	}
	assert.Equal(t, uint64(0), ts.avg(0, 0), "no sample")
	add(10*ms, 1*ms, 100*ms, 200*ms)
	add(20*ms, 2*ms, 101*ms, 300*ms)
	add(0, 0, 102*ms, 250*ms)
	assert.Equal(t, []uint64{10, 1, 101, 250}, []uint64{ts.avg(0, n), ts.avg(1, n), ts.avg(2, n), ts.avg(3, n)},
		"means of three, rounded up")
	assert.Equal(t, []uint32{20, 2, 102, 300}, []uint32{ts.max[0].Load(), ts.max[1].Load(), ts.max[2].Load(), ts.max[3].Load()})

	// Fill the window at a steady level: the average holds it.
	var steady timeStats
	for i := uint64(1); i <= 2000; i++ {
		steady.add(i, [4]time.Duration{100 * ms})
	}
	require.Equal(t, uint64(100), steady.avg(0, 2000))
	// A step down to 0: after a window's worth of samples, about 1/e of
	// the old level is left.
	for i := uint64(2001); i <= 2000+timeSamples; i++ {
		steady.add(i, [4]time.Duration{0})
	}
	left := float64(steady.avg(0, 2000+timeSamples))
	assert.InDelta(t, 100/math.E, left, 2, "decayed to 1/e")
	assert.Equal(t, uint32(100), steady.max[0].Load(), "the maximum stays")

	// Negative durations (a clock step) count as 0, never wrap.
	var neg timeStats
	neg.add(1, [4]time.Duration{-5 * ms, 0, 0, 0})
	assert.Equal(t, uint64(0), neg.avg(0, 1))
}

// TestTimeStatsClear checks clear counters on the times: the maximums
// restart, the averages stay; "all" clears both.
func TestTimeStatsClear(t *testing.T) {
	var c counters
	c.lbtot.Add(1)
	c.times.add(1, [4]time.Duration{4 * time.Millisecond, 0, 0, 9 * time.Millisecond})
	c.clearMax(false)
	assert.Equal(t, uint32(0), c.times.max[0].Load())
	assert.Equal(t, uint64(9), c.times.avg(3, c.samples(false, false)))
	c.clearMax(true)
	assert.Equal(t, uint64(0), c.times.avg(3, c.samples(false, false)))
}
