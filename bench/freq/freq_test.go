package freq

import (
	"math"
	"sync"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/proxyblocks/proxyblocks/freq"
)

// mutexCtr is the straightforward way to write the same counter: the
// same three fields and formulas, guarded by a mutex. It is the baseline
// that shows what the lock-free design buys.
type mutexCtr struct {
	mu               sync.Mutex
	tick, curr, prev uint32
}

func (m *mutexCtr) update(now, period, inc uint32) uint32 {
	m.mu.Lock()
	defer m.mu.Unlock()
	if d := now - m.tick; d >= period {
		if d >= 2*period {
			m.prev, m.tick = 0, now
		} else {
			m.prev, m.tick = m.curr, m.tick+period
		}
		m.curr = 0
	}
	m.curr += inc
	return m.curr
}

func (m *mutexCtr) total(now, period, pend uint32) uint64 {
	m.mu.Lock()
	tick, curr, past := m.tick, m.curr, m.prev
	m.mu.Unlock()
	remain := int64(int32(tick + period - now))
	if remain < 0 {
		remain += int64(period)
		if remain >= 0 {
			past = curr
		} else {
			past, remain = 0, 0
		}
		curr = 0
	}
	return uint64(past)*uint64(remain) + uint64(curr+pend)*uint64(period)
}

func (m *mutexCtr) rate(now, period uint32) uint32 {
	return uint32(m.total(now, period, 0) / uint64(period))
}

func (m *mutexCtr) allow(now, period, limit uint32) bool {
	if m.total(now, period, 0)/uint64(period) >= uint64(limit) {
		return false
	}
	m.update(now, period, 1)
	return true
}

const (
	period = 1000
	now    = 123456
	// limits high enough that every call is allowed: the benchmarks
	// measure the cost of the check and the count, not of refusals.
	bigLimit = math.MaxUint32 / 2
	bigBurst = 1 << 40
)

var sink uint32

func newLimiter() *rate.Limiter { return rate.NewLimiter(rate.Limit(1e15), bigBurst) }

// BenchmarkAdd counts one event.
func BenchmarkAdd(b *testing.B) {
	b.Run("freq.Ctr/date-passed", func(b *testing.B) {
		var c freq.Ctr
		for range b.N {
			c.Update(now, period, 1)
		}
	})
	b.Run("mutex/date-passed", func(b *testing.B) {
		var m mutexCtr
		for range b.N {
			m.update(now, period, 1)
		}
	})
	b.Run("freq.Counter/CoarseClock", func(b *testing.B) {
		clock := freq.NewCoarseClock(time.Millisecond)
		defer clock.Close()
		c := freq.NewCounter(clock)
		for range b.N {
			c.Add(1)
		}
	})
	b.Run("freq.Counter/SystemClock", func(b *testing.B) {
		c := freq.NewCounter(freq.SystemClock)
		for range b.N {
			c.Add(1)
		}
	})
}

// BenchmarkRead reads the rate (for x/time/rate: the tokens available).
func BenchmarkRead(b *testing.B) {
	b.Run("freq.Ctr/date-passed", func(b *testing.B) {
		var c freq.Ctr
		c.Set(now-300, 500, 900)
		for range b.N {
			sink += c.Rate(now, period)
		}
	})
	b.Run("mutex/date-passed", func(b *testing.B) {
		m := mutexCtr{tick: now - 300, curr: 500, prev: 900}
		for range b.N {
			sink += m.rate(now, period)
		}
	})
	b.Run("x-time-rate.TokensAt/date-passed", func(b *testing.B) {
		l := newLimiter()
		t := time.Now()
		for range b.N {
			sink += uint32(l.TokensAt(t))
		}
	})
	b.Run("freq.Counter/CoarseClock", func(b *testing.B) {
		clock := freq.NewCoarseClock(time.Millisecond)
		defer clock.Close()
		c := freq.NewCounter(clock)
		c.Add(500)
		for range b.N {
			sink += c.Rate()
		}
	})
	b.Run("freq.Counter/SystemClock", func(b *testing.B) {
		c := freq.NewCounter(freq.SystemClock)
		c.Add(500)
		for range b.N {
			sink += c.Rate()
		}
	})
}

