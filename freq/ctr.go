package freq

import (
	"math"
	"runtime"
	"sync/atomic"
)

// Bounds of the period, in milliseconds, that counters accept. A period
// outside them is silently raised to MinPeriod or lowered to MaxPeriod:
// bit 0 of the period's start date is the rotation flag, so a period needs
// at least two ticks, and periods stay under 2^30 ms (12.4 days) so that
// dates compare by signed difference and the scaled totals fit in 64 bits.
const (
	MinPeriod = 2
	MaxPeriod = 1 << 30
)

// rotating is bit 0 of Ctr.tick: set while one goroutine moves the counter
// to a new period. Period starts are always even so the bit is free.
const rotating = 1

// LateWindow is how far, in milliseconds, a date may lag behind the start
// of a counter's current period and still count as a late event of that
// period (when the period is shorter; otherwise the period is the window).
// Such dates come from goroutines that read the clock a moment before
// another one rotated the counter. A date further back is taken as a date
// after the 2^32 ms wrap, so that a counter idle for up to about 49 days
// still rotates correctly on its next event.
const LateWindow = 1 << 16

// spinsBeforeYield is how many failed attempts a goroutine makes at
// reading or rotating a counter before it yields: the goroutine it waits
// for holds no lock the scheduler knows of and may have been preempted.
const spinsBeforeYield = 8

// Ctr is the raw state of a period counter: 12 bytes, zero value ready,
// meant to be embedded in other structures (stick-table entries store it
// inline). The period is not stored; every call passes it and all calls on
// one Ctr must pass the same one. The date is passed too, so a caller that
// already read its clock pays for no second read and no interface call.
//
// All methods are safe for concurrent use and never block each other:
// Update is one atomic add while the date stays inside the current period,
// and the goroutine that first sees the period over rotates the counter
// after claiming bit 0 of the period's start date with a compare-and-swap.
// Readers retry (without writing anything) only while a rotation is in
// progress or the values moved under them.
type Ctr struct {
	tick atomic.Uint32 // start date of the current period, even; bit 0 = rotating
	curr atomic.Uint32 // events counted in the current period
	prev atomic.Uint32 // events counted in the previous period
}

func clampPeriod(p uint32) uint32 { return min(max(p, MinPeriod), MaxPeriod) }

// Update counts inc events at date now and returns the number of events
// counted in the current period after adding them.
//
// When now has left the current period, the counter rotates: the current
// count becomes the previous one and inc is the first count of the new
// period; when two or more periods went by without an update, the previous
// count is zero and the new period starts at now. A caller whose clock is
// behind the one that already rotated the counter (by up to LateWindow or
// a period, whichever is longer) counts into the current period instead
// of rotating again.
func (c *Ctr) Update(now, period, inc uint32) uint32 {
	period = clampPeriod(period)
	if now-c.tick.Load()&^rotating < period {
		return c.curr.Add(inc)
	}
	return c.updateSlow(now, period, inc)
}

// updateSlow is the rare path of Update, kept out of line so that the fast
// path stays a handful of instructions.
func (c *Ctr) updateSlow(now, period, inc uint32) uint32 {
	var tick uint32
	for spins := 1; ; spins++ {
		tick = c.tick.Load()
		start := tick &^ rotating
		// Another goroutine rotated first, or this caller's clock lags:
		// either way the event belongs to the current period.
		if now-start < period || start-now <= max(period, LateWindow) {
			return c.curr.Add(inc)
		}
		if tick&rotating == 0 && c.tick.CompareAndSwap(tick, tick|rotating) {
			break
		}
		if spins%spinsBeforeYield == 0 {
			runtime.Gosched()
		}
	}
	// Writers still inside the old period only add to curr, so swapping
	// it loses none of their events: each lands in one period or the other.
	c.prev.Store(c.curr.Swap(inc))
	tick += period
	if now-tick >= period {
		// Two or more periods without an update: the last full period
		// saw no event.
		c.prev.Store(0)
		tick = now
	}
	c.tick.Store(tick &^ rotating)
	return inc
}

