package freq

import (
	"runtime"
	"sync/atomic"
)

// SlidingAvg is a sliding-window average of values such as response times
// or queue lengths, over a window of about n samples (HAProxy's swrate).
//
// It keeps a single sum, which holds about n samples' worth of values.
// Each new sample v replaces one average sample:
//
//	sum = sum - ceil(sum/n) + v
//
// and the average is ceil(sum/n). The effect is an exponential decay: a
// sample keeps a weight of (1-1/n)^k after k newer ones, 1/e after n. A
// power of two for n makes the divisions cheapest.
//
// While fewer than n samples were added, the sum simply accumulates and
// the average is the plain mean of the samples so far, so a new average
// does not start near zero and crawl up.
//
// All methods are safe for concurrent use, lock-free and allocation-free.
// The zero value is usable as an average over a window of one sample (the
// last value); call NewSlidingAvg for a wider window.
type SlidingAvg struct {
	sum  atomic.Uint64
	seen atomic.Uint32 // samples added, saturating at n
	n    uint32
}

// NewSlidingAvg returns an average over a window of n samples; n of 0 is
// taken as 1.
func NewSlidingAvg(n uint32) *SlidingAvg {
	return &SlidingAvg{n: max(n, 1)}
}

func (a *SlidingAvg) window() uint32 { return max(a.n, 1) }

// Window returns the window size n.
func (a *SlidingAvg) Window() uint32 { return a.window() }

// warm counts s more samples while the window is not yet full and returns
// how many of them still go to filling it.
func (a *SlidingAvg) warm(s, n uint32) uint32 {
	for {
		seen := a.seen.Load()
		if seen >= n {
			return 0
		}
		fill := min(s, n-seen)
		if a.seen.CompareAndSwap(seen, seen+fill) {
			return fill
		}
	}
}

// Add adds sample v and returns the new sum.
func (a *SlidingAvg) Add(v uint64) uint64 {
	n := a.window()
	if a.seen.Load() < n && a.warm(1, n) == 1 {
		return a.sum.Add(v)
	}
	for spins := 1; ; spins++ {
		old := a.sum.Load()
		next := old - (old+uint64(n)-1)/uint64(n) + v
		if a.sum.CompareAndSwap(old, next) {
			return next
		}
		if spins%spinsBeforeYield == 0 {
			runtime.Gosched()
		}
	}
}

// AddScaled adds s samples of value v at once and returns the new sum. A
// batch of n samples or more replaces the whole window.
func (a *SlidingAvg) AddScaled(v uint64, s uint32) uint64 {
	n := a.window()
	if a.seen.Load() < n {
		fill := a.warm(s, n)
		a.sum.Add(v * uint64(fill))
		s -= fill
	}
	s = min(s, n)
	if s == 0 {
		return a.sum.Load()
	}
	for spins := 1; ; spins++ {
		old := a.sum.Load()
		next := old + v*uint64(s) - (old*uint64(s)+uint64(n)-1)/uint64(n)
		if a.sum.CompareAndSwap(old, next) {
			return next
		}
		if spins%spinsBeforeYield == 0 {
			runtime.Gosched()
		}
	}
}

// Avg returns the average: ceil(sum/n), or the mean of the samples so far
// while fewer than n were added. It is 0 before the first sample.
func (a *SlidingAvg) Avg() uint64 {
	d := uint64(min(a.seen.Load(), a.window()))
	if d == 0 {
		return 0
	}
	return (a.sum.Load() + d - 1) / d
}

// Sum returns the raw sum, about n times the average once the window is
// full.
func (a *SlidingAvg) Sum() uint64 { return a.sum.Load() }

// Reset forgets every sample. It is not atomic with respect to concurrent
// Adds, which may survive the reset.
func (a *SlidingAvg) Reset() {
	a.seen.Store(0)
	a.sum.Store(0)
}
