package freq_test

import (
	"testing"
	"time"

	"github.com/proxyblocks/proxyblocks/freq"
)

// Benchmarks of the library alone; the comparisons with other libraries
// live in the bench module.

func BenchmarkCtrUpdate(b *testing.B) {
	var c freq.Ctr
	for i := range b.N {
		c.Update(uint32(i>>12), 1000, 1)
	}
}

func BenchmarkCtrRate(b *testing.B) {
	var c freq.Ctr
	c.Set(0, 500, 900)
	var sink uint32
	for i := range b.N {
		sink += c.Rate(uint32(i&511), 1000)
	}
	_ = sink
}

func BenchmarkCounterAdd(b *testing.B) {
	c := freq.NewCounter(nil)
	for range b.N {
		c.Add(1)
	}
}

func BenchmarkCounterAddCoarse(b *testing.B) {
	clock := freq.NewCoarseClock(time.Millisecond)
	defer clock.Close()
	c := freq.NewCounter(clock)
	for range b.N {
		c.Add(1)
	}
}

func BenchmarkCounterRate(b *testing.B) {
	c := freq.NewCounter(nil)
	c.Add(10)
	var sink uint32
	for range b.N {
		sink += c.Rate()
	}
	_ = sink
}

func BenchmarkSystemClock(b *testing.B) {
	var sink uint32
	for range b.N {
		sink += freq.SystemClock.NowMs()
	}
	_ = sink
}

// BenchmarkCachedClock reads a CachedClock in a busy spell: one load
// (the first reads start the refresher).
func BenchmarkCachedClock(b *testing.B) {
	c := freq.NewCachedClock()
	defer c.Close()
	var sink uint32
	for b.Loop() {
		sink += c.NowMs()
	}
	_ = sink
}

// BenchmarkCachedClockParallel reads one CachedClock from every
// processor: reads share the date's cache line and write it only once
// per refresher look.
func BenchmarkCachedClockParallel(b *testing.B) {
	c := freq.NewCachedClock()
	defer c.Close()
	b.RunParallel(func(pb *testing.PB) {
		var sink uint32
		for pb.Next() {
			sink += c.NowMs()
		}
		_ = sink
	})
}

func BenchmarkSlidingAvgAdd(b *testing.B) {
	a := freq.NewSlidingAvg(512)
	for i := range b.N {
		a.Add(uint64(i & 1023))
	}
}