// BenchmarkAllow checks a limit and counts the event: what a rate limiter
// does per request.
func BenchmarkAllow(b *testing.B) {
	b.Run("freq.Ctr/date-passed", func(b *testing.B) {
		var c freq.Ctr
		for range b.N {
			if c.Remaining(now, period, bigLimit, 0) > 0 {
				c.Update(now, period, 1)
			}
		}
	})
	b.Run("mutex/date-passed", func(b *testing.B) {
		var m mutexCtr
		for range b.N {
			m.allow(now, period, bigLimit)
		}
	})
	b.Run("x-time-rate.AllowN/date-passed", func(b *testing.B) {
		l := newLimiter()
		t := time.Now()
		for range b.N {
			l.AllowN(t, 1)
		}
	})
	b.Run("freq.Counter/CoarseClock", func(b *testing.B) {
		clock := freq.NewCoarseClock(time.Millisecond)
		defer clock.Close()
		c := freq.NewCounter(clock)
		for range b.N {
			c.Allow(bigLimit)
		}
	})
	b.Run("freq.Counter/SystemClock", func(b *testing.B) {
		c := freq.NewCounter(freq.SystemClock)
		for range b.N {
			c.Allow(bigLimit)
		}
	})
	b.Run("x-time-rate.Allow", func(b *testing.B) {
		l := newLimiter()
		for range b.N {
			l.Allow()
		}
	})
}

// The same jobs from all Ps at once on one shared counter or limiter.

func BenchmarkAddParallel(b *testing.B) {
	b.Run("freq.Ctr/date-passed", func(b *testing.B) {
		var c freq.Ctr
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				c.Update(now, period, 1)
			}
		})
	})
	b.Run("mutex/date-passed", func(b *testing.B) {
		var m mutexCtr
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				m.update(now, period, 1)
			}
		})
	})
	b.Run("freq.Counter/CoarseClock", func(b *testing.B) {
		clock := freq.NewCoarseClock(time.Millisecond)
		defer clock.Close()
		c := freq.NewCounter(clock)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				c.Add(1)
			}
		})
	})
}

func BenchmarkReadParallel(b *testing.B) {
	b.Run("freq.Ctr/date-passed", func(b *testing.B) {
		var c freq.Ctr
		c.Set(now-300, 500, 900)
		b.RunParallel(func(pb *testing.PB) {
			var s uint32
			for pb.Next() {
				s += c.Rate(now, period)
			}
			_ = s
		})
	})
	b.Run("mutex/date-passed", func(b *testing.B) {
		m := mutexCtr{tick: now - 300, curr: 500, prev: 900}
		b.RunParallel(func(pb *testing.PB) {
			var s uint32
			for pb.Next() {
				s += m.rate(now, period)
			}
			_ = s
		})
	})
	b.Run("x-time-rate.TokensAt/date-passed", func(b *testing.B) {
		l := newLimiter()
		t := time.Now()
		b.RunParallel(func(pb *testing.PB) {
			var s uint32
			for pb.Next() {
				s += uint32(l.TokensAt(t))
			}
			_ = s
		})
	})
}

func BenchmarkAllowParallel(b *testing.B) {
	b.Run("freq.Ctr/date-passed", func(b *testing.B) {
		var c freq.Ctr
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if c.Remaining(now, period, bigLimit, 0) > 0 {
					c.Update(now, period, 1)
				}
			}
		})
	})
	b.Run("mutex/date-passed", func(b *testing.B) {
		var m mutexCtr
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				m.allow(now, period, bigLimit)
			}
		})
	})
	b.Run("x-time-rate.AllowN/date-passed", func(b *testing.B) {
		l := newLimiter()
		t := time.Now()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				l.AllowN(t, 1)
			}
		})
	})
	b.Run("freq.Counter/CoarseClock", func(b *testing.B) {
		clock := freq.NewCoarseClock(time.Millisecond)
		defer clock.Close()
		c := freq.NewCounter(clock)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				c.Allow(bigLimit)
			}
		})
	})
	b.Run("x-time-rate.Allow", func(b *testing.B) {
		l := newLimiter()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				l.Allow()
			}
		})
	})
}

// TestBaselinesAgree (plain testing: this module's go.sum carries no
// testify dependencies) keeps the baselines honest: the mutex counter gives
// the same answers as freq.Ctr, and the limiter allows what it is asked.
func TestBaselinesAgree(t *testing.T) {
	var c freq.Ctr
	var m mutexCtr
	c.Set(1000, 0, 0)
	m.tick = 1000
	for d := uint32(1000); d < 5000; d += 37 {
		if got, want := c.Update(d, period, 3), m.update(d, period, 3); got != want {
			t.Fatalf("update at %d: freq.Ctr %d, mutex %d", d, got, want)
		}
		if got, want := c.Rate(d+5, period), m.rate(d+5, period); got != want {
			t.Fatalf("rate at %d: freq.Ctr %d, mutex %d", d+5, got, want)
		}
	}
	if !newLimiter().Allow() {
		t.Fatal("limiter refused under a huge limit")
	}
}