// load returns a consistent snapshot: the three values as they all were at
// one instant, outside any rotation.
func (c *Ctr) load() (tick, curr, prev uint32) {
	tick, curr, prev = c.tick.Load(), c.curr.Load(), c.prev.Load()
	if tick&rotating != 0 || c.tick.Load() != tick || c.curr.Load() != curr || c.prev.Load() != prev {
		return c.loadSlow()
	}
	return tick, curr, prev
}

// loadSlow retries load until the values hold still. rateAt and totalAt
// make load's first attempt themselves, so that a read is one call.
func (c *Ctr) loadSlow() (tick, curr, prev uint32) {
	for spins := 1; ; spins++ {
		if spins%spinsBeforeYield == 0 {
			runtime.Gosched()
		}
		tick, curr, prev = c.tick.Load(), c.curr.Load(), c.prev.Load()
		if tick&rotating == 0 && c.tick.Load() == tick && c.curr.Load() == curr && c.prev.Load() == prev {
			return tick, curr, prev
		}
	}
}

// rateAt is Rate with the period already clamped.
func (c *Ctr) rateAt(now, period uint32) uint32 {
	tick, curr, past := c.tick.Load(), c.curr.Load(), c.prev.Load()
	if tick&rotating != 0 || c.tick.Load() != tick || c.curr.Load() != curr || c.prev.Load() != past {
		tick, curr, past = c.loadSlow()
	}
	remain, curr, past := window(tick, curr, past, now, period)
	if curr == 0 && past <= 1 {
		// A rate of 0 or 1 event per period would otherwise flap between
		// 0 and 1 as the previous period's weight decays.
		return past
	}
	return sat32(uint64(curr) + divPeriod(uint64(past)*uint64(remain), period))
}

// totalAt is Total with the period already clamped.
func (c *Ctr) totalAt(now, period, pend uint32) uint64 {
	tick, curr, past := c.tick.Load(), c.curr.Load(), c.prev.Load()
	if tick&rotating != 0 || c.tick.Load() != tick || c.curr.Load() != curr || c.prev.Load() != past {
		tick, curr, past = c.loadSlow()
	}
	return total(tick, curr, past, now, period, pend)
}

// window returns, for date now, the time left in the current period
// (0..period) and the counts of the current and previous periods as seen
// from now: a period that is over but not yet rotated moves to prev, and
// counts older than one full period are gone.
func window(tick, curr, past, now, period uint32) (remain, c, p uint32) {
	r := int32(tick + period - now)
	switch {
	case r < 0:
		// The current period ended without a rotation.
		r += int32(period)
		if r >= 0 {
			return uint32(r), 0, curr
		}
		return 0, 0, 0
	case uint32(r) > period:
		// now is before the period's start: a reader whose clock lags the
		// writer that rotated. It sees the period as just begun rather than
		// weighing the previous period more than fully.
		return period, curr, past
	}
	return uint32(r), curr, past
}

// total is the number of events over the sliding period ending at now,
// plus pend, scaled by period: past*remain + (curr+pend)*period.
func total(tick, curr, past, now, period, pend uint32) uint64 {
	remain, curr, past := window(tick, curr, past, now, period)
	return uint64(past)*uint64(remain) + (uint64(curr)+uint64(pend))*uint64(period)
}

func sat32(v uint64) uint32 {
	if v > math.MaxUint32 {
		return math.MaxUint32
	}
	return uint32(v)
}

// divPeriod divides by the period, taking the common one-second period as
// a constant so the compiler turns that division into a multiply, several
// times cheaper than a 64-bit divide.
func divPeriod(x uint64, period uint32) uint64 {
	if period == second {
		return x / second
	}
	return x / uint64(period)
}

// remaining turns a total into Remaining's answer.
func remaining(total uint64, period, limit uint32) uint32 {
	avg := divPeriod(total, period)
	if avg >= uint64(limit) {
		return 0
	}
	return limit - uint32(avg)
}

// nextEventDelay turns a total into NextEventDelay's answer.
func nextEventDelay(total uint64, period, limit uint32) uint32 {
	lim := uint64(limit) * uint64(period)
	if total < lim {
		return 0
	}
	// Each event over the limit occupies period/limit ms of the window.
	return sat32(max((total-lim)/uint64(max(limit, 1)), 1))
}

// Rate returns the number of events over the sliding period ending at now:
// the current period's count plus the previous period's count weighted by
// the fraction of the current period still to run. A rate below 2 with no
// event yet in the current period reads as the previous count, so that it
// does not flap between 0 and 1.
func (c *Ctr) Rate(now, period uint32) uint32 {
	return c.rateAt(now, clampPeriod(period))
}

// RateFloat is Rate without rounding down: the events over the sliding
// period ending at now, as a fraction, with the same reading for rates
// below 2.
func (c *Ctr) RateFloat(now, period uint32) float64 {
	period = clampPeriod(period)
	tick, curr, past := c.load()
	remain, curr, past := window(tick, curr, past, now, period)
	if curr == 0 && past <= 1 {
		return float64(past)
	}
	return float64(uint64(past)*uint64(remain)+uint64(curr)*uint64(period)) / float64(period)
}

// Total returns past*remain + (curr+pend)*period at date now: the events
// over the sliding period ending at now plus pend, scaled by the period
// (divide by period for events per period). It keeps the precision that
// Rate rounds away.
func (c *Ctr) Total(now, period, pend uint32) uint64 {
	return c.totalAt(now, clampPeriod(period), pend)
}

// Remaining returns how many more events may happen at date now without
// the rate exceeding limit events per period, counting pend events already
// known to be on their way. It returns 0 once the limit is reached.
func (c *Ctr) Remaining(now, period, limit, pend uint32) uint32 {
	period = clampPeriod(period)
	return remaining(c.totalAt(now, period, pend), period, limit)
}

// NextEventDelay returns how many milliseconds to wait from date now before
// one more event fits under limit events per period, counting pend events
// already on their way: 0 when an event is allowed now, at least 1
// otherwise. A limit of 0 never allows an event.
//
// As in HAProxy the answer is an estimate, (total - limit*period) / limit
// with the total of Total: the caller waits that long and checks again.
// When the count sits exactly at the limit it answers the minimum, 1 ms.
func (c *Ctr) NextEventDelay(now, period, limit, pend uint32) uint32 {
	period = clampPeriod(period)
	return nextEventDelay(c.totalAt(now, period, pend), period, limit)
}

// Overshoot returns by how many events the current period's count exceeds
// a straight schedule of limit events per period, at date now: the count
// minus the events the schedule allows for the time elapsed since the
// period began. It returns 0 for an empty counter, when now is outside the
// current period, or when the count is on or under the schedule. Bandwidth
// limiters use it to pace transfers within a period.
func (c *Ctr) Overshoot(now, period, limit uint32) uint32 {
	period = clampPeriod(period)
	tick, curr, _ := c.load()
	if curr == 0 && tick == 0 {
		return 0
	}
	elapsed := int32(now - tick)
	if elapsed < 0 || uint32(elapsed) > period {
		return 0
	}
	allowed := uint64(elapsed) * uint64(limit) / uint64(period)
	if uint64(curr) <= allowed {
		return 0
	}
	return curr - uint32(allowed)
}

// Snapshot returns a consistent copy of the state: the start date of the
// current period (even), its count and the previous period's count, for
// serialisation (peers send the age now-tick rather than the date).
func (c *Ctr) Snapshot() (tick, curr, prev uint32) {
	return c.load()
}

// Set restores the state: the current period starts at now (rounded down
// to an even date) with curr events and the previous period had prev. It
// is safe against concurrent readers, which never see a mix of the old
// and new values; events added concurrently with Set may be lost, which is
// what a restore means.
func (c *Ctr) Set(now, curr, prev uint32) {
	for spins := 1; ; spins++ {
		tick := c.tick.Load()
		if tick&rotating == 0 && c.tick.CompareAndSwap(tick, tick|rotating) {
			break
		}
		if spins%spinsBeforeYield == 0 {
			runtime.Gosched()
		}
	}
	c.curr.Store(curr)
	c.prev.Store(prev)
	c.tick.Store(now &^ rotating)
}
